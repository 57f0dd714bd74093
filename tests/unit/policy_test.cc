// The policy engine decides whether a release goes ahead and names the rule
// that decided; the loader refuses any policy it cannot enforce exactly as
// written, listing every problem with its path.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policies/engine.h"
#include "policies/load/policy_loader.h"
#include "tests/support/config_errors.h"

namespace agni::policy {
namespace {

using nlohmann::json;

const KnownPrincipals& Known() {
  static const KnownPrincipals known = {
      {"alice", "bob", "olga", "svc-billing"},
      {"support", "sales", "telecom-ops"},
  };
  return known;
}

// Parses `text`, failing the test (with every error) if it does not load.
Policy MustParse(const std::string& text) {
  ConfigErrors errors;
  auto p = ParsePolicy(json::parse(text), "policy.json", Known(), errors);
  std::string all;
  for (const auto& e : errors) all += e.path + ": " + e.message + "\n";
  EXPECT_TRUE(p.has_value()) << all;
  EXPECT_TRUE(errors.empty()) << all;
  return p.value_or(Policy{});
}

ConfigErrors ParseErrors(const json& doc) {
  ConfigErrors errors;
  auto p = ParsePolicy(doc, "policy.json", Known(), errors);
  EXPECT_FALSE(p.has_value());
  return errors;
}

using agni::testing::Dump;
using agni::testing::HasErrorAt;
using agni::testing::MessageAt;

Decision Decide(const Policy& p, std::string_view user,
                const std::vector<std::string>& groups,
                std::string_view number) {
  return Evaluate(p, Subject{user, groups}, number);
}

const std::vector<std::string> kSupport = {"support"};
const std::vector<std::string> kNoGroups = {};

// --- Evaluate ---------------------------------------------------------------

TEST(EvaluateTest, DenyWinsOverAllowWhicheverComesFirst) {
  const Policy deny_first = MustParse(R"({"rules": [
      {"id": "no-emergency", "effect": "deny", "numbers": ["+1911*"]},
      {"id": "support-all", "effect": "allow", "groups": ["support"]}]})");
  const Policy allow_first = MustParse(R"({"rules": [
      {"id": "support-all", "effect": "allow", "groups": ["support"]},
      {"id": "no-emergency", "effect": "deny", "numbers": ["+1911*"]}]})");
  for (const Policy* p : {&deny_first, &allow_first}) {
    SCOPED_TRACE(p == &deny_first ? "deny first" : "allow first");
    const Decision d = Decide(*p, "alice", kSupport, "+19115550100");
    EXPECT_EQ(d.effect, Effect::kDeny);
    EXPECT_EQ(d.rule_id, "no-emergency");
    // The same policy still allows what the deny does not cover.
    const Decision ok = Decide(*p, "alice", kSupport, "+14155550100");
    EXPECT_EQ(ok.effect, Effect::kAllow);
    EXPECT_EQ(ok.rule_id, "support-all");
  }
}

TEST(EvaluateTest, FirstMatchingDenyIsNamedWhenSeveralDenyRulesMatch) {
  const Policy p = MustParse(R"({"rules": [
      {"id": "allow-alice", "effect": "allow", "users": ["alice"]},
      {"id": "deny-a", "effect": "deny", "numbers": ["+1911*"]},
      {"id": "deny-b", "effect": "deny", "users": ["alice"]}]})");
  const Decision d = Decide(p, "alice", kNoGroups, "+19115550100");
  EXPECT_EQ(d.effect, Effect::kDeny);
  EXPECT_EQ(d.rule_id, "deny-a");
}

TEST(EvaluateTest, FirstMatchingAllowNamesItsRule) {
  const Policy p = MustParse(R"({"rules": [
      {"id": "bob-only", "effect": "allow", "users": ["bob"]},
      {"id": "support-sandbox", "effect": "allow", "groups": ["support"],
       "numbers": ["+1555*"]},
      {"id": "support-all", "effect": "allow", "groups": ["support"]}]})");
  EXPECT_EQ(Decide(p, "alice", kSupport, "+15550001111").rule_id,
            "support-sandbox");
  EXPECT_EQ(Decide(p, "alice", kSupport, "+14155550100").rule_id,
            "support-all");
  EXPECT_EQ(Decide(p, "bob", kSupport, "+15550001111").rule_id, "bob-only");
}

