// Test doubles shared by the test executables: a temp folder, a fake
// upstream, the test users' shape and readers of metrics and audit rows.
// The in-process gateway is tests/support/harness.h.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "audit/store.h"
#include "gateway/config/config.h"
#include "gateway/ops/log.h"
#include "gateway/ops/metrics.h"

namespace agni::testing {

// A fresh directory, removed with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const {
    return (path_ / name).string();
  }
  void Write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

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
  void SetReply(Reply reply);
  std::vector<ReceivedRequest> Received() const;
  std::size_t DistinctConnections() const;

 private:
  void Start();

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::size_t threads_ = 16;
  mutable std::mutex mu_;
  Reply reply_;
  std::vector<ReceivedRequest> received_;
};

inline constexpr const char* kApiKey = "test-upstream-key-5f1d2c9a";

struct TestUser {
  std::string name;
  std::vector<std::string> groups;
  std::string token;  // the secret the client sends
};

// The value of one sample line in a Prometheus text exposition ("name{...}"),
// or nullopt when absent.
std::optional<double> MetricValue(const std::string& exposition,
                                  const std::string& series);

std::string ReleasePath(const std::string& number_in_path);

// Every audit record of the database at `path`, in seq order, as JSON objects
// keyed by column name (NULL columns left out).
std::vector<nlohmann::json> ReadAuditRows(const std::string& path);

// One client round trip on the calling thread, so cpp-httplib's lazily built
// statics exist before a test spawns threads (see test_support.cc).
void WarmUpHttpClient(int admin_port);

}  // namespace agni::testing
