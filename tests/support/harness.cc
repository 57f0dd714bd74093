#include "tests/support/harness.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "base/crypto.h"
#include "tests/support/config_builder.h"

namespace agni::testing {
namespace {

std::string ConfigErrorsText(const ConfigErrors& errors) {
  std::string all;
  for (const auto& e : errors) all += e.path + ": " + e.message + "\n";
  return all;
}

}  // namespace

UserGroups DefaultCast() {
  return {{"alice", {"support"}},
          {"olga", {"telecom-ops"}},
          {"mallory", {"contractors"}}};
}

UserGroups ApprovalCast() {
  return {{"alice", {"support"}},
          {"bob", {"support"}},
          {"olga", {"telecom-ops"}},
          {"oscar", {"telecom-ops"}},
          {"otto", {"telecom-ops", "support"}},
          {"nina", {"net-ops"}},
          {"carol", {"compliance"}},
          {"mallory", {"contractors"}}};
}

GatewayHarness::Options GatewayHarness::ForApprovals(
    std::string upstream_base_url) {
  Options o;
  o.upstream_base_url = std::move(upstream_base_url);
  o.policy_json = kApprovalPolicy;
  o.read_timeout = "5s";
  o.audit_busy_timeout = "";
  o.users = ApprovalCast();
  return o;
}

GatewayHarness::GatewayHarness(Options options) : options_(std::move(options)) {
  for (const UserGroups* cast : {&options_.users, &options_.extra_users}) {
    for (const auto& [name, groups] : *cast) {
      users_.push_back({name, groups, NewToken()});
    }
  }
  WriteConfig(options_.policy_json);
  Start();
}

GatewayHarness::~GatewayHarness() { Stop(); }

void GatewayHarness::WriteConfig(const std::string& policy_json) {
  GatewayConfig config{.upstream_base_url = options_.upstream_base_url,
                       .users = users_,
                       .policy_json = policy_json,
                       .inventory_json = options_.inventory_json};
  config.patch = {{"upstream", {{"read_timeout", options_.read_timeout}}},
                  {"server", {{"threads", 16}}}};
  if (!options_.ca_file.empty()) {
    config.patch["upstream"]["ca_file"] = options_.ca_file;
  }
  if (!options_.audit_busy_timeout.empty()) {
    config.patch["audit"] = {{"busy_timeout", options_.audit_busy_timeout}};
  }
  if (!options_.approvals_config.is_null()) {
    config.patch["approvals"] = options_.approvals_config;
  }
  config.WriteTo(dir_);
  // After the builder's own patch, so that a test's null removes a key.
  nlohmann::json document = config.Document();
  document.merge_patch(options_.extra_config);
  dir_.Write("gateway.json", document.dump(2));
}

void GatewayHarness::Start() {
  ConfigLoad load = LoadConfig(dir_.File("gateway.json"));
  if (!load.errors.empty()) {
    throw std::runtime_error("test config invalid:\n" +
                             ConfigErrorsText(load.errors));
  }
  BuildResult built = Build(std::move(*load.config), options_.api_key, log_,
                            {.clock = options_.clock});
  if (!built.gateway) throw std::runtime_error(built.error);
  if (std::string error = built.gateway->Start(); !error.empty()) {
    throw std::runtime_error(error);
  }
  gateway_ = std::move(built.gateway);
  WarmUpHttpClient(gateway_->admin_port());
}

void GatewayHarness::Stop() { gateway_.reset(); }

void GatewayHarness::Reload(const UserGroups& groups_by_user,
                            const std::string& policy_json) {
  for (const auto& [name, groups] : groups_by_user) {
    for (TestUser& u : users_) {
      if (u.name == name) u.groups = groups;
    }
  }
  WriteConfig(policy_json);
  ConfigLoad load = LoadConfig(dir_.File("gateway.json"));
  if (!load.errors.empty()) {
    throw std::runtime_error("reloaded config invalid:\n" +
                             ConfigErrorsText(load.errors));
  }
  gateway_->Reload(load);
}

void GatewayHarness::RemoveUser(const std::string& name) {
  std::erase_if(users_, [&](const TestUser& u) { return u.name == name; });
}

const TestUser& GatewayHarness::User(const std::string& name) const {
  for (const TestUser& u : users_) {
    if (u.name == name) return u;
  }
  throw std::runtime_error("no test user " + name);
}

httplib::Client GatewayHarness::Client() const {
  httplib::Client c("127.0.0.1", gateway_->port());
  c.set_read_timeout(10, 0);
  c.set_tcp_nodelay(true);
  return c;
}

httplib::Client GatewayHarness::AdminClient() const {
  httplib::Client c("127.0.0.1", gateway_->admin_port());
  c.set_read_timeout(5, 0);
  return c;
}

std::vector<nlohmann::json> GatewayHarness::AuditRows() const {
  return ReadAuditRows(audit_path());
}

std::string GatewayHarness::Metrics() const {
  auto res = AdminClient().Get("/metrics");
  return res ? res->body : "";
}

void ExpectFailedRelease(const GatewayHarness& gw,
                         const std::string& number_in_path, int status,
                         const std::string& reason, nlohmann::json& outcome) {
  auto res =
      gw.Client().Delete(ReleasePath(number_in_path), Bearer(gw.alice().token));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, status);
  EXPECT_EQ(nlohmann::json::parse(res->body, nullptr, false)["reason"], reason);
  const auto rows = gw.AuditRows();
  ASSERT_EQ(rows.size(), 2u);
  outcome = rows[1];
}

}  // namespace agni::testing