TEST(EvaluateTest, NothingMatchingIsAnImplicitDeny) {
  const Policy p = MustParse(R"({"rules": [
      {"id": "bob-only", "effect": "allow", "users": ["bob"]}]})");
  const Decision d = Decide(p, "alice", kSupport, "+14155550100");
  EXPECT_EQ(d.effect, Effect::kDeny);
  EXPECT_EQ(d.rule_id, "implicit_deny");
  EXPECT_EQ(d.rule_id, kImplicitDeny);
  EXPECT_FALSE(d.shadow_matched);

  const Policy empty = MustParse(R"({"rules": []})");
  const Decision e = Decide(empty, "alice", kSupport, "+14155550100");
  EXPECT_EQ(e.effect, Effect::kDeny);
  EXPECT_EQ(e.rule_id, "implicit_deny");
}

TEST(EvaluateTest, SelectorsMatchUsersGroupsAndNumbersAndOmittedMatchesAll) {
  const Policy p = MustParse(R"({"rules": [
      {"id": "by-user", "effect": "allow", "users": ["bob", "olga"],
       "numbers": ["+10000000001"]},
      {"id": "by-group", "effect": "allow", "groups": ["sales", "telecom-ops"],
       "numbers": ["+10000000002"]},
      {"id": "exact", "effect": "allow", "numbers": ["+14155550100"]},
      {"id": "prefix", "effect": "allow", "numbers": ["+1555*"]},
      {"id": "all-selectors", "effect": "allow", "users": ["alice"],
       "groups": ["support"], "numbers": ["+4420*"]}]})");
  struct Case {
    std::string user;
    std::vector<std::string> groups;
    std::string number;
    std::string rule;  // "implicit_deny" when nothing should allow
  };
  const std::vector<Case> cases = {
      {"bob", {}, "+10000000001", "by-user"},
      {"olga", {}, "+10000000001", "by-user"},
      {"alice", {}, "+10000000001", "implicit_deny"},
      // A user selector compares names exactly.
      {"Bob", {}, "+10000000001", "implicit_deny"},
      {"bo", {}, "+10000000001", "implicit_deny"},
      {"alice", {"support", "sales"}, "+10000000002", "by-group"},
      {"alice", {"telecom-ops"}, "+10000000002", "by-group"},
      {"alice", {"support"}, "+10000000002", "implicit_deny"},
      {"alice", {"Sales"}, "+10000000002", "implicit_deny"},
      {"alice", {}, "+10000000002", "implicit_deny"},
      // Exact numbers are exact: neither longer nor shorter numbers match.
      {"anyone", {}, "+14155550100", "exact"},
      {"anyone", {}, "+141555501001", "implicit_deny"},
      {"anyone", {}, "+1415555010", "implicit_deny"},
      // A prefix matches anything that starts with it, including itself.
      {"anyone", {}, "+15550001111", "prefix"},
      {"anyone", {}, "+1555", "prefix"},
      {"anyone", {}, "+1556", "implicit_deny"},
      {"anyone", {}, "+11555", "implicit_deny"},
      // Every named selector must match.
      {"alice", {"support"}, "+442071838750", "all-selectors"},
      {"alice", {"sales"}, "+442071838750", "implicit_deny"},
      {"bob", {"support"}, "+442071838750", "implicit_deny"},
      {"alice", {"support"}, "+442171838750", "implicit_deny"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.user + " " + c.number);
    const Decision d = Decide(p, c.user, c.groups, c.number);
    EXPECT_EQ(d.rule_id, c.rule);
    EXPECT_EQ(d.effect,
              c.rule == "implicit_deny" ? Effect::kDeny : Effect::kAllow);
  }
}

TEST(EvaluateTest, RuleWithoutSelectorsMatchesEveryone) {
  const Policy p = MustParse(R"({"rules": [
      {"id": "freeze", "effect": "deny"},
      {"id": "support-all", "effect": "allow", "groups": ["support"]}]})");
  EXPECT_EQ(Decide(p, "alice", kSupport, "+14155550100").rule_id, "freeze");
  EXPECT_EQ(Decide(p, "", kNoGroups, "+12").rule_id, "freeze");
}

