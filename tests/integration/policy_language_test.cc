// The policy language through the real servers: inventory labels, source
// ranges behind a trusted proxy, time windows, velocity limits (429), shadow
// rules, POST /v1/policy/explain, and limits that survive a restart.
#include <gtest/gtest.h>

#include "audit/store.h"
#include "gateway/pipeline/policy_tools.h"
#include "policies/conditions.h"
#include "tests/support/harness.h"
#include "tests/support/test_support.h"

namespace agni::testing {
namespace {

using nlohmann::json;

// Bearer() for `u` with the headers in `extra` too.
httplib::Headers BearerWith(const TestUser& u, httplib::Headers extra) {
  extra.merge(Bearer(u.token));
  return extra;
}

json Body(const httplib::Result& res) {
  return json::parse(res->body, nullptr, false);
}

std::string Path(const std::string& e164) {
  return ReleasePath("%2B" + e164.substr(1));
}

// Releases `number` as `user` and expects `status`; the answer's body goes to
// `body` when given. Call it within ASSERT_NO_FATAL_FAILURE.
void ExpectRelease(const GatewayHarness& gw, const std::string& number,
                   const TestUser& user, int status, json* body = nullptr) {
  auto res = gw.Client().Delete(Path(number), Bearer(user.token));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, status);
  if (body != nullptr) *body = Body(res);
}

const char* kInventory = R"({
  "+14155550100": {"env": "prod", "team": "sales"},
  "+15555550123": {"env": "test", "team": "support"},
  "+15555550124": {"env": "test", "team": "support"},
  "+15555550125": {"env": "test", "team": "support"},
  "+15555550126": {"env": "test", "team": "support"}
})";

TEST(PolicyLanguageTest, LabelsSelectNumbersAndEvery403NamesItsRule) {
  FakeUpstream upstream;
  GatewayHarness gw({.upstream_base_url = upstream.url(),
                     .policy_json = R"({"rules": [
        {"id": "support-test-numbers", "effect": "allow",
         "groups": ["support"], "labels": {"env": "test"},
         "description": "SECRET-POLICY-TEXT"}]})",
                     .inventory_json = kInventory});
  auto ok = gw.Client().Delete(Path("+15555550123"), Bearer(gw.alice().token));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);

  for (const std::string number : {"+14155550100", "+15555559999"}) {
    SCOPED_TRACE(number);
    auto denied = gw.Client().Delete(Path(number), Bearer(gw.alice().token));
    ASSERT_TRUE(denied);
    EXPECT_EQ(denied->status, 403);
    EXPECT_EQ(Body(denied)["reason"], "policy_denied");
    EXPECT_EQ(Body(denied)["rule_id"], "implicit_deny");
    EXPECT_EQ(denied->body.find("SECRET-POLICY-TEXT"), std::string::npos);
  }
  EXPECT_EQ(upstream.Received().size(), 1u);
}

TEST(PolicyLanguageTest, DenyUnlistedNumbersOption) {
  FakeUpstream upstream;
  GatewayHarness gw({.upstream_base_url = upstream.url(),
                     .policy_json = R"({"deny_unlisted_numbers": true,
        "rules": [{"id": "ops", "effect": "allow", "groups": ["telecom-ops"]}]})",
                     .inventory_json = kInventory});
  auto listed =
      gw.Client().Delete(Path("+14155550100"), Bearer(gw.olga().token));
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->status, 200);
  auto unlisted =
      gw.Client().Delete(Path("+14155559999"), Bearer(gw.olga().token));
  ASSERT_TRUE(unlisted);
  EXPECT_EQ(unlisted->status, 403);
  EXPECT_EQ(Body(unlisted)["rule_id"], "unlisted_number");
  EXPECT_EQ(gw.AuditRows().back()["rule_id"], "unlisted_number");
}

const char* kSourcePolicy = R"({"rules": [
    {"id": "office-only", "effect": "allow", "groups": ["support"],
     "source_cidrs": ["203.0.113.0/24", "2001:db8::/32"]}]})";

