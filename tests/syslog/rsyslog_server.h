// A real rsyslogd (Debian rsyslog + rsyslog-gnutls) for the syslog sink's
// tests: its own config in its own folder, imtcp with the gtls driver
// (TLS only, RFC 5425 octet-counted frames), each message written raw as one
// line of a file. Started as a child process, never the system's rsyslog.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace agni::testing {

// Not thread-safe.
class RsyslogServer {
 public:
  struct Options {
    std::string cert_file;  // the server's certificate and key
    std::string key_file;
    std::string ca_file;  // checks client certificates (x509/certvalid)
    // imtcp StreamDriver.AuthMode: "anon" (no client certificate) or
    // "x509/certvalid" (a client certificate from ca_file required).
    std::string auth_mode = "anon";
  };
  // Picks a free port and starts; throws if rsyslogd does not listen.
  explicit RsyslogServer(Options options);
  ~RsyslogServer();

  void Start();  // again on the same port, after Stop()
  void Stop();   // SIGTERM and wait: a clean restart of the peer
  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:PORT"

  // The messages received so far (RFC 5424 text, the frame removed).
  std::vector<std::string> Messages() const;
  std::string Log() const;  // what rsyslogd printed
  // The file rsyslogd writes the messages into, one per line.
  std::string received_file() const { return dir_.File("received.log"); }

 private:
  Options options_;
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

// The seq="N" of a message's agni@32473 structured data, or nullopt.
std::optional<std::int64_t> MessageSeq(const std::string& message);
// The MSG part (after the structured data) of a message.
std::string MessageBody(const std::string& message);
// How many messages carry each seq.
std::map<std::int64_t, int> SeqCounts(const std::vector<std::string>& messages);

}  // namespace agni::testing