TEST(EvaluateTest, ShadowRulesAreReportedButNeverChangeTheOutcome) {
  struct Case {
    std::string name;
    std::string policy;
    std::string number;
    Effect effect;
    std::string rule;
    bool shadow_matched;
    Effect shadow_effect;
    std::string shadow_rule;
  };
  const std::vector<Case> cases = {
      {"shadow deny does not block an allow",
       R"({"rules": [
           {"id": "try-deny", "effect": "deny", "mode": "shadow"},
           {"id": "support-all", "effect": "allow", "groups": ["support"]}]})",
       "+14155550100", Effect::kAllow, "support-all", true, Effect::kDeny,
       "try-deny"},
      {"shadow allow does not lift an implicit deny",
       R"({"rules": [
           {"id": "try-allow", "effect": "allow", "mode": "shadow",
            "users": ["alice"], "numbers": ["+1555*"]}]})",
       "+15550001111", Effect::kDeny, "implicit_deny", true, Effect::kAllow,
       "try-allow"},
      {"shadow allow does not lift an enforced deny",
       R"({"rules": [
           {"id": "try-allow", "effect": "allow", "mode": "shadow"},
           {"id": "no-emergency", "effect": "deny", "numbers": ["+1911*"]}]})",
       "+19115550100", Effect::kDeny, "no-emergency", true, Effect::kAllow,
       "try-allow"},
      {"shadow deny beats shadow allow in the shadow report",
       R"({"rules": [
           {"id": "s-allow", "effect": "allow", "mode": "shadow"},
           {"id": "s-deny", "effect": "deny", "mode": "shadow"},
           {"id": "support-all", "effect": "allow", "groups": ["support"]}]})",
       "+14155550100", Effect::kAllow, "support-all", true, Effect::kDeny,
       "s-deny"},
      {"non-matching shadow rule is not reported",
       R"({"rules": [
           {"id": "s-deny", "effect": "deny", "mode": "shadow",
            "numbers": ["+1911*"]},
           {"id": "support-all", "effect": "allow", "groups": ["support"]}]})",
       "+14155550100", Effect::kAllow, "support-all", false, Effect::kDeny, ""},
      {"explicit enforce mode is enforced",
       R"({"rules": [
           {"id": "freeze", "effect": "deny", "mode": "enforce"},
           {"id": "support-all", "effect": "allow", "groups": ["support"]}]})",
       "+14155550100", Effect::kDeny, "freeze", false, Effect::kDeny, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const Policy p = MustParse(c.policy);
    const Decision d = Decide(p, "alice", kSupport, c.number);
    EXPECT_EQ(d.effect, c.effect);
    EXPECT_EQ(d.rule_id, c.rule);
    EXPECT_EQ(d.shadow_matched, c.shadow_matched);
    if (c.shadow_matched) {
      EXPECT_EQ(d.shadow_effect, c.shadow_effect);
      EXPECT_EQ(d.shadow_rule_id, c.shadow_rule);
    } else {
      EXPECT_TRUE(d.shadow_rule_id.empty());
    }
  }
}

TEST(EvaluateTest, PolicyWithOnlyShadowRulesDeniesEverything) {
  const Policy p = MustParse(R"({"rules": [
      {"id": "s-allow", "effect": "allow", "mode": "shadow"}]})");
  const Decision d = Decide(p, "alice", kSupport, "+14155550100");
  EXPECT_EQ(d.effect, Effect::kDeny);
  EXPECT_EQ(d.rule_id, "implicit_deny");
  EXPECT_TRUE(d.shadow_matched);
  EXPECT_EQ(d.shadow_effect, Effect::kAllow);
}

TEST(EvaluateTest, EffectAndModeNames) {
  EXPECT_EQ(EffectName(Effect::kAllow), "allow");
  EXPECT_EQ(EffectName(Effect::kDeny), "deny");
  EXPECT_EQ(ModeName(Mode::kEnforce), "enforce");
  EXPECT_EQ(ModeName(Mode::kShadow), "shadow");
}

// --- ParsePolicy
// --------------------------------------------------------------

TEST(ParsePolicyTest, ValidPolicyLoadsRulesInOrderWithTheirFields) {
  const Policy p = MustParse(R"({"rules": [
      {"id": "no-emergency", "effect": "deny", "numbers": ["+1911*", "+112"],
       "description": "never release emergency numbers"},
      {"id": "try", "effect": "allow", "mode": "shadow", "users": ["alice"],
       "groups": ["support"]}]})");
  ASSERT_EQ(p.rules.size(), 2u);
  EXPECT_EQ(p.rules[0].id, "no-emergency");
  EXPECT_EQ(p.rules[0].effect, Effect::kDeny);
  EXPECT_EQ(p.rules[0].mode, Mode::kEnforce);
  ASSERT_EQ(p.rules[0].numbers.size(), 2u);
  EXPECT_EQ(p.rules[0].numbers[0].text, "+1911");
  EXPECT_TRUE(p.rules[0].numbers[0].is_prefix);
  EXPECT_EQ(p.rules[0].numbers[1].text, "+112");
  EXPECT_FALSE(p.rules[0].numbers[1].is_prefix);
  EXPECT_EQ(p.rules[1].mode, Mode::kShadow);
  EXPECT_EQ(p.rules[1].users, std::vector<std::string>{"alice"});
  EXPECT_EQ(p.rules[1].groups, std::vector<std::string>{"support"});
  EXPECT_EQ(p.hash.size(), 64u);
}