TEST(PolicyLanguageTest, ForwardedForIsBelievedOnlyFromTrustedProxies) {
  FakeUpstream upstream;
  GatewayHarness behind_proxy(
      {.upstream_base_url = upstream.url(),
       .policy_json = kSourcePolicy,
       .extra_config = {{"trusted_proxies", {"127.0.0.1", "::1"}}}});
  struct Case {
    std::string xff;
    int status;
  };
  const std::vector<Case> cases = {
      {"203.0.113.5", 200},
      {"2001:db8::5", 200},
      {"203.0.113.5, 198.51.100.1", 403},  // the proxy saw 198.51.100.1
      {"198.51.100.1", 403},
      {"garbage", 403},
      {"", 403},  // the proxy itself (127.0.0.1) is not in the ranges
  };
  int n = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.xff);
    httplib::Headers h;
    if (!c.xff.empty()) h.emplace("X-Forwarded-For", c.xff);
    auto res = behind_proxy.Client().Delete(
        Path("+155555501" + std::to_string(10 + n++)),
        BearerWith(behind_proxy.alice(), h));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, c.status);
    if (c.status == 403) {
      EXPECT_EQ(Body(res)["rule_id"], "implicit_deny");
    }
  }

  // Without trusted proxies the header is ignored: the TCP peer decides.
  GatewayHarness direct(
      {.upstream_base_url = upstream.url(), .policy_json = kSourcePolicy});
  auto res = direct.Client().Delete(
      Path("+15555550199"),
      BearerWith(direct.alice(), {{"X-Forwarded-For", "203.0.113.5"}}));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
}

TEST(PolicyLanguageTest, TimeWindowsFollowTheGatewayClock) {
  FakeUpstream upstream;
  // Mon 09:30 CET
  FakeClock clock(*policy::ParseTimestamp("2026-11-02T08:30:00Z"));
  GatewayHarness gw({.upstream_base_url = upstream.url(),
                     .policy_json = R"({"rules": [
        {"id": "ops-business-hours", "effect": "allow", "groups": ["telecom-ops"],
         "when": {"time_zone": "Europe/Berlin", "days": ["mon","tue","wed","thu","fri"],
                  "hours": ["09:00-17:00"]}}]})",
                     .clock = clock.Function()});
  struct Case {
    const char* at;
    const char* number;
    int status;
  };
  for (const Case& c : {Case{"2026-11-02T08:30:00Z", "+15555550123", 200},
                        // Mon 17:00 CET
                        Case{"2026-11-02T16:00:00Z", "+15555550124", 403}}) {
    SCOPED_TRACE(c.at);
    clock.Set(*policy::ParseTimestamp(c.at));
    json body;
    ASSERT_NO_FATAL_FAILURE(
        ExpectRelease(gw, c.number, gw.olga(), c.status, &body));
    if (c.status == 403) {
      EXPECT_EQ(body["rule_id"], "implicit_deny");
    }
  }
}

TEST(PolicyLanguageTest, VelocityLimitAnswers429AndCountsOnlyReleases) {
  FakeUpstream upstream;
  FakeClock clock(*policy::ParseTimestamp("2026-11-26T10:00:00Z"));
  GatewayHarness gw({.upstream_base_url = upstream.url(),
                     .policy_json = R"({"rules": [
        {"id": "never-emergency", "effect": "deny", "numbers": ["+1911*"]},
        {"id": "support-any", "effect": "allow", "groups": ["support"]}],
      "limits": [{"id": "per-user-hourly", "per": "user", "max": 2, "window": "1h"}]})",
                     .clock = clock.Function()});

  // Denials never count.
  for (int i = 0; i < 3; ++i) {
    auto denied =
        gw.Client().Delete(Path("+19115550000"), Bearer(gw.alice().token));
    ASSERT_TRUE(denied);
    EXPECT_EQ(denied->status, 403);
  }
  // An upstream rejection is not a release either.
  FakeUpstream::Reply reject;
  reject.status = 404;
  reject.body = R"({"success":false,"message":"not found"})";
  upstream.SetReply(reject);
  auto rejected =
      gw.Client().Delete(Path("+15555550100"), Bearer(gw.alice().token));
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->status, 404);
  upstream.SetReply(FakeUpstream::Reply());

  for (const char* n : {"+15555550101", "+15555550102"}) {
    auto ok = gw.Client().Delete(Path(n), Bearer(gw.alice().token));
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
  }
  clock.Advance(std::chrono::minutes(15));
  auto limited =
      gw.Client().Delete(Path("+15555550103"), Bearer(gw.alice().token));
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(Body(limited)["reason"], "rate_limited");
  EXPECT_EQ(limited->get_header_value("Retry-After"), "2700");  // 45 min
  EXPECT_EQ(upstream.Received().size(), 3u);  // the 429 was not forwarded

  const json last_alice = [&] {
    json found;
    for (const json& r : gw.AuditRows()) {
      if (r.value("principal", "") == "alice") found = r;
    }
    return found;
  }();
  EXPECT_EQ(last_alice["stage"], "decision");
  EXPECT_EQ(last_alice["reason"], "rate_limited");
  EXPECT_EQ(last_alice["response_status"], 429);
  EXPECT_EQ(last_alice["phone_number"], "+15555550103");
  EXPECT_EQ(MetricValue(
                gw.Metrics(),
                R"(agni_gateway_rate_limited_total{limit="per-user-hourly"})"),
            1.0);

  // After the window, the oldest release has aged out.
  clock.Advance(std::chrono::minutes(45));
  auto again =
      gw.Client().Delete(Path("+15555550105"), Bearer(gw.alice().token));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

