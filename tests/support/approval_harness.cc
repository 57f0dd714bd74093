#include "tests/support/approval_harness.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <stdexcept>

#include "base/crypto.h"

namespace agni::testing {

ApprovalHarness::ApprovalHarness(Options options)
    : options_(std::move(options)) {
  users_ = {{"alice", {"support"}, NewToken()},
            {"bob", {"support"}, NewToken()},
            {"olga", {"telecom-ops"}, NewToken()},
            {"oscar", {"telecom-ops"}, NewToken()},
            {"otto", {"telecom-ops", "support"}, NewToken()},
            {"nina", {"net-ops"}, NewToken()},
            {"carol", {"compliance"}, NewToken()},
            {"mallory", {"contractors"}, NewToken()}};
  WriteConfig(options_.policy_json);
  Start();
}

ApprovalHarness::~ApprovalHarness() { Stop(); }

void ApprovalHarness::WriteConfig(const std::string& policy_json) {
  nlohmann::json users = nlohmann::json::array();
  for (const TestUser& u : users_) {
    users.push_back({{"name", u.name},
                     {"groups", u.groups},
                     {"token_sha256", Sha256Hex(u.token)}});
  }
  nlohmann::json config = {
      {"listen", "127.0.0.1:0"},
      {"admin_listen", "127.0.0.1:0"},
      {"upstream",
       {{"base_url", options_.upstream_base_url},
        {"allow_plain_http", true},
        {"read_timeout", "5s"},
        {"connect_timeout", "1s"}}},
      {"server", {{"threads", 16}}},
      {"audit", {{"path", "audit.db"}}},
      {"users", users},
      {"auditors", {"compliance"}},
      {"policy_file", "policy.json"}};
  if (!options_.approvals_config.is_null()) {
    config["approvals"] = options_.approvals_config;
  }
  config.merge_patch(options_.extra_config);
  dir_.Write("gateway.json", config.dump(2));
  dir_.Write("policy.json", policy_json);
}

void ApprovalHarness::Start() {
  ConfigLoad load = LoadConfig(dir_.File("gateway.json"));
  if (!load.errors.empty()) {
    std::string all;
    for (const auto& e : load.errors) all += e.path + ": " + e.message + "\n";
    throw std::runtime_error("test config invalid:\n" + all);
  }
  config_ = std::move(*load.config);
  metrics_ = std::make_unique<agni::Metrics>();
  store_ = std::make_unique<audit::AuditStore>(
      audit::StoreOptions{config_.audit.path, config_.audit.busy_timeout,
                          config_.audit.max_queue, config_.audit.max_batch},
      metrics_.get(), [this] { return now_us_.load(); });
  upstream_ = std::make_unique<HttpUpstream>(config_.upstream, kApiKey);
  pipeline_ = std::make_unique<RequestPipeline>(
      std::make_shared<const AccessSnapshot>(config_), *store_, *upstream_,
      *metrics_, log_);
  approval_store_ =
      std::make_unique<audit::SqliteApprovalStore>(config_.approvals.path);
  if (!config_.approvals.webhook.url.empty()) {
    webhook_ = std::make_unique<WebhookNotifier>(config_.approvals.webhook,
                                                 *metrics_, log_);
  }
  approvals_ = std::make_unique<ApprovalsGateway>(
      *approval_store_, *store_, *metrics_, webhook_.get(), log_,
      [this] { return now_us_.load(); });
  pipeline_->SetApprovals(approvals_.get());
  pipeline_->SetMaxInFlight(config_.upstream.max_in_flight);
  server_ = std::make_unique<GatewayServer>(config_, *pipeline_, *metrics_,
                                            *store_, log_);
  if (std::string error = server_->Start(); !error.empty()) {
    throw std::runtime_error(error);
  }
  WarmUpHttpClient(server_->admin_port());
}

void ApprovalHarness::Stop() {
  if (!server_) return;
  server_->Stop();
  store_->Close();
  server_.reset();
  approvals_.reset();
  webhook_.reset();
  approval_store_.reset();
  pipeline_.reset();
  upstream_.reset();
  store_.reset();
}

void ApprovalHarness::Reload(
    const std::vector<std::pair<std::string, std::vector<std::string>>>&
        groups_by_user,
    const std::string& policy_json) {
  for (const auto& [name, groups] : groups_by_user) {
    for (TestUser& u : users_) {
      if (u.name == name) u.groups = groups;
    }
  }
  WriteConfig(policy_json);
  ConfigLoad load = LoadConfig(dir_.File("gateway.json"));
  if (!load.errors.empty()) {
    std::string all;
    for (const auto& e : load.errors) all += e.path + ": " + e.message + "\n";
    throw std::runtime_error("reloaded config invalid:\n" + all);
  }
  pipeline_->ReplaceAccess(std::make_shared<const AccessSnapshot>(*load.config));
}

httplib::Client ApprovalHarness::Client() const {
  httplib::Client c("127.0.0.1", server_->port());
  c.set_read_timeout(10, 0);
  return c;
}

const TestUser& ApprovalHarness::user(const std::string& name) const {
  for (const TestUser& u : users_) {
    if (u.name == name) return u;
  }
  throw std::runtime_error("no test user " + name);
}

std::vector<nlohmann::json> ApprovalHarness::AuditRows() const {
  return ReadAuditRows(config_.audit.path);
}

std::string ApprovalHarness::Metrics() const {
  httplib::Client c("127.0.0.1", server_->admin_port());
  c.set_read_timeout(5, 0);
  auto res = c.Get("/metrics");
  return res ? res->body : "";
}

}  // namespace agni::testing
