// An in-process stand-in for the upstream release API.
#pragma once

#include <httplib.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace agni::testing {

// What the fake upstream received.
struct ReceivedRequest {
  std::string method;
  std::string target;  // raw, as sent on the wire
  httplib::Headers headers;
  std::string body;
  int remote_port = 0;
};

// An Agni API stand-in on 127.0.0.1 that records every request. Plain HTTP,
// or HTTPS when given a certificate and key. Thread-safe.
class FakeUpstream {
 public:
  struct Reply {
    int status = 200;
    std::string body =
        R"({"success":true,"message":"Phone number released","data":{"phone_number":"+15550000000","status":"released","released_at":"2026-01-01T00:00:00Z"}})";
    std::string content_type = "application/json";
    std::chrono::milliseconds delay{0};
    bool echo_headers = false;  // body becomes the request headers as JSON
  };

  FakeUpstream();
  // Serving up to `threads` requests at once (16 by default).
  explicit FakeUpstream(std::size_t threads);
  FakeUpstream(const std::string& cert_file, const std::string& key_file);
  ~FakeUpstream();

  int port() const { return port_; }
  // "http://127.0.0.1:PORT" (or https), the gateway's upstream base_url.
  std::string url() const;
  void SetReply(Reply reply);
  std::vector<ReceivedRequest> Received() const;
  std::size_t DistinctConnections() const;

 private:
  void Start();

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::size_t threads_ = 16;
  bool tls_ = false;
  mutable std::mutex mu_;
  Reply reply_;
  std::vector<ReceivedRequest> received_;
};

}  // namespace agni::testing
