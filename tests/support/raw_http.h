// A raw-socket HTTP client for requests no HTTP library would send.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace agni::testing {

// What came back on one raw TCP connection.
struct RawReply {
  std::string bytes;    // everything the server sent
  bool closed = false;  // the server closed the connection (EOF or reset)
  // Status codes of every HTTP response found in `bytes`, in order.
  std::vector<int> statuses() const;
  int status() const;  // the first status, or 0 when nothing came back
  // Header values of the first response (names compared case-insensitively).
  std::vector<std::string> Header(const std::string& name) const;
};

// Connects to 127.0.0.1:port, writes `request` (stopping quietly when the
// server closes early) and reads until the server closes the connection or
// `deadline` passes. With `wait_for_close` false it returns as soon as one
// complete response has arrived (keep-alive connections stay open).
RawReply RawExchange(
    int port, const std::string& request, bool wait_for_close = false,
    std::chrono::milliseconds deadline = std::chrono::milliseconds(15000));

// RawExchange over TLS: verifies the server against `ca_file`, writes
// `request` with one SSL_write (one TLS record when under 16 KiB), and reads
// until the server closes the connection or `deadline` passes.
RawReply RawTlsExchange(
    int port, const std::string& ca_file, const std::string& request,
    std::chrono::milliseconds deadline = std::chrono::milliseconds(15000));

// A TCP listener on 127.0.0.1 (OS-chosen port) whose own thread hands each
// connection, one at a time, to `serve` and closes it afterwards; stopped and
// joined with the object. For upstreams that speak no HTTP library's
// language. port() is thread-safe.
class LoopbackListener {
 public:
  explicit LoopbackListener(std::function<void(int fd)> serve);
  ~LoopbackListener();
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;

  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace agni::testing
