#include "tests/support/test_support.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sys/socket.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "base/crypto.h"

namespace agni::testing {
namespace fs = std::filesystem;

GatewayHarness::GatewayHarness(Options options) {
  users_ = {{"alice", {"support"}, NewToken()},
            {"olga", {"telecom-ops"}, NewToken()},
            {"mallory", {"contractors"}, NewToken()}};
  for (const auto& [name, groups] : options.extra_users) {
    users_.push_back({name, groups, NewToken()});
  }
  nlohmann::json users = nlohmann::json::array();
  for (const TestUser& u : users_) {
    users.push_back({{"name", u.name},
                     {"groups", u.groups},
                     {"token_sha256", Sha256Hex(u.token)}});
  }
  nlohmann::json upstream = {{"base_url", options.upstream_base_url},
                             {"read_timeout", options.read_timeout},
                             {"connect_timeout", "1s"}};
  if (options.upstream_base_url.starts_with("http://")) {
    upstream["allow_plain_http"] = true;
  }
  if (!options.ca_file.empty()) upstream["ca_file"] = options.ca_file;
  nlohmann::json config = {
      {"listen", "127.0.0.1:0"},
      {"admin_listen", "127.0.0.1:0"},
      {"upstream", upstream},
      {"server", {{"threads", 16}}},
      {"audit",
       {{"path", "audit.db"}, {"busy_timeout", options.audit_busy_timeout}}},
      {"users", users},
      {"auditors", {"compliance"}},
      {"policy_file", "policy.json"}};
  if (!options.inventory_json.empty()) {
    config["inventory_file"] = "numbers.json";
    dir_.Write("numbers.json", options.inventory_json);
  }
  config.update(options.extra_config);
  dir_.Write("gateway.json", config.dump(2));
  dir_.Write("policy.json", options.policy_json);
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
      metrics_.get());
  upstream_ = std::make_unique<HttpUpstream>(config_.upstream, kApiKey);
  pipeline_ = std::make_unique<RequestPipeline>(
      std::make_shared<const AccessSnapshot>(config_), *store_, *upstream_,
      *metrics_, log_);
  pipeline_->SetMaxInFlight(config_.upstream.max_in_flight);
  const AuditRejectionsConfig& rc = config_.audit.rejections;
  rejections_ = std::make_unique<RejectionLedger>(
      RejectionLedgerOptions{rc.burst, rc.window, rc.max_individual,
                             rc.max_keys},
      *store_, metrics_.get(), log_);
  pipeline_->SetRejectionLedger(rejections_.get());
  rejections_->Start();
  server_ = std::make_unique<GatewayServer>(config_, *pipeline_, *metrics_,
                                            *store_, log_);
  if (std::string error = server_->Start(); !error.empty()) {
    throw std::runtime_error(error);
  }
  WarmUpHttpClient(server_->admin_port());
}

GatewayHarness::~GatewayHarness() {
  server_->Stop();
  rejections_->Stop();
  store_->Close();
}

const TestUser& GatewayHarness::User(const std::string& name) const {
  for (const TestUser& u : users_) {
    if (u.name == name) return u;
  }
  throw std::runtime_error("no test user " + name);
}

httplib::Client GatewayHarness::Client() const {
  httplib::Client c("127.0.0.1", server_->port());
  c.set_read_timeout(10, 0);
  c.set_tcp_nodelay(true);
  return c;
}

httplib::Client GatewayHarness::AdminClient() const {
  httplib::Client c("127.0.0.1", server_->admin_port());
  c.set_read_timeout(5, 0);
  return c;
}

std::vector<nlohmann::json> GatewayHarness::AuditRows() const {
  return ReadAuditRows(config_.audit.path);
}

std::string GatewayHarness::Metrics() const {
  auto res = AdminClient().Get("/metrics");
  return res ? res->body : "";
}

}  // namespace agni::testing
