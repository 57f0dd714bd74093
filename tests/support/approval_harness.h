// A gateway with the approval workflow wired in, a fake clock, a fixed cast of
// users, and the ability to stop and start again on the same files (restart)
// or swap users and policy (reload), as the real binary would.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "audit/approval_store.h"
#include "gateway/approvals/approval_webhook.h"
#include "gateway/approvals/approvals_api.h"
#include "tests/support/test_support.h"

namespace agni::testing {

// Two support users who request, three telecom-ops approvers, one net-ops
// approver, an auditor and an outsider.
inline constexpr const char* kApprovalPolicy = R"({"rules":[
  {"id":"never-emergency","effect":"deny","numbers":["+1911*"]},
  {"id":"prod-needs-two","effect":"require_approval","groups":["support"],
   "numbers":["+1415*"],
   "approval":{"approvals":2,"from_groups":["telecom-ops"],"ttl":"24h",
               "execute_within":"1h"}},
  {"id":"sales-needs-netops","effect":"require_approval","groups":["support"],
   "numbers":["+1415555*"],
   "approval":{"approvals":1,"from_groups":["net-ops"],"ttl":"2h",
               "execute_within":"30m"}},
  {"id":"support-prod","effect":"allow","groups":["support"],"numbers":["+1415*"]},
  {"id":"support-sandbox","effect":"allow","groups":["support"],"numbers":["+1555*"]},
  {"id":"netops-anything","effect":"allow","groups":["net-ops"]}
]})";

class ApprovalHarness {
 public:
  struct Options {
    std::string upstream_base_url;
    std::string policy_json = kApprovalPolicy;
    nlohmann::json approvals_config;  // the "approvals" block, or null
    // Merged into gateway.json (JSON merge patch), e.g. server limits.
    nlohmann::json extra_config = nlohmann::json::object();
  };
  explicit ApprovalHarness(Options options);
  ~ApprovalHarness();

  void Start();
  void Stop();
  // Rewrites users (name -> groups) and/or policy, then reloads like SIGHUP.
  void Reload(const std::vector<std::pair<std::string, std::vector<std::string>>>&
                  groups_by_user,
              const std::string& policy_json);

  httplib::Client Client() const;
  const TestUser& user(const std::string& name) const;
  std::vector<nlohmann::json> AuditRows() const;
  std::string Metrics() const;
  void Advance(std::chrono::milliseconds d) { now_us_ += d.count() * 1000; }
  std::int64_t now_us() const { return now_us_; }
  const TempDir& dir() const { return dir_; }
  int admin_port() const { return server_->admin_port(); }

 private:
  void WriteConfig(const std::string& policy_json);

  Options options_;
  TempDir dir_;
  std::vector<TestUser> users_;
  std::atomic<std::int64_t> now_us_{1'800'000'000'000'000};
  Logger log_{LogLevel::kError};
  Config config_;
  std::unique_ptr<agni::Metrics> metrics_;
  std::unique_ptr<audit::AuditStore> store_;
  std::unique_ptr<HttpUpstream> upstream_;
  std::unique_ptr<RequestPipeline> pipeline_;
  std::unique_ptr<audit::SqliteApprovalStore> approval_store_;
  std::unique_ptr<WebhookNotifier> webhook_;
  std::unique_ptr<ApprovalsGateway> approvals_;
  std::unique_ptr<GatewayServer> server_;
};

}  // namespace agni::testing