TEST(PolicyLanguageTest, AReleaseWhoseOutcomeIsUnknownCounts) {
  FakeUpstream upstream;
  GatewayHarness gw({.upstream_base_url = upstream.url(),
                     .policy_json = R"({"rules": [
        {"id": "support-any", "effect": "allow", "groups": ["support"]}],
      "limits": [{"id": "one-a-day", "per": "group", "max": 1, "window": "24h"}]})",
                     .read_timeout = "300ms"});
  FakeUpstream::Reply slow;
  slow.delay = std::chrono::milliseconds(900);
  upstream.SetReply(slow);
  // Sent; the upstream may have acted.
  ASSERT_NO_FATAL_FAILURE(ExpectRelease(gw, "+15555550101", gw.alice(), 504));
  upstream.SetReply(FakeUpstream::Reply());
  json limited;
  ASSERT_NO_FATAL_FAILURE(
      ExpectRelease(gw, "+15555550102", gw.alice(), 429, &limited));
  EXPECT_EQ(limited["reason"], "rate_limited");
}

TEST(PolicyLanguageTest, ShadowRulesAreAuditedAndCountedButNeverEnforced) {
  FakeUpstream upstream;
  GatewayHarness gw({.upstream_base_url = upstream.url(),
                     .policy_json = R"({"rules": [
        {"id": "support-any", "effect": "allow", "groups": ["support"]},
        {"id": "trial-block-prod", "effect": "deny", "mode": "shadow",
         "labels": {"env": "prod"}}]})",
                     .inventory_json = kInventory});
  auto res = gw.Client().Delete(Path("+14155550100"), Bearer(gw.alice().token));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);  // the shadow deny did not stop it
  const auto rows = gw.AuditRows();
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.front()["stage"], "intent");
  EXPECT_EQ(rows.front()["shadow"], "deny:trial-block-prod");
  const std::string m = gw.Metrics();
  for (
      const char* series :
      {R"(agni_gateway_policy_decisions_total{decision="deny",mode="shadow"})",
       R"(agni_gateway_policy_decisions_total{decision="allow",mode="enforce"})"}) {
    SCOPED_TRACE(series);
    EXPECT_EQ(MetricValue(m, series), 1.0);
  }
}

TEST(PolicyLanguageTest, ExplainIsForAuditorsAndAdminsAndShowsEveryRule) {
  FakeUpstream upstream;
  GatewayHarness gw(
      {.upstream_base_url = upstream.url(),
       .policy_json = R"({"rules": [
        {"id": "never-emergency", "effect": "deny", "numbers": ["+1911*"]},
        {"id": "support-test", "effect": "allow", "groups": ["support"],
         "labels": {"env": "test"}},
        {"id": "office-only", "effect": "allow", "groups": ["telecom-ops"],
         "source_cidrs": ["192.0.2.0/24"]}]})",
       .inventory_json = kInventory,
       .extra_users = {{"carol", {"compliance"}}, {"root", {"platform"}}},
       .extra_config = {{"admins", {"platform"}}}});
  const std::string question =
      R"({"user": "alice", "phone_number": "+14155550100"})";
  for (const char* who : {"carol", "root"}) {
    SCOPED_TRACE(who);
    auto res =
        gw.Client().Post("/v1/policy/explain", Bearer(gw.User(who).token),
                         question, "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const json j = Body(res);
    EXPECT_EQ(j["decision"], "deny");
    EXPECT_EQ(j["rule_id"], "implicit_deny");
    EXPECT_EQ(j["reason"], "policy_denied");
    EXPECT_EQ(j["policy_hash"], gw.config().policy->hash);
    EXPECT_EQ(j["labels"]["env"], "prod");
    ASSERT_EQ(j["rules"].size(), 3u);
    EXPECT_EQ(j["rules"][0]["failed"], "numbers");
    EXPECT_EQ(j["rules"][1]["failed"], "labels");
    EXPECT_EQ(j["rules"][2]["failed"], "groups");
  }
  // With a time and a source.
  auto olga =
      gw.Client().Post("/v1/policy/explain", Bearer(gw.User("carol").token),
                       R"({"user": "olga", "phone_number": "+14155550100",
          "at": "2026-11-26T10:00:00Z", "source": "192.0.2.7"})",
                       "application/json");
  ASSERT_TRUE(olga);
  ASSERT_EQ(olga->status, 200);
  EXPECT_EQ(Body(olga)["decision"], "allow");
  EXPECT_EQ(Body(olga)["rule_id"], "office-only");

  auto forbidden =
      gw.Client().Post("/v1/policy/explain", Bearer(gw.alice().token), question,
                       "application/json");
  ASSERT_TRUE(forbidden);
  EXPECT_EQ(forbidden->status, 403);
  EXPECT_EQ(Body(forbidden)["reason"], "forbidden");

  auto bad = gw.Client().Post(
      "/v1/policy/explain", Bearer(gw.User("carol").token),
      R"({"user": "nobody", "phone_number": "+1"})", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(Body(bad)["reason"], "invalid_request");

  auto get =
      gw.Client().Get("/v1/policy/explain", Bearer(gw.User("carol").token));
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(get->get_header_value("Allow"), "POST");

  auto anonymous =
      gw.Client().Post("/v1/policy/explain", question, "application/json");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);

  // Each call was audited; nothing went upstream.
  int explains = 0;
  for (const json& r : gw.AuditRows()) {
    if (r.value("path", "") == "/v1/policy/explain") ++explains;
  }
  EXPECT_EQ(explains, 7);
  EXPECT_TRUE(upstream.Received().empty());
}

