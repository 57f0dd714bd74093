// The policy language beyond users/groups/numbers: inventory labels, time
// windows in IANA zones (DST included), source CIDRs with trusted proxies,
// precedence, explain traces, velocity limits, and the loader's errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "policies/conditions.h"
#include "policies/engine.h"
#include "policies/limits.h"
#include "policies/load/explain.h"
#include "policies/load/policy_loader.h"
#include "tests/support/config_errors.h"
#include "tests/support/helpers.h"

namespace agni::policy {
namespace {

using nlohmann::json;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using Tp = std::chrono::system_clock::time_point;

const KnownPrincipals& Known() {
  static const KnownPrincipals known = {
      {"alice", "bob", "olga"},
      {"support", "sales", "telecom-ops"},
  };
  return known;
}

using agni::testing::Dump;

Policy MustParse(const std::string& text) {
  ConfigErrors errors;
  auto p = ParsePolicy(json::parse(text), "policy.json", Known(), errors);
  EXPECT_TRUE(p.has_value()) << Dump(errors);
  return p.value_or(Policy{});
}

Tp At(const std::string& rfc3339) {
  auto t = ParseTimestamp(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  return t.value_or(Tp{});
}

// ---------------------------------------------------------------- addresses

TEST(CidrTest, MatchesIpv4Ipv6AndMappedAddresses) {
  struct Case {
    std::string cidr, address;
    bool contains;
  };
  const std::vector<Case> cases = {
      {"10.0.0.0/8", "10.255.1.2", true},
      {"10.0.0.0/8", "11.0.0.1", false},
      {"10.0.0.0/8", "::ffff:10.1.2.3", true},  // dual-stack peer form
      {"192.168.1.128/25", "192.168.1.200", true},
      {"192.168.1.128/25", "192.168.1.127", false},
      {"203.0.113.7", "203.0.113.7", true},  // a bare address is a /32
      {"203.0.113.7", "203.0.113.8", false},
      {"0.0.0.0/0", "8.8.8.8", true},
      {"0.0.0.0/0", "2001:db8::1", false},  // IPv4 "any" is not IPv6
      {"2001:db8::/32", "2001:db8:ffff::1", true},
      {"2001:db8::/32", "2001:db9::1", false},
      {"2001:db8:0:1::/64", "2001:db8:0:1:abcd::9", true},
      {"2001:db8::/63", "2001:db8:0:1::1", true},
      {"2001:db8::/63", "2001:db8:0:2::1", false},
      {"::1", "::1", true},
      {"::/0", "fe80::1", true},
      {"fd00::/8", "10.0.0.1", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.cidr + " " + c.address);
    auto cidr = Cidr::Parse(c.cidr);
    auto address = IpAddress::Parse(c.address);
    ASSERT_TRUE(cidr && address);
    EXPECT_EQ(cidr->Contains(*address), c.contains);
  }
}

TEST(CidrTest, RejectsMalformedRanges) {
  for (const char* bad :
       {"10.0.0.0/33", "10.1.2.3/8", "2001:db8::1/32", "10.0.0/8", "10.0.0.0/",
        "10.0.0.0/-1", "host", "", "::/129", "10.0.0.0/8x"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(Cidr::Parse(bad).has_value());
  }
}

TEST(ClientAddressTest, ForwardedForIsTrustedOnlyFromConfiguredProxies) {
  const std::vector<Cidr> proxies = {*Cidr::Parse("10.0.0.5"),
                                     *Cidr::Parse("fd00::/8")};
  struct Case {
    std::string name, peer;
    std::vector<std::string> xff;
    std::string expected;  // "" = unknown
  };
  const std::vector<Case> cases = {
      {"untrusted peer: header ignored",
       "198.51.100.9",
       {"10.1.1.1"},
       "198.51.100.9"},
      {"no header", "10.0.0.5", {}, "10.0.0.5"},
      {"trusted proxy: the client it saw",
       "10.0.0.5",
       {"203.0.113.4"},
       "203.0.113.4"},
      {"client spoofs a left-most entry",
       "10.0.0.5",
       {"1.2.3.4, 203.0.113.4"},
       "203.0.113.4"},
      {"chain of trusted proxies",
       "10.0.0.5",
       {"203.0.113.4, 10.0.0.5", "fd00::2"},
       "203.0.113.4"},
      {"IPv6 client via IPv6 proxy", "fd00::1", {"2001:db8::7"}, "2001:db8::7"},
      {"garbage hop", "10.0.0.5", {"not-an-ip"}, ""},
      {"only proxies", "10.0.0.5", {"10.0.0.5"}, ""},
      {"unparsable peer", "", {}, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto a = ClientAddress(c.peer, c.xff, proxies);
    EXPECT_EQ(a ? a->ToString() : "", c.expected);
  }
}

// ------------------------------------------------------------- time windows

TEST(TimeWindowTest, BusinessHoursAcrossDstInNewYork) {
  TimeWindow w;
  w.zone = FindZone("America/New_York");
  ASSERT_NE(w.zone, nullptr);
  w.days = 0b0111110;  // mon-fri
  w.hours = {*ParseHourRange("09:00-17:00")};
  struct Case {
    std::string utc;
    Tri expected;
  };
  const std::vector<Case> cases = {
      // Winter (EST, UTC-5): Monday 2026-11-02.
      {"2026-11-02T13:59:59Z", Tri::kNo},   // 08:59:59
      {"2026-11-02T14:00:00Z", Tri::kYes},  // 09:00
      {"2026-11-02T21:59:59Z", Tri::kYes},  // 16:59:59
      {"2026-11-02T22:00:00Z", Tri::kNo},   // 17:00 (end exclusive)
      // Summer (EDT, UTC-4) after the 2026-03-08 change: Monday 2026-03-09.
      {"2026-03-09T13:00:00Z", Tri::kYes},  // 09:00 EDT
      // The Friday before the change: 13:00Z is 08:00 EST.
      {"2026-03-06T13:00:00Z", Tri::kNo},
      // Saturday 2026-11-07 noon local.
      {"2026-11-07T17:00:00Z", Tri::kNo},
      // Monday 00:30 local is Monday; in UTC it is already 05:30 Monday.
      {"2026-11-03T04:30:00Z", Tri::kNo},  // Mon 23:30 local: outside hours
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.utc);
    EXPECT_EQ(w.Contains(At(c.utc)), c.expected);
  }
}

TEST(TimeWindowTest, DstGapAndFoldInBerlin) {
  TimeWindow w;
  w.zone = FindZone("Europe/Berlin");
  ASSERT_NE(w.zone, nullptr);
  w.hours = {*ParseHourRange("02:00-03:00")};
  // 2026-03-29: clocks jump 02:00 -> 03:00 CET->CEST at 01:00Z; the local
  // hour 02:xx does not exist.
  EXPECT_EQ(w.Contains(At("2026-03-29T00:59:59Z")), Tri::kNo);  // 01:59:59
  EXPECT_EQ(w.Contains(At("2026-03-29T01:00:00Z")), Tri::kNo);  // 03:00 CEST
  // 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00Z; 02:xx happens twice.
  EXPECT_EQ(w.Contains(At("2026-10-25T00:30:00Z")), Tri::kYes);  // 02:30 CEST
  EXPECT_EQ(w.Contains(At("2026-10-25T01:30:00Z")), Tri::kYes);  // 02:30 CET
  EXPECT_EQ(w.Contains(At("2026-10-25T02:00:00Z")), Tri::kNo);   // 03:00 CET
}

TEST(TimeWindowTest, OvernightRangeAndDaysUseTheLocalDay) {
  TimeWindow w;
  w.zone = FindZone("Asia/Tokyo");  // UTC+9, no DST
  ASSERT_NE(w.zone, nullptr);
  w.days = 1u << 6;  // saturday
  w.hours = {*ParseHourRange("22:00-06:00")};
  // Saturday 23:00 Tokyo = Saturday 14:00Z.
  EXPECT_EQ(w.Contains(At("2026-11-07T14:00:00Z")), Tri::kYes);
  // Saturday 05:00 Tokyo = Friday 20:00Z: local day is Saturday.
  EXPECT_EQ(w.Contains(At("2026-11-06T20:00:00Z")), Tri::kYes);
  // Sunday 01:00 Tokyo: Sunday is not in the window.
  EXPECT_EQ(w.Contains(At("2026-11-07T16:00:00Z")), Tri::kNo);
  // Saturday noon Tokyo.
  EXPECT_EQ(w.Contains(At("2026-11-07T03:00:00Z")), Tri::kNo);
}

TEST(TimeWindowTest, WithoutAZoneTheWindowCannotBeEvaluated) {
  TimeWindow w;  // zone == nullptr
  EXPECT_EQ(w.Contains(At("2026-11-02T14:00:00Z")), Tri::kUnknown);
  EXPECT_EQ(FindZone("Mars/Olympus_Mons"), nullptr);
  EXPECT_EQ(FindZone(""), nullptr);
  EXPECT_NE(FindZone("UTC"), nullptr);
}

TEST(TimestampTest, ParsesRfc3339WithOffsets) {
  EXPECT_EQ(At("2026-11-26T10:30:00+01:00"), At("2026-11-26T09:30:00Z"));
  EXPECT_EQ(At("2026-11-26T04:00:00-05:30"), At("2026-11-26T09:30:00Z"));
  EXPECT_EQ(At("2026-11-26T09:30:00.250Z") - At("2026-11-26T09:30:00Z"),
            std::chrono::milliseconds(250));
  for (const char* bad :
       {"2026-11-26", "2026-11-26T09:30:00", "2026-02-30T00:00:00Z",
        "2026-11-26T25:00:00Z", "yesterday", "2026-11-26T09:30:00+1"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseTimestamp(bad).has_value());
  }
}

// ------------------------------------------------------------------ engine

const char* kPolicy = R"({
  "rules": [
    {"id": "never-emergency", "effect": "deny", "numbers": ["+1911*"]},
    {"id": "no-prod-from-outside", "effect": "deny",
     "labels": {"env": "prod"}, "source_cidrs": ["10.0.0.0/8", "2001:db8::/32"],
     "description": "deny is listed first only to show order does not matter"},
    {"id": "prod-office-hours", "effect": "allow", "groups": ["telecom-ops"],
     "labels": {"env": "prod"},
     "when": {"time_zone": "America/New_York", "days": ["mon","tue","wed","thu","fri"],
              "hours": ["09:00-17:00"]}},
    {"id": "support-test", "effect": "allow", "groups": ["support"],
     "labels": {"env": "test"}},
    {"id": "office-only", "effect": "allow", "users": ["bob"],
     "source_cidrs": ["192.0.2.0/24"]},
    {"id": "trial-sales", "effect": "allow", "mode": "shadow",
     "groups": ["support"], "labels": {"team": "sales"}},
    {"id": "trial-block-bob", "effect": "deny", "mode": "shadow",
     "users": ["bob"]}
  ]
})";

struct EngineCase {
  std::string name;
  std::string user;
  std::vector<std::string> groups;
  std::string number;
  std::string time;
  std::string source;  // "" = unknown
  std::string effect;
  std::string rule;
  std::string shadow = "";  // "effect:rule" or ""
};

TEST(EngineTest, SelectorsConditionsAndPrecedence) {
  Policy policy = MustParse(kPolicy);
  const std::map<std::string, Labels> inventory = {
      {"+14155550100", {{"env", "prod"}, {"team", "sales"}}},
      {"+15555550123", {{"env", "test"}, {"team", "support"}}},
      {"+19115550000", {{"env", "test"}}},
  };
  const std::string weekday = "2026-11-02T15:00:00Z";  // Mon 10:00 New York
  const std::string night = "2026-11-03T03:00:00Z";    // Mon 22:00 New York
  const std::vector<EngineCase> cases = {
      {"label selects the number",
       "alice",
       {"support"},
       "+15555550123",
       weekday,
       "",
       "allow",
       "support-test"},
      {"label with another value",
       "alice",
       {"support"},
       "+14155550100",
       weekday,
       "198.51.100.1",
       "deny",
       "implicit_deny",
       "allow:trial-sales"},
      {"unlisted number has no labels",
       "alice",
       {"support"},
       "+15555559999",
       weekday,
       "",
       "deny",
       "implicit_deny"},
      {"deny beats a matching allow",
       "alice",
       {"support"},
       "+19115550000",
       weekday,
       "",
       "deny",
       "never-emergency"},
      {"time window inside",
       "olga",
       {"telecom-ops"},
       "+14155550100",
       weekday,
       "198.51.100.1",
       "allow",
       "prod-office-hours"},
      {"time window outside",
       "olga",
       {"telecom-ops"},
       "+14155550100",
       night,
       "198.51.100.1",
       "deny",
       "implicit_deny"},
      {"deny by source range v4",
       "olga",
       {"telecom-ops"},
       "+14155550100",
       weekday,
       "10.9.8.7",
       "deny",
       "no-prod-from-outside"},
      {"deny by source range v6",
       "olga",
       {"telecom-ops"},
       "+14155550100",
       weekday,
       "2001:db8::42",
       "deny",
       "no-prod-from-outside"},
      {"unknown source: the deny still applies (fail closed)",
       "olga",
       {"telecom-ops"},
       "+14155550100",
       weekday,
       "",
       "deny",
       "no-prod-from-outside"},
      {"allow by source range",
       "bob",
       {},
       "+15555550123",
       weekday,
       "192.0.2.10",
       "allow",
       "office-only",
       "deny:trial-block-bob"},
      {"allow outside the source range",
       "bob",
       {},
       "+15555550123",
       weekday,
       "192.0.3.10",
       "deny",
       "implicit_deny",
       "deny:trial-block-bob"},
      {"unknown source never lets an allow match",
       "bob",
       {},
       "+15555550123",
       weekday,
       "",
       "deny",
       "implicit_deny",
       "deny:trial-block-bob"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto labels = inventory.find(c.number);
    const Request request{
        {c.user, c.groups},
        c.number,
        labels == inventory.end() ? nullptr : &labels->second,
        At(c.time),
        c.source.empty() ? std::nullopt : IpAddress::Parse(c.source)};
    const Decision d = Evaluate(policy, request);
    EXPECT_EQ(EffectName(d.effect), c.effect);
    EXPECT_EQ(d.rule_id, c.rule);
    EXPECT_EQ(d.shadow_matched ? std::string(EffectName(d.shadow_effect)) +
                                     ":" + d.shadow_rule_id
                               : "",
              c.shadow);
  }
}

TEST(EngineTest, DenyUnlistedNumbersIsAnExplicitDeny) {
  Policy policy = MustParse(
      R"({"deny_unlisted_numbers": true,
          "rules": [{"id": "ops", "effect": "allow", "groups": ["telecom-ops"]}]})");
  const std::vector<std::string> groups = {"telecom-ops"};
  const Labels labels = {{"env", "test"}};
  const Decision unlisted =
      Evaluate(policy, Request{{"olga", groups}, "+15550001", nullptr, {}, {}});
  EXPECT_EQ(unlisted.effect, Effect::kDeny);
  EXPECT_EQ(unlisted.rule_id, "unlisted_number");
  const Decision listed =
      Evaluate(policy, Request{{"olga", groups}, "+15550001", &labels, {}, {}});
  EXPECT_EQ(listed.effect, Effect::kAllow);
  EXPECT_EQ(listed.rule_id, "ops");
}

TEST(ExplainTest, NamesTheSelectorOrConditionThatFailed) {
  Policy policy = MustParse(kPolicy);
  const Labels labels = {{"env", "prod"}, {"team", "sales"}};
  const std::vector<std::string> groups = {"telecom-ops"};
  const Request request{{"olga", groups},
                        "+14155550100",
                        &labels,
                        At("2026-11-03T03:00:00Z"),
                        IpAddress::Parse("10.1.1.1")};
  const Explanation e = Explain(policy, request);
  EXPECT_EQ(e.decision.rule_id, "no-prod-from-outside");
  std::map<std::string, std::string> failed;
  for (const RuleTrace& t : e.rules) failed[t.id] = t.matched ? "" : t.failed;
  EXPECT_EQ(failed.at("never-emergency"), "numbers");
  EXPECT_EQ(failed.at("no-prod-from-outside"), "");
  EXPECT_EQ(failed.at("prod-office-hours"), "when");
  EXPECT_EQ(failed.at("support-test"), "groups");
  EXPECT_EQ(failed.at("office-only"), "users");
  EXPECT_EQ(failed.at("trial-sales"), "groups");
  EXPECT_EQ(e.rules.size(), policy.rules.size());

  const json j = ExplanationJson(e, policy, request);
  EXPECT_EQ(j["decision"], "deny");
  EXPECT_EQ(j["reason"], "policy_denied");
  EXPECT_EQ(j["rule_id"], "no-prod-from-outside");
  EXPECT_EQ(j["source"], "10.1.1.1");
  EXPECT_EQ(j["time"], "2026-11-03T03:00:00Z");
  EXPECT_EQ(j["rules"][2]["failed"], "when");
  // Never the policy text: no description, no patterns.
  EXPECT_EQ(j.dump().find("order does not matter"), std::string::npos);
  EXPECT_EQ(j.dump().find("10.0.0.0/8"), std::string::npos);
}

// ------------------------------------------------------------------ loader

TEST(PolicyLanguageLoaderTest, LoadsTheDesignExample) {
  // DESIGN.md section 9, minus the require_approval rule.
  const Policy p = MustParse(R"({
    "rules": [
      { "id": "never-release-emergency", "effect": "deny", "numbers": ["+1911*"] },
      { "id": "support-test-numbers", "effect": "allow",
        "groups": ["support"], "labels": { "env": "test" } },
      { "id": "support-sandbox-prefix", "effect": "allow",
        "users": ["alice"], "numbers": ["+1555*"], "mode": "shadow" }
    ],
    "limits": [ { "id": "per-user-hourly", "per": "user", "max": 5, "window": "1h" } ]
  })");
  ASSERT_EQ(p.limits.size(), 1u);
  EXPECT_EQ(p.limits[0].id, "per-user-hourly");
  EXPECT_EQ(p.limits[0].per, Limit::Per::kUser);
  EXPECT_EQ(p.limits[0].max, 5);
  EXPECT_EQ(p.limits[0].window, hours(1));
  EXPECT_EQ(p.rules[1].labels.at("env"), "test");
}

TEST(PolicyLanguageLoaderTest, EachMistakeIsReportedAtItsPath) {
  struct Case {
    std::string name, policy, path, part;
  };
  const std::vector<Case> cases = {
      {"unknown zone",
       R"({"rules":[{"id":"a","effect":"allow","when":{"time_zone":"Europe/Atlantis"}}]})",
       "policy.json:$.rules[0].when.time_zone", "unknown IANA time zone"},
      {"zone required",
       R"({"rules":[{"id":"a","effect":"allow","when":{"days":["mon"]}}]})",
       "policy.json:$.rules[0].when.time_zone", "required"},
      {"bad day",
       R"({"rules":[{"id":"a","effect":"allow","when":[{"time_zone":"UTC","days":["monday"]}]}]})",
       "policy.json:$.rules[0].when[0].days[0]", "monday"},
      {"bad hours",
       R"({"rules":[{"id":"a","effect":"allow","when":{"time_zone":"UTC","hours":["9-17"]}}]})",
       "policy.json:$.rules[0].when.hours[0]", "HH:MM-HH:MM"},
      {"unknown key in a window",
       R"({"rules":[{"id":"a","effect":"allow","when":{"time_zone":"UTC","tz":"x"}}]})",
       "policy.json:$.rules[0].when.tz", "unknown key"},
      {"bad cidr",
       R"({"rules":[{"id":"a","effect":"allow","source_cidrs":["10.1.2.3/8"]}]})",
       "policy.json:$.rules[0].source_cidrs[0]", "10.1.2.3/8"},
      {"empty cidrs",
       R"({"rules":[{"id":"a","effect":"allow","source_cidrs":[]}]})",
       "policy.json:$.rules[0].source_cidrs", "must not be empty"},
      {"label not a string",
       R"({"rules":[{"id":"a","effect":"allow","labels":{"env":1}}]})",
       "policy.json:$.rules[0].labels.env", "string"},
      {"empty labels", R"({"rules":[{"id":"a","effect":"allow","labels":{}}]})",
       "policy.json:$.rules[0].labels", "non-empty"},
      {"limit per",
       R"({"rules":[],"limits":[{"id":"l","per":"team","max":1,"window":"1h"}]})",
       "policy.json:$.limits[0].per", "\"user\", \"group\" or \"global\""},
      {"limit max",
       R"({"rules":[],"limits":[{"id":"l","per":"user","max":0,"window":"1h"}]})",
       "policy.json:$.limits[0].max", "between"},
      {"limit max missing",
       R"({"rules":[],"limits":[{"id":"l","per":"user","window":"1h"}]})",
       "policy.json:$.limits[0].max", "required"},
      {"limit window",
       R"({"rules":[],"limits":[{"id":"l","per":"user","max":1,"window":"1 hour"}]})",
       "policy.json:$.limits[0].window", ""},
      {"duplicate limit",
       R"({"rules":[],"limits":[{"id":"l","per":"user","max":1,"window":"1h"},{"id":"l","per":"global","max":1,"window":"1h"}]})",
       "policy.json:$.limits[1].id", "duplicate"},
      {"reserved rule id",
       R"({"rules":[{"id":"unlisted_number","effect":"deny"}]})",
       "policy.json:$.rules[0].id", "unlisted_number"},
      {"deny_unlisted_numbers type",
       R"({"rules":[],"deny_unlisted_numbers":"yes"})",
       "policy.json:$.deny_unlisted_numbers", "true or false"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ConfigErrors errors;
    auto p = ParsePolicy(json::parse(c.policy), "policy.json", Known(), errors);
    EXPECT_FALSE(p.has_value());
    auto it =
        std::find_if(errors.begin(), errors.end(),
                     [&](const ConfigError& e) { return e.path == c.path; });
    ASSERT_NE(it, errors.end()) << Dump(errors);
    EXPECT_NE(it->message.find(c.part), std::string::npos) << Dump(errors);
  }
}

// ------------------------------------------------------------------ limits

// Admits one release at `at` and settles it as released; false when the
// limiter refused it.
bool AdmitAndRelease(VelocityLimiter& limiter, const std::vector<Limit>& limits,
                     const std::string& user,
                     const std::vector<std::string>& groups, Tp at) {
  auto v = limiter.Admit(limits, user, groups, at);
  if (!v.admitted) return false;
  limiter.Settle(v.ticket, true);
  return true;
}

TEST(VelocityLimiterTest, PerUserLimitSlidesWithTheWindow) {
  VelocityLimiter limiter;
  const std::vector<Limit> limits = {
      {"hourly", Limit::Per::kUser, 2, hours(1)}};
  const std::vector<std::string> groups = {"support"};
  const Tp t0 = At("2026-11-26T10:00:00Z");
  ASSERT_TRUE(AdmitAndRelease(limiter, limits, "alice", groups, t0));
  ASSERT_TRUE(
      AdmitAndRelease(limiter, limits, "alice", groups, t0 + minutes(20)));

  auto c = limiter.Admit(limits, "alice", groups, t0 + minutes(30));
  EXPECT_FALSE(c.admitted);
  EXPECT_EQ(c.limit_id, "hourly");
  EXPECT_EQ(c.retry_after, minutes(30));  // the 10:00 release ages out at 11:00
  // Another user is not affected.
  EXPECT_TRUE(limiter.Admit(limits, "bob", groups, t0 + minutes(30)).admitted);
  // Exactly one window after the first release, a slot is free again.
  EXPECT_FALSE(
      limiter.Admit(limits, "alice", groups, t0 + hours(1) - seconds(1))
          .admitted);
  EXPECT_TRUE(limiter.Admit(limits, "alice", groups, t0 + hours(1)).admitted);
}

TEST(VelocityLimiterTest, OnlyReleasesCount) {
  VelocityLimiter limiter;
  const std::vector<Limit> limits = {{"one", Limit::Per::kUser, 1, hours(1)}};
  const std::vector<std::string> groups;
  const Tp t0 = At("2026-11-26T10:00:00Z");
  auto a = limiter.Admit(limits, "alice", groups, t0);
  ASSERT_TRUE(a.admitted);
  // While the first release is in flight it already counts.
  EXPECT_FALSE(limiter.Admit(limits, "alice", groups, t0).admitted);
  limiter.Settle(a.ticket, false);  // rejected by the upstream: not a release
  ASSERT_TRUE(
      AdmitAndRelease(limiter, limits, "alice", groups, t0 + seconds(1)));
  EXPECT_FALSE(
      limiter.Admit(limits, "alice", groups, t0 + seconds(2)).admitted);
}

TEST(VelocityLimiterTest, PerGroupAndGlobalLimits) {
  VelocityLimiter limiter;
  const std::vector<Limit> limits = {
      {"support-daily", Limit::Per::kGroup, 2, hours(24)},
      {"global", Limit::Per::kGlobal, 3, hours(1)}};
  const Tp t0 = At("2026-11-26T10:00:00Z");
  const std::vector<std::string> support = {"support"}, ops = {"telecom-ops"};
  for (const char* user : {"alice", "bob"}) {
    ASSERT_TRUE(AdmitAndRelease(limiter, limits, user, support, t0));
  }
  auto third = limiter.Admit(limits, "carol", support, t0 + minutes(1));
  EXPECT_FALSE(third.admitted);
  EXPECT_EQ(third.limit_id, "support-daily");
  ASSERT_TRUE(AdmitAndRelease(limiter, limits, "olga", ops, t0 + minutes(1)));
  auto ops2 = limiter.Admit(limits, "olga", ops, t0 + minutes(2));
  EXPECT_FALSE(ops2.admitted);
  EXPECT_EQ(ops2.limit_id, "global");
  // The first of the three in the hour ages out at 11:00.
  EXPECT_EQ(ops2.retry_after, minutes(58));
}

TEST(VelocityLimiterTest, ConcurrentRequestsCannotOvershoot) {
  VelocityLimiter limiter;
  const std::vector<Limit> limits = {
      {"global", Limit::Per::kGlobal, 10, hours(1)}};
  const Tp now = At("2026-11-26T10:00:00Z");
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto v =
            limiter.Admit(limits, ::agni::testing::Numbered("u", t), {}, now);
        if (v.admitted) {
          ++admitted;
          limiter.Settle(v.ticket, true);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), 10);
}

TEST(VelocityLimiterTest, RecordedHistoryCounts) {
  VelocityLimiter limiter;
  const std::vector<Limit> limits = {
      {"hourly", Limit::Per::kUser, 2, hours(1)}};
  const Tp now = At("2026-11-26T10:00:00Z");
  limiter.Record("alice", {}, now - minutes(90));  // outside the window
  limiter.Record("alice", {}, now - minutes(50));
  limiter.Record("alice", {}, now - minutes(10));
  auto v = limiter.Admit(limits, "alice", {}, now);
  EXPECT_FALSE(v.admitted);
  EXPECT_EQ(v.retry_after, minutes(10));
  EXPECT_EQ(limiter.CountForTest(Limit::Per::kUser, "alice", hours(1), now),
            2u);
}

}  // namespace
}  // namespace agni::policy

