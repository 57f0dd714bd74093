// The approval state machine, pure: an in-memory store, a recording listener
// and a fake clock.
#include "policies/approvals.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "audit/approval_store.h"
#include "gateway/config/config.h"
#include "gateway/notify/channel.h"
#include "policies/load/policy_loader.h"
#include "tests/support/temp_dir.h"

namespace agni::policy {
namespace {

using namespace std::chrono_literals;

class MemoryStore final : public ApprovalStore {
 public:
  std::optional<Approval> Get(const std::string& id) override {
    auto it = rows.find(id);
    if (it == rows.end()) return std::nullopt;
    return it->second;
  }
  std::optional<Approval> FindOpen(const std::string& requester,
                                   const std::string& number,
                                   const std::string& key) override {
    for (auto& [id, a] : rows) {
      if (a.requester == requester && a.phone_number == number &&
          a.rule_key == key &&
          (a.status == ApprovalStatus::kPending ||
           a.status == ApprovalStatus::kApproved)) {
        return a;
      }
    }
    return std::nullopt;
  }
  std::vector<Approval> List(std::optional<ApprovalStatus> status) override {
    std::vector<Approval> out;
    for (auto& [id, a] : rows) {
      if (!status || a.status == *status) out.push_back(a);
    }
    return out;
  }
  void Put(const Approval& a) override { rows[a.id] = a; }
  void Remove(const std::string& id) override { rows.erase(id); }
  std::map<std::string, Approval> rows;
};

class RecordingListener final : public ApprovalListener {
 public:
  bool OnChange(const Approval& a, ApprovalEvent e, const Actor& actor,
                const std::string& reason) override {
    if (fail) return false;
    events.push_back(std::string(EventName(e)) + ":" + actor.user + ":" +
                     std::string(StatusName(a.status)) + ":" + reason);
    return true;
  }
  bool fail = false;
  std::vector<std::string> events;
};

Rule NeedsOne() {
  Rule r;
  r.id = "prod";
  r.effect = Effect::kRequireApproval;
  r.groups = {"support"};
  r.approval = {1, {"telecom-ops"}, 24h, 1h};
  return r;
}

const std::vector<Member> kMembers = {{"alice", {"support"}},
                                      {"olga", {"telecom-ops"}},
                                      {"oscar", {"telecom-ops"}},
                                      {"mallory", {"contractors"}}};

class ApprovalServiceTest : public ::testing::Test {
 protected:
  Actor Who(const std::string& name) {
    for (const Member& m : kMembers) {
      if (m.name == name) return {m.name, m.groups, "req-" + name};
    }
    return {name, {}, ""};
  }
  std::string Create(const std::string& number = "+14155550100") {
    ApprovalResult r =
        service_.Request(Who("alice"), number, {&rule_}, kMembers, "hash");
    EXPECT_TRUE(r.ok()) << r.detail;
    return r.approval->id;
  }
  // An approval brought into `state` by the normal route.
  std::string In(ApprovalStatus state) {
    const std::string number = "+1415666" + std::to_string(++numbers_);
    const std::string id = Create(number);
    switch (state) {
      case ApprovalStatus::kPending: break;
      case ApprovalStatus::kApproved:
      case ApprovalStatus::kExecuted:
        EXPECT_TRUE(service_.Approve(id, Who("olga"), "").ok());
        if (state == ApprovalStatus::kExecuted) {
          EXPECT_TRUE(service_.Consume(id, Who("alice"), number, "prod").ok());
          EXPECT_TRUE(service_.ConfirmExecuted(id, Who("alice")).ok());
        }
        break;
      case ApprovalStatus::kDenied:
        EXPECT_TRUE(service_.Deny(id, Who("olga"), "no").ok());
        break;
      case ApprovalStatus::kExpired:
        now_ += 24LL * 3600 * 1'000'000;
        service_.Sweep();
        break;
      case ApprovalStatus::kCancelled:
        EXPECT_TRUE(service_.Cancel(id, Who("alice"), "").ok());
        break;
      case ApprovalStatus::kRevoked:
        EXPECT_TRUE(service_.Revoke(id, Who("olga"), false, "stop").ok());
        break;
    }
    EXPECT_EQ(store_.rows.at(id).status, state);
    return id;
  }