struct ErrorCase {
  std::string name;
  std::string policy;
  std::string path;
  std::string message_part;
};

TEST(ParsePolicyTest, EachMistakeIsReportedAtItsExactPath) {
  const std::vector<ErrorCase> cases = {
      {"unknown key in a rule",
       R"({"rules": [{"id": "a", "effect": "allow", "bogus": 1}]})",
       "policy.json:$.rules[0].bogus", "unknown key"},
      {"unknown top-level key", R"({"rules": [], "extra": true})",
       "policy.json:$.extra", "unknown key"},
      {"duplicate ids",
       R"({"rules": [{"id": "a", "effect": "allow"},
                     {"id": "b", "effect": "allow"},
                     {"id": "a", "effect": "deny"}]})",
       "policy.json:$.rules[2].id", "duplicate"},
      {"bad effect", R"({"rules": [{"id": "a", "effect": "permit"}]})",
       "policy.json:$.rules[0].effect", "\"allow\" or \"deny\""},
      {"effect wrong case", R"({"rules": [{"id": "a", "effect": "Allow"}]})",
       "policy.json:$.rules[0].effect", "\"allow\" or \"deny\""},
      {"require_approval without its requirement",
       R"({"rules": [{"id": "a", "effect": "require_approval"}]})",
       "policy.json:$.rules[0].approval", "is required"},
      {"missing effect", R"({"rules": [{"id": "a"}]})",
       "policy.json:$.rules[0].effect", "required"},
      {"missing id", R"({"rules": [{"effect": "deny"}]})",
       "policy.json:$.rules[0].id", "required"},
      {"id named implicit_deny",
       R"({"rules": [{"id": "implicit_deny", "effect": "allow"}]})",
       "policy.json:$.rules[0].id", "implicit_deny"},
      {"id with a space", R"({"rules": [{"id": "a b", "effect": "allow"}]})",
       "policy.json:$.rules[0].id", "characters"},
      {"bad mode",
       R"({"rules": [{"id": "a", "effect": "allow", "mode": "audit"}]})",
       "policy.json:$.rules[0].mode", "\"enforce\" or \"shadow\""},
      {"bad number pattern",
       R"({"rules": [{"id": "a", "effect": "deny",
                      "numbers": ["+1415", "1911*"]}]})",
       "policy.json:$.rules[0].numbers[1]", "1911*"},
      {"star in the middle",
       R"({"rules": [{"id": "a", "effect": "deny", "numbers": ["+1*5"]}]})",
       "policy.json:$.rules[0].numbers[0]", "prefix"},
      {"dashed number",
       R"({"rules": [{"id": "a", "effect": "deny",
                      "numbers": ["+1-415-555-0100"]}]})",
       "policy.json:$.rules[0].numbers[0]", "E.164"},
      {"unknown user",
       R"({"rules": [{"id": "a", "effect": "deny",
                      "users": ["alice", "mallory"]}]})",
       "policy.json:$.rules[0].users[1]", "mallory"},
      {"unknown group",
       R"({"rules": [{"id": "a", "effect": "deny", "groups": ["admins"]}]})",
       "policy.json:$.rules[0].groups[0]", "admins"},
      {"user name is not a group",
       R"({"rules": [{"id": "a", "effect": "deny", "groups": ["alice"]}]})",
       "policy.json:$.rules[0].groups[0]", "alice"},
      {"empty users",
       R"({"rules": [{"id": "a", "effect": "deny", "users": []}]})",
       "policy.json:$.rules[0].users", "must not be empty"},
      {"empty groups",
       R"({"rules": [{"id": "a", "effect": "deny", "groups": []}]})",
       "policy.json:$.rules[0].groups", "must not be empty"},
      {"empty numbers",
       R"({"rules": [{"id": "a", "effect": "deny", "numbers": []}]})",
       "policy.json:$.rules[0].numbers", "must not be empty"},
      {"users not an array",
       R"({"rules": [{"id": "a", "effect": "deny", "users": "alice"}]})",
       "policy.json:$.rules[0].users", "array"},
      {"empty string in users",
       R"({"rules": [{"id": "a", "effect": "deny", "users": [""]}]})",
       "policy.json:$.rules[0].users[0]", "non-empty"},
      {"rule not an object", R"({"rules": ["deny everything"]})",
       "policy.json:$.rules[0]", "object"},
      {"missing rules", R"({})", "policy.json:$.rules", "required"},
      {"rules not an array", R"({"rules": {"id": "a"}})", "policy.json:$.rules",
       "array"},
      {"non-object doc", R"([{"id": "a", "effect": "allow"}])", "policy.json:$",
       "object"},
      {"string doc", R"("allow everything")", "policy.json:$", "object"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const ConfigErrors errors = ParseErrors(json::parse(c.policy));
    ASSERT_TRUE(HasErrorAt(errors, c.path)) << Dump(errors);
    EXPECT_NE(MessageAt(errors, c.path).find(c.message_part), std::string::npos)
        << Dump(errors);
  }
}