namespace agni::policy {
namespace {

// The rule index is only a shortcut: over random policies and requests it
// must decide exactly as a walk over every rule does.
TEST(RuleIndexTest, DecidesExactlyAsAFullWalk) {
  std::mt19937 rng(7);
  auto pick = [&](const std::vector<std::string>& from) {
    return from[rng() % from.size()];
  };
  const std::vector<std::string> users = {"alice", "bob", "olga"};
  const std::vector<std::string> groups = {"support", "sales", "telecom-ops"};
  const std::vector<std::string> envs = {"prod", "test"};
  const std::vector<std::string> numbers = {"+15550001", "+15550002",
                                            "+19110001", "+14150001"};
  for (int round = 0; round < 200; ++round) {
    json rules = json::array();
    const int n = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) {
      json r = {{"id", ::agni::testing::Numbered("r", i)},
                {"effect", rng() % 3 == 0 ? "deny" : "allow"}};
      if (rng() % 4 == 0) r["mode"] = "shadow";
      if (rng() % 3 == 0) r["users"] = {pick(users)};
      if (rng() % 3 == 0) r["groups"] = {pick(groups), pick(groups)};
      if (rng() % 3 == 0) r["labels"] = {{"env", pick(envs)}};
      if (rng() % 4 == 0) r["numbers"] = {pick(numbers).substr(0, 5) + "*"};
      rules.push_back(r);
    }
    ConfigErrors errors;
    auto indexed = ParsePolicy({{"rules", rules}}, "p", Known(), errors);
    ASSERT_TRUE(indexed.has_value()) << Dump(errors) << rules.dump();
    ASSERT_NE(indexed->index, nullptr);
    Policy walked = *indexed;
    walked.index = nullptr;
    for (int q = 0; q < 20; ++q) {
      const std::vector<std::string> held = {pick(groups)};
      const Labels labels = {{"env", pick(envs)}, {"team", "x"}};
      const std::string user = pick(users), number = pick(numbers);
      const Request request{
          {user, held}, number, rng() % 4 == 0 ? nullptr : &labels, Tp{}, {}};
      const Decision a = Evaluate(*indexed, request);
      const Decision b = Evaluate(walked, request);
      SCOPED_TRACE(rules.dump() + " user=" + user + " number=" + number);
      EXPECT_EQ(a.effect, b.effect);
      EXPECT_EQ(a.rule_id, b.rule_id);
      EXPECT_EQ(a.shadow_matched, b.shadow_matched);
      EXPECT_EQ(a.shadow_rule_id, b.shadow_rule_id);
    }
  }
}

}  // namespace
}  // namespace agni::policy