  Rule rule_ = NeedsOne();
  MemoryStore store_;
  RecordingListener listener_;
  std::int64_t now_ = 1'000'000'000'000'000;
  int next_id_ = 0;
  int numbers_ = 0;
  ApprovalService service_{
      store_, listener_, [this] { return now_; },
      [this] { return "apr_" + std::to_string(++next_id_); }};
};

TEST_F(ApprovalServiceTest, EveryStateActionAndActor) {
  using S = ApprovalStatus;
  using E = ApprovalError;
  const S states[] = {S::kPending,   S::kApproved, S::kDenied, S::kExpired,
                      S::kCancelled, S::kExecuted, S::kRevoked};
  struct Case {
    std::string action, actor;
    std::map<S, E> expect;  // missing state: same as `otherwise`
    E otherwise;
  };
  const std::vector<Case> cases = {
      {"approve", "alice", {}, E::kSelfApproval},
      {"approve", "oscar", {{S::kPending, E::kNone}}, E::kNotPending},
      {"approve", "mallory", {}, E::kNotEligible},
      {"deny", "alice", {}, E::kSelfApproval},
      {"deny", "oscar", {{S::kPending, E::kNone}}, E::kNotPending},
      {"deny", "mallory", {}, E::kNotEligible},
      {"cancel",
       "alice",
       {{S::kPending, E::kNone}, {S::kApproved, E::kNone}},
       E::kNotPending},
      {"cancel", "oscar", {}, E::kNotRequester},
      {"cancel", "mallory", {}, E::kNotRequester},
      {"execute",
       "alice",
       {{S::kPending, E::kPending},
        {S::kApproved, E::kNone},
        {S::kDenied, E::kDenied},
        {S::kExpired, E::kExpired},
        {S::kCancelled, E::kCancelled},
        {S::kExecuted, E::kUsed},
        {S::kRevoked, E::kRevoked}},
       E::kNone},
      {"execute", "oscar", {}, E::kMismatch},
      {"execute", "mallory", {}, E::kMismatch},
      {"revoke", "alice", {}, E::kForbidden},
      {"revoke",
       "oscar",
       {{S::kPending, E::kNone}, {S::kApproved, E::kNone}},
       E::kNotPending},
      {"revoke", "mallory", {}, E::kForbidden},
      {"read", "alice", {}, E::kNone},
      {"read", "oscar", {}, E::kNone},
      {"read", "mallory", {}, E::kForbidden},
  };
  for (const Case& c : cases) {
    for (S state : states) {
      SCOPED_TRACE(c.action + " by " + c.actor + " when " +
                   std::string(StatusName(state)));
      const std::string id = In(state);
      const Approval before = store_.rows.at(id);
      const Actor actor = Who(c.actor);
      ApprovalResult r;
      if (c.action == "approve") r = service_.Approve(id, actor, "");
      if (c.action == "deny") r = service_.Deny(id, actor, "because");
      if (c.action == "cancel") r = service_.Cancel(id, actor, "");
      if (c.action == "revoke") r = service_.Revoke(id, actor, false, "why");
      if (c.action == "execute") {
        r = service_.Consume(id, actor, before.phone_number, "prod");
      }
      if (c.action == "read") r = service_.Get(id, actor, false);
      const E want =
          c.expect.contains(state) ? c.expect.at(state) : c.otherwise;
      EXPECT_EQ(r.error, want) << r.detail;
      if (want != E::kNone || c.action == "read") {
        // A refused action changes nothing.
        EXPECT_EQ(ToStorageJson(store_.rows.at(id)), ToStorageJson(before));
      }
    }
  }
}

TEST_F(ApprovalServiceTest, RepeatedRequestReturnsTheOpenOneUntilItCloses) {
  const std::string id = Create();
  EXPECT_EQ(Create(), id);
  ASSERT_TRUE(service_.Approve(id, Who("olga"), "").ok());
  EXPECT_EQ(Create(), id);  // approved is still open
  ASSERT_TRUE(service_.Consume(id, Who("alice"), "+14155550100", "prod").ok());
  EXPECT_NE(Create(), id);
}

TEST_F(ApprovalServiceTest, LifetimesComeFromTheClock) {
  const std::string id = Create();
  now_ += (24LL * 3600 - 1) * 1'000'000;
  ASSERT_TRUE(service_.Approve(id, Who("olga"), "").ok());  // just in time
  now_ += 3599LL * 1'000'000;
  EXPECT_EQ(service_.Get(id, Who("alice"), false).approval->status,
            ApprovalStatus::kApproved);
  now_ += 1'000'000;
  ApprovalResult late =
      service_.Consume(id, Who("alice"), "+14155550100", "prod");
  EXPECT_EQ(late.error, ApprovalError::kExpired);
  EXPECT_EQ(listener_.events.back(),
            "expired::expired:approved but not executed within 1h");
}

TEST_F(ApprovalServiceTest, OnlyTheConsumingRequestRestores) {
  const std::string id = Create();
  ASSERT_TRUE(service_.Approve(id, Who("olga"), "").ok());
  ASSERT_TRUE(service_.Consume(id, Who("alice"), "+14155550100", "prod").ok());
  EXPECT_TRUE(store_.rows.at(id).awaiting_intent);
  Actor other = Who("alice");
  other.request_id = "another-request";
  EXPECT_EQ(service_.Restore(id, other, "x").error, ApprovalError::kMismatch);
  // Never recorded executed (no intent yet), so undone without a record.
  const std::size_t events = listener_.events.size();
  ASSERT_TRUE(service_.Restore(id, Who("alice"), "rate_limited").ok());
  EXPECT_EQ(store_.rows.at(id).status, ApprovalStatus::kApproved);
  EXPECT_FALSE(store_.rows.at(id).awaiting_intent);
  EXPECT_EQ(listener_.events.size(), events);
  // Recorded executed with its intent, then not sent: the audit says so.
  ASSERT_TRUE(service_.Consume(id, Who("alice"), "+14155550100", "prod").ok());
  ASSERT_TRUE(service_.ConfirmExecuted(id, Who("alice")).ok());
  EXPECT_EQ(listener_.events.back(), "executed:alice:executed:");
  ASSERT_TRUE(service_.Restore(id, Who("alice"), "upstream_unreachable").ok());
  EXPECT_EQ(listener_.events.back(),
            "restored:alice:approved:upstream_unreachable");
  // Restored after execute_within: approved again, then expired when due.
  ASSERT_TRUE(service_.Consume(id, Who("alice"), "+14155550100", "prod").ok());
  now_ += 3600LL * 1'000'000;
  ASSERT_TRUE(service_.Restore(id, Who("alice"), "x").ok());
  EXPECT_EQ(service_.Get(id, Who("alice"), false).approval->status,
            ApprovalStatus::kExpired);
}

TEST_F(ApprovalServiceTest, AnUnrecordedChangeIsUndone) {
  const std::string id = Create();
  listener_.fail = true;
  EXPECT_EQ(service_.Approve(id, Who("olga"), "").error,
            ApprovalError::kUnavailable);
  EXPECT_EQ(store_.rows.at(id).status, ApprovalStatus::kPending);
  EXPECT_TRUE(store_.rows.at(id).approvals.empty());
  ApprovalResult created = service_.Request(Who("alice"), "+14155550199",
                                            {&rule_}, kMembers, "hash");
  EXPECT_EQ(created.error, ApprovalError::kUnavailable);
  EXPECT_EQ(store_.rows.size(), 1u);
}

TEST_F(ApprovalServiceTest, UnmeetableRequirementIsRefusedAtRequestTime) {
  rule_.approval.approvals = 3;  // only olga and oscar are eligible
  ApprovalResult r = service_.Request(Who("alice"), "+14155550100", {&rule_},
                                      kMembers, "hash");
  EXPECT_EQ(r.error, ApprovalError::kUnmeetable);
  EXPECT_NE(r.detail.find("only 2 configured user(s)"), std::string::npos)
      << r.detail;
  EXPECT_TRUE(store_.rows.empty());
}

TEST_F(ApprovalServiceTest, ApprovalCountsOnlyVotersFromTheRequiredGroups) {
  Rule netops = NeedsOne();
  netops.id = "netops";
  netops.approval.from_groups = {"net-ops"};
  const std::vector<Member> members = {
      {"alice", {"support"}}, {"olga", {"telecom-ops"}}, {"nina", {"net-ops"}}};
  ApprovalResult r =
      service_.Request(Who("alice"), "+1", {&rule_, &netops}, members, "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.approval->rule_key, "prod,netops");
  auto olga = service_.Approve(r.approval->id, Who("olga"), "");
  EXPECT_EQ(olga.approval->status, ApprovalStatus::kPending);
  auto nina = service_.Approve(r.approval->id, {"nina", {"net-ops"}, ""}, "");
  EXPECT_EQ(nina.approval->status, ApprovalStatus::kApproved);
  EXPECT_EQ(service_.Consume(r.approval->id, Who("alice"), "+1", "prod").error,
            ApprovalError::kMismatch);
}

TEST_F(ApprovalServiceTest, ARequirementNoLongerMeetableClosesTheApproval) {
  const std::string id = Create();
  ASSERT_TRUE(service_.Approve(id, Who("olga"), "").ok());
  auto tighter = std::make_shared<Policy>();
  tighter->rules = {rule_};
  tighter->rules[0].approval.approvals = 2;
  // oscar has left: olga alone can never make two.
  service_.SetCurrent(
      {tighter, {{"alice", {"support"}}, {"olga", {"telecom-ops"}}}, true});
  ApprovalResult r = service_.Consume(id, Who("alice"), "+14155550100", "prod");
  EXPECT_EQ(r.error, ApprovalError::kMismatch);
  EXPECT_NE(r.detail.find("now needs 2 approval(s) from [telecom-ops], was 1"),
            std::string::npos)
      << r.detail;
  EXPECT_EQ(store_.rows.at(id).status, ApprovalStatus::kRevoked);
  EXPECT_EQ(listener_.events.back().substr(0, 17), "revoked::revoked:");
}

TEST_F(ApprovalServiceTest, AProviderVoteCountsWithTheGroupsItWasCastWith) {
  const std::string id = Create();
  Actor pat{"pat", {"telecom-ops"}, "req-pat", true};  // not a configured user
  ASSERT_EQ(service_.Approve(id, pat, "").approval->status,
            ApprovalStatus::kApproved);
  service_.SetCurrent({nullptr, kMembers, true});
  EXPECT_EQ(service_.Effective(store_.rows.at(id)).status,
            ApprovalStatus::kApproved);
  EXPECT_TRUE(store_.rows.at(id).approvals[0].provider);
  EXPECT_EQ(store_.rows.at(id).approvals[0].groups,
            std::vector<std::string>{"telecom-ops"});
  // A configured user's vote counts with today's groups instead.
  const std::string other = Create("+14155550101");
  ASSERT_TRUE(service_.Approve(other, Who("olga"), "").ok());
  service_.SetCurrent(
      {nullptr, {{"alice", {"support"}}, {"olga", {"support"}}}, true});
  EXPECT_EQ(service_.Effective(store_.rows.at(other)).status,
            ApprovalStatus::kPending);
}

TEST_F(ApprovalServiceTest,
       AtStartAConsumedApprovalWithoutIntentIsApprovedAgain) {
  const std::string with_intent = In(ApprovalStatus::kApproved);
  const std::string without = In(ApprovalStatus::kApproved);
  for (const std::string& id : {with_intent, without}) {
    const Approval& a = store_.rows.at(id);
    ASSERT_TRUE(
        service_.Consume(id, Who("alice"), a.phone_number, "prod").ok());
  }
  // A restart: the first release's intent is in the audit, the second's not.
  const std::string committed = store_.rows.at(with_intent).executed_request_id;
  store_.rows.at(without).executed_request_id = "req-lost";
  EXPECT_EQ(service_.RecoverUnconfirmed([&](const std::string& request) {
    return request == committed;
  }),
            1u);
  EXPECT_EQ(store_.rows.at(with_intent).status, ApprovalStatus::kExecuted);
  EXPECT_FALSE(store_.rows.at(with_intent).awaiting_intent);
  EXPECT_EQ(listener_.events.back(), "executed:alice:executed:");
  EXPECT_EQ(store_.rows.at(without).status, ApprovalStatus::kApproved);
  EXPECT_TRUE(store_.rows.at(without).executed_request_id.empty());
}

TEST(CheckSatisfiable, NamesTheRuleAndTheRequesterThatCanNeverBeApproved) {
  Policy p;
  p.rules.push_back(NeedsOne());
  p.rules[0].approval.approvals = 2;
  ConfigErrors errors;
  CheckSatisfiable(p,
                   {{"alice", {"support"}},
                    {"olga", {"telecom-ops"}},
                    {"otto", {"support", "telecom-ops"}}},
                   "policy.json", errors);
  // alice: olga + otto = 2, fine. otto: only olga is left.
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "policy.json:$.rules[0].approval.approvals");
  EXPECT_NE(errors[0].message.find("requester \"otto\""), std::string::npos);
}

TEST(PolicyLoaderApproval, ParsesTheRequirementAndReportsEveryMistake) {
  KnownPrincipals known{{"alice"}, {"support", "telecom-ops"}};
  ConfigErrors errors;
  auto ok = ParsePolicy(nlohmann::json::parse(R"({"rules":[
      {"id":"r","effect":"require_approval","groups":["support"],
       "approval":{"approvals":2,"from_groups":["telecom-ops"],"ttl":"24h",
                   "execute_within":"15m"}}]})"),
                        "policy.json", known, errors);
  ASSERT_TRUE(ok) << (errors.empty() ? "" : errors[0].message);
  EXPECT_EQ(ok->rules[0].effect, Effect::kRequireApproval);
  EXPECT_EQ(ok->rules[0].approval.approvals, 2);
  EXPECT_EQ(ok->rules[0].approval.execute_within, 15min);

