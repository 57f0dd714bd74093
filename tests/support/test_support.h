// Test doubles and a harness that runs the real gateway servers on port 0
// against an in-process fake upstream.
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
#include "gateway/pipeline/pipeline.h"
#include "gateway/pipeline/rejection_ledger.h"
#include "gateway/http/server.h"
#include "gateway/upstream/http_upstream.h"

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

// Writes a config + policy into a temp dir, loads it with LoadConfig, and runs
// the real object graph (audit store, upstream client, pipeline, servers).
class GatewayHarness {
 public:
  struct Options {
    std::string upstream_base_url;  // required
    std::string policy_json =
        R"({"rules":[)"
        R"({"id":"never-emergency","effect":"deny","numbers":["+1911*"]},)"
        R"({"id":"support-sandbox","effect":"allow","groups":["support"],"numbers":["+1555*"]},)"
        R"({"id":"ops-anything","effect":"allow","groups":["telecom-ops"]}]})";
    std::string read_timeout = "2s";
    std::string ca_file;
    std::string audit_busy_timeout = "200ms";
    // Policy language: the inventory file (empty: none), more users
    // (name, groups), and keys merged into gateway.json.
    std::string inventory_json;
    std::vector<std::pair<std::string, std::vector<std::string>>> extra_users;
    nlohmann::json extra_config = nlohmann::json::object();
  };

  explicit GatewayHarness(Options options);
  ~GatewayHarness();

  httplib::Client Client() const;
  httplib::Client AdminClient() const;
  int port() const { return server_->port(); }
  int admin_port() const { return server_->admin_port(); }
  const TestUser& alice() const { return users_[0]; }   // support
  const TestUser& olga() const { return users_[1]; }    // telecom-ops
  const TestUser& mallory() const { return users_[2]; } // contractors
  std::string audit_path() const { return config_.audit.path; }
  // Every audit record, in seq order, as JSON objects keyed by column name.
  std::vector<nlohmann::json> AuditRows() const;
  std::string Metrics() const;
  const Config& config() const { return config_; }
  const TestUser& User(const std::string& name) const;
  RequestPipeline& pipeline() { return *pipeline_; }
  RejectionLedger& rejections() { return *rejections_; }

 private:
  TempDir dir_;
  std::vector<TestUser> users_;
  Config config_;
  Logger log_{LogLevel::kError};
  std::unique_ptr<agni::Metrics> metrics_;
  std::unique_ptr<audit::AuditStore> store_;
  std::unique_ptr<HttpUpstream> upstream_;
  std::unique_ptr<RequestPipeline> pipeline_;
  std::unique_ptr<RejectionLedger> rejections_;
  std::unique_ptr<GatewayServer> server_;
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