TEST(ParsePolicyTest, ReportsEveryErrorAtOnce) {
  const json doc = json::parse(R"({
    "rules": [
      {"id": "a", "effect": "allow", "bogus": 1},
      {"id": "a", "effect": "permit"},
      {"id": "c", "effect": "require_approval"},
      {"id": "d", "effect": "deny", "numbers": ["1911*"]},
      {"id": "e", "effect": "deny", "users": ["mallory"]},
      {"id": "f", "effect": "deny", "groups": ["admins"]},
      {"id": "g", "effect": "deny", "numbers": []}
    ],
    "limits": []
  })");
  const ConfigErrors errors = ParseErrors(doc);
  const std::vector<std::string> expected = {
      "policy.json:$.limits",
      "policy.json:$.rules[0].bogus",
      "policy.json:$.rules[1].id",
      "policy.json:$.rules[1].effect",
      "policy.json:$.rules[2].approval",
      "policy.json:$.rules[3].numbers[0]",
      "policy.json:$.rules[4].users[0]",
      "policy.json:$.rules[5].groups[0]",
      "policy.json:$.rules[6].numbers",
  };
  EXPECT_EQ(errors.size(), expected.size()) << Dump(errors);
  for (const auto& path : expected) {
    EXPECT_TRUE(HasErrorAt(errors, path)) << path << "\n" << Dump(errors);
  }
}

TEST(ParsePolicyTest, ErrorsAreAppendedToThoseAlreadyCollected) {
  ConfigErrors errors = {{"$.listen", "earlier problem"}};
  auto p = ParsePolicy(json::parse(R"({"rules": []})"), "policy.json", Known(),
                       errors);
  // A valid policy loads even when the caller already holds errors.
  EXPECT_TRUE(p.has_value());
  EXPECT_EQ(errors.size(), 1u);
}

TEST(ParsePolicyTest, HashIsStableAcrossKeyOrderAndWhitespace) {
  const Policy a =
      MustParse(R"({"rules":[{"id":"x","effect":"deny","numbers":["+1911*"]},)"
                R"({"id":"y","effect":"allow","groups":["support"]}]})");
  const Policy b = MustParse(R"({
      "rules": [
        { "numbers": [ "+1911*" ],   "effect": "deny", "id": "x" },
        {
          "groups": ["support"],
          "id": "y",
          "effect": "allow"
        }
      ]
    })");
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.hash.size(), 64u);
}

TEST(ParsePolicyTest, HashDiffersForDifferentPolicies) {
  const std::string base =
      R"({"rules":[{"id":"x","effect":"deny","numbers":["+1911*"]},)"
      R"({"id":"y","effect":"allow","groups":["support"]}]})";
  const std::vector<std::string> variants = {
      // Rule order matters to which rule is named.
      R"({"rules":[{"id":"y","effect":"allow","groups":["support"]},)"
      R"({"id":"x","effect":"deny","numbers":["+1911*"]}]})",
      R"({"rules":[{"id":"x","effect":"deny","numbers":["+1912*"]},)"
      R"({"id":"y","effect":"allow","groups":["support"]}]})",
      R"({"rules":[{"id":"x","effect":"deny","numbers":["+1911*"]},)"
      R"({"id":"y","effect":"allow","groups":["sales"]}]})",
      R"({"rules":[{"id":"x","effect":"deny","numbers":["+1911*"]},)"
      R"({"id":"y","effect":"allow","groups":["support"],"mode":"shadow"}]})",
      R"({"rules":[{"id":"x","effect":"deny","numbers":["+1911*"]}]})",
  };
  const std::string base_hash = MustParse(base).hash;
  for (const auto& v : variants) {
    SCOPED_TRACE(v);
    EXPECT_NE(MustParse(v).hash, base_hash);
  }
}

}  // namespace
}  // namespace agni::policy