  errors.clear();
  auto bad = ParsePolicy(nlohmann::json::parse(R"({"rules":[
      {"id":"a","effect":"require_approval"},
      {"id":"b","effect":"require_approval",
       "approval":{"approvals":0,"from_groups":["nobody"],"ttl":"1x","extra":1}},
      {"id":"c","effect":"allow","approval":{"approvals":1}}]})"),
                         "policy.json", known, errors);
  EXPECT_FALSE(bad);
  std::set<std::string> paths;
  for (const auto& e : errors) paths.insert(e.path);
  EXPECT_TRUE(paths.contains("policy.json:$.rules[0].approval"));
  EXPECT_TRUE(paths.contains("policy.json:$.rules[1].approval.approvals"));
  EXPECT_TRUE(paths.contains("policy.json:$.rules[1].approval.from_groups[0]"));
  EXPECT_TRUE(paths.contains("policy.json:$.rules[1].approval.ttl"));
  EXPECT_TRUE(paths.contains("policy.json:$.rules[1].approval.execute_within"));
  EXPECT_TRUE(paths.contains("policy.json:$.rules[1].approval.extra"));
  EXPECT_TRUE(paths.contains("policy.json:$.rules[2].approval"));
}

TEST(PolicyEngineApproval, DenyWinsThenEveryApprovalRuleThenAllow) {
  Policy p;
  Rule deny;
  deny.id = "deny";
  deny.numbers = {{"+1911", true}};
  Rule a1 = NeedsOne(), a2 = NeedsOne();
  a2.id = "second";
  a2.numbers = {{"+1415", true}};
  Rule allow;
  allow.id = "allow";
  allow.effect = Effect::kAllow;
  p.rules = {deny, a1, a2, allow};
  const std::vector<std::string> groups = {"support"};
  Decision d = Evaluate(p, {"alice", groups}, "+14155550100");
  EXPECT_EQ(d.effect, Effect::kRequireApproval);
  EXPECT_EQ(d.rule_id, "prod");
  ASSERT_EQ(d.approval_rules.size(), 2u);
  EXPECT_EQ(RuleKey(d.approval_rules), "prod,second");
  EXPECT_EQ(Evaluate(p, {"alice", groups}, "+19115550100").effect,
            Effect::kDeny);
  const std::vector<std::string> ops = {"ops"};
  EXPECT_EQ(Evaluate(p, {"olga", ops}, "+14155550100").effect, Effect::kAllow);
}