// The counts a restarted gateway starts from come from the audit log.
TEST(VelocitySeedTest, RecentReleasesInTheAuditLogCount) {
  TempDir dir;
  const std::string db = dir.File("audit.db");
  const auto now = *policy::ParseTimestamp("2026-11-26T10:00:00Z");
  auto us = [](std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               t.time_since_epoch())
        .count();
  };
  std::int64_t clock_us = us(now - std::chrono::hours(3));
  {
    audit::AuditStore store({db}, nullptr, [&] { return clock_us; });
    auto add = [&](std::string outcome, std::string user, std::string stage,
                   std::chrono::minutes ago) {
      clock_us = us(now - ago);
      audit::Record r;
      r.stage = audit::ParseStage(stage);
      r.principal = std::move(user);
      r.groups = R"(["support"])";
      r.method = "DELETE";
      r.phone_number = "+15555550100";
      r.decision = "allow";
      r.outcome = std::move(outcome);
      ASSERT_TRUE(store.Append(std::move(r)).ok);
    };
    add("released", "alice", "outcome", std::chrono::minutes(120));  // too old
    add("released", "alice", "outcome", std::chrono::minutes(50));
    add("", "alice", "intent", std::chrono::minutes(40));
    add("rejected_by_upstream", "alice", "outcome", std::chrono::minutes(40));
    add("unknown", "alice", "outcome", std::chrono::minutes(30));
    {
      // As start-up recovery writes it: no groups on the outcome record.
      clock_us = us(now - std::chrono::minutes(25));
      audit::Record intent;
      intent.stage = audit::Stage::kIntent;
      intent.principal = "carol";
      intent.groups = R"(["support"])";
      const auto committed = store.Append(intent);
      ASSERT_TRUE(committed.ok);
      audit::Record outcome;
      outcome.stage = audit::Stage::kOutcome;
      outcome.principal = "carol";
      outcome.intent_seq = committed.seq;
      outcome.outcome = "unknown";
      ASSERT_TRUE(store.Append(outcome).ok);
    }
    add("released", "bob", "outcome", std::chrono::minutes(20));
  }
  policy::Policy p;
  p.limits = {{"hourly", policy::Limit::Per::kUser, 2, std::chrono::hours(1)},
              {"group", policy::Limit::Per::kGroup, 4, std::chrono::hours(1)}};
  policy::VelocityLimiter limiter;
  EXPECT_EQ(SeedLimiterFromAudit(db, p, limiter, now), 5u);
  using Per = policy::Limit::Per;
  EXPECT_EQ(
      limiter.CountForTest(Per::kUser, "alice", std::chrono::hours(1), now),
      2u);  // released + unknown within the hour
  EXPECT_EQ(
      limiter.CountForTest(Per::kGroup, "support", std::chrono::hours(1), now),
      4u);
  const auto v = limiter.Admit(p.limits, "alice", {"support"}, now);
  EXPECT_FALSE(v.admitted);
  EXPECT_EQ(v.limit_id, "hourly");
  EXPECT_EQ(v.retry_after, std::chrono::minutes(10));
  // bob has one release of his own, but the group has used its four.
  const auto bob = limiter.Admit(p.limits, "bob", {"support"}, now);
  EXPECT_FALSE(bob.admitted);
  EXPECT_EQ(bob.limit_id, "group");
  EXPECT_TRUE(limiter.Admit(p.limits, "bob", {"sales"}, now).admitted);

  EXPECT_THROW(SeedLimiterFromAudit(dir.File("missing.db"), p, limiter, now),
               std::runtime_error);
}

}  // namespace
}  // namespace agni::testing
