// The gateway that `serve` builds (gateway/app), run in this process on port
// 0 against a fake upstream: a config and policy written to a temp folder,
// a cast of users with fresh tokens, restart on the same files and reload
// as SIGHUP does.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "gateway/app/app.h"
#include "gateway/config/config.h"
#include "gateway/ops/log.h"
#include "gateway/pipeline/rejection_ledger.h"
#include "tests/support/test_support.h"

namespace agni::testing {

// A wall clock a test sets and moves, shared with the gateway it runs.
// Thread-safe.
class FakeClock {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  explicit FakeClock(TimePoint start) { Set(start); }
  TimePoint now() const {
    return TimePoint(std::chrono::microseconds(us_.load()));
  }
  void Set(TimePoint t) {
    us_ = std::chrono::duration_cast<std::chrono::microseconds>(
              t.time_since_epoch())
              .count();
  }
  void Advance(std::chrono::microseconds d) { us_ += d.count(); }
  // For GatewayHarness::Options::clock; this clock must outlive the harness.
  std::function<TimePoint()> Function() const {
    return [this] { return now(); };
  }

 private:
  std::atomic<std::int64_t> us_{0};
};

// User names and their groups; each gets a fresh token.
using UserGroups =
    std::vector<std::pair<std::string, std::vector<std::string>>>;

// alice (support), olga (telecom-ops), mallory (contractors).
UserGroups DefaultCast();
// Two support users who request (alice, bob), three telecom-ops approvers
// (olga, oscar, otto, who is in support too), one net-ops approver (nina),
// an auditor (carol) and an outsider (mallory).
UserGroups ApprovalCast();

inline constexpr const char* kDefaultPolicy =
    R"({"rules":[)"
    R"({"id":"never-emergency","effect":"deny","numbers":["+1911*"]},)"
    R"({"id":"support-sandbox","effect":"allow","groups":["support"],"numbers":["+1555*"]},)"
    R"({"id":"ops-anything","effect":"allow","groups":["telecom-ops"]}]})";

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

// Not thread-safe itself (start, stop and reload from the test's thread);
// its clients may be used from any thread.
class GatewayHarness {
 public:
  struct Options {
    std::string upstream_base_url;  // required
    std::string policy_json = kDefaultPolicy;
    std::string read_timeout = "2s";
    std::string api_key = kApiKey;  // the upstream key the gateway sends
    std::string ca_file;
    std::string audit_busy_timeout = "200ms";  // empty: the config default
    // The inventory file (empty: none).
    std::string inventory_json;
    UserGroups users = DefaultCast();
    UserGroups extra_users;
    nlohmann::json approvals_config;  // the "approvals" block, or null
    // Merged into gateway.json (JSON merge patch), e.g. server limits.
    nlohmann::json extra_config = nlohmann::json::object();
    // The gateway's wall clock (FakeClock::Function); empty: the system's.
    std::function<std::chrono::system_clock::time_point()> clock;
  };
  // The approval tests' gateway: ApprovalCast, kApprovalPolicy, a 5 s
  // upstream read timeout and the default audit busy timeout.
  static Options ForApprovals(std::string upstream_base_url);

  explicit GatewayHarness(Options options);
  ~GatewayHarness();

  // Builds and starts the gateway on the files written so far (a restart
  // after Stop()). Throws std::runtime_error when it does not start.
  void Start();
  void Stop();
  // Rewrites users (name -> groups) and the policy, then reloads them as
  // SIGHUP does. Throws when the new config does not load.
  void Reload(const UserGroups& groups_by_user, const std::string& policy_json);
  // Offboards `name`: the user leaves the config at the next Reload().
  void RemoveUser(const std::string& name);

  httplib::Client Client() const;
  httplib::Client AdminClient() const;
  int port() const { return gateway_->port(); }
  int admin_port() const { return gateway_->admin_port(); }
  const TestUser& User(const std::string& name) const;
  const TestUser& alice() const { return User("alice"); }      // support
  const TestUser& olga() const { return User("olga"); }        // telecom-ops
  const TestUser& mallory() const { return User("mallory"); }  // contractors
  std::string audit_path() const { return gateway_->config().audit.path; }
  // Every audit record, in seq order, as JSON objects keyed by column name.
  std::vector<nlohmann::json> AuditRows() const;
  std::string Metrics() const;
  const Config& config() const { return gateway_->config(); }
  RejectionLedger& rejections() { return gateway_->rejections(); }
  Gateway& gateway() { return *gateway_; }
  const TempDir& dir() const { return dir_; }

 private:
  void WriteConfig(const std::string& policy_json);

  Options options_;
  TempDir dir_;
  std::vector<TestUser> users_;
  Logger log_{LogLevel::kError};
  std::unique_ptr<Gateway> gateway_;
};

// alice releases `number_in_path` through `gw`; expects a `status` problem
// for `reason`, audited as an intent and one outcome row, which is copied to
// `outcome`. Call it within ASSERT_NO_FATAL_FAILURE.
void ExpectFailedRelease(const GatewayHarness& gw,
                         const std::string& number_in_path, int status,
                         const std::string& reason, nlohmann::json& outcome);

}  // namespace agni::testing