TEST(WebhookSignature, IsHmacSha256OfTimestampDotBody) {
  // RFC 4231 style check against an independently computed value:
  // printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac
  // 'key-key-key-key-1'
  EXPECT_EQ(WebhookSignature("key-key-key-key-1", 1700000000, R"({"a":1})"),
            "1ef420b5c1b20102bf0fbae8b7514f1a860bd10fdf3bcc8dbecfda3d79f146f7");
}

// A gateway.json + policy.json pair in a fresh folder.
class ConfigFiles {
 public:
  ConfigLoad Load(const std::string& policy, const nlohmann::json& approvals) {
    const std::string hash(64, 'a');
    nlohmann::json config = {
        {"audit", {{"path", "audit.db"}}},
        {"users",
         {{{"name", "alice"}, {"groups", {"support"}}, {"token_sha256", hash}},
          {{"name", "olga"},
           {"groups", {"telecom-ops"}},
           {"token_sha256", std::string(64, 'b')}}}},
        {"policy_file", "policy.json"}};
    if (!approvals.is_null()) config["approvals"] = approvals;
    dir_.Write("policy.json", policy);
    return LoadConfig(dir_.Write("gateway.json", config.dump()));
  }
  std::filesystem::path dir() const { return dir_.path(); }

 private:
  agni::testing::TempDir dir_;
};

