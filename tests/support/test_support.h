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
#include "tests/support/config_builder.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/helpers.h"
#include "tests/support/temp_dir.h"

namespace agni::testing {

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

}  // namespace agni::testing
