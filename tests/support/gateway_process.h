// The real agni-gateway binary as a child process (serve --config ...), in front
// of an in-process FakeUpstream, plus a raw-socket client for requests no HTTP
// library would send. Used by the hostile-HTTP and secret-leak tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/test_support.h"

namespace agni::testing {

// Recognisable secrets: if any of these (or a token's SHA-256) shows up in a
// response, log line, metric or audit row, a leak test fails.
inline constexpr const char* kLeakApiKey = "LEAKCANARY-apikey-7Hq2Zx91vQ";

class GatewayProcess {
 public:
  struct Options {
    std::string upstream_base_url;  // required
    std::string ca_file;
    std::string read_timeout = "2s";         // server.read_timeout
    std::string upstream_read_timeout = "2s";
    std::string keep_alive_timeout = "2s";
    std::string api_key = kLeakApiKey;
    std::vector<std::string> extra_env;  // "NAME=value" for the child
    nlohmann::json listen_tls;           // the config's "tls" section, if set
  };

  explicit GatewayProcess(Options options);
  ~GatewayProcess();  // SIGKILL if still running

  int port() const { return port_; }
  int admin_port() const { return admin_port_; }
  const TestUser& alice() const { return users_[0]; }  // support
  const TestUser& olga() const { return users_[1]; }   // telecom-ops
  const std::vector<TestUser>& users() const { return users_; }

  bool Running();            // the process has not exited
  bool Live();               // running and /livez answers 200
  // SIGTERM and wait (bounded); the exit status, or nullopt when it hung.
  std::optional<int> Stop();
  std::string Log() const;   // everything the process wrote to stderr/stdout
  std::vector<nlohmann::json> AuditRows() const;
  std::string AuditDbBytes() const;  // the raw database file(s): db + wal
  std::string Metrics() const;
  std::string dir() const { return dir_.path().string(); }

 private:
  TempDir dir_;
  std::vector<TestUser> users_;
  std::string audit_path_;
  pid_t pid_ = -1;
  int port_ = 0;
  int admin_port_ = 0;
};

// What came back on one raw TCP connection.
struct RawReply {
  std::string bytes;      // everything the server sent
  bool closed = false;    // the server closed the connection (EOF or reset)
  // Status codes of every HTTP response found in `bytes`, in order.
  std::vector<int> statuses() const;
  int status() const;     // the first status, or 0 when nothing came back
  // Header values of the first response (names compared case-insensitively).
  std::vector<std::string> Header(const std::string& name) const;
};

// Connects to 127.0.0.1:port, writes `request` (stopping quietly when the
// server closes early) and reads until the server closes the connection or
// `deadline` passes. With `wait_for_close` false it returns as soon as one
// complete response has arrived (keep-alive connections stay open).
RawReply RawExchange(int port, const std::string& request,
                     bool wait_for_close = false,
                     std::chrono::milliseconds deadline =
                         std::chrono::milliseconds(15000));

}  // namespace agni::testing