std::string Policy(int approvals) {
  return R"({"rules":[{"id":"prod","effect":"require_approval","groups":["support"],)"
         R"("approval":{"approvals":)" +
         std::to_string(approvals) +
         R"(,"from_groups":["telecom-ops"],"ttl":"1h","execute_within":"5m"}}]})";
}

TEST(ApprovalConfig, CheckConfigRejectsARequirementNobodyCanMeet) {
  ConfigFiles files;
  ConfigLoad ok = files.Load(Policy(1), nullptr);
  ASSERT_TRUE(ok.errors.empty())
      << ok.errors[0].path << ": " << ok.errors[0].message;
  EXPECT_EQ(ok.config->approvals.path, (files.dir() / "approvals.db").string());
  EXPECT_TRUE(ok.config->approvals.webhook.url.empty());

  ConfigLoad bad = files.Load(Policy(2), nullptr);
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].path, "policy.json:$.rules[0].approval.approvals");
  EXPECT_NE(bad.errors[0].message.find("requester \"alice\""),
            std::string::npos);
}

TEST(SqliteApprovalStore, KeepsEveryFieldAndAdmitsOneProcess) {
  ConfigFiles files;
  const std::string path = (files.dir() / "approvals.db").string();
  Approval a;
  a.id = "apr_1";
  a.requester = "alice";
  a.phone_number = "+14155550100";
  a.rule_id = "prod";
  a.rule_key = "prod,netops";
  a.required = {{"prod", 2, {"telecom-ops"}}};
  a.approvals = {{"olga", {"telecom-ops"}, "ok", 5}};
  a.created_us = 1;
  a.expires_us = 2;
  {
    audit::SqliteApprovalStore store(path);
    store.Put(a);
    EXPECT_THROW(audit::SqliteApprovalStore second(path), std::runtime_error);
  }
  audit::SqliteApprovalStore reopened(path);
  ASSERT_TRUE(reopened.Get("apr_1"));
  EXPECT_EQ(ToStorageJson(*reopened.Get("apr_1")), ToStorageJson(a));
  EXPECT_TRUE(reopened.FindOpen("alice", "+14155550100", "prod,netops"));
  EXPECT_FALSE(reopened.FindOpen("alice", "+14155550100", "prod"));
  EXPECT_EQ(reopened.CountPending(), 1u);
}

TEST(ApprovalConfig, WebhookNeedsAUrlAndExactlyOneSecret) {
  ConfigFiles files;
  std::ofstream(files.dir() / "hook.key") << "0123456789abcdef-secret\n";
  ConfigLoad ok = files.Load(Policy(1), {{"path", "state/approvals.db"},
                                         {"webhook",
                                          {{"url", "http://127.0.0.1:1/hook"},
                                           {"secret_file", "hook.key"},
                                           {"max_attempts", 3}}}});
  ASSERT_TRUE(ok.errors.empty())
      << ok.errors[0].path << ": " << ok.errors[0].message;
  EXPECT_EQ(ok.config->approvals.webhook.secret, "0123456789abcdef-secret");
  EXPECT_EQ(ok.config->approvals.webhook.max_attempts, 3);
  EXPECT_EQ(ok.config->approvals.path,
            (files.dir() / "state/approvals.db").string());

  ConfigLoad bad = files.Load(
      Policy(1),
      {{"webhook", {{"url", "ftp://x"}, {"bogus", 1}}}, {"path", "audit.db"}});
  std::set<std::string> paths;
  for (const auto& e : bad.errors) paths.insert(e.path);
  EXPECT_TRUE(paths.contains("$.approvals.webhook.url"));
  EXPECT_TRUE(paths.contains("$.approvals.webhook.bogus"));
  EXPECT_TRUE(paths.contains("$.approvals.webhook"));  // no secret
  EXPECT_TRUE(paths.contains("$.approvals.path"));     // same as the audit log
}

}  // namespace
}  // namespace agni::policy
