// The break_glass effect in the policy language: where it stands among the
// other effects, what check-config rejects, what explain shows.
#include <gtest/gtest.h>

#include <set>

#include "policies/engine.h"
#include "policies/load/explain.h"
#include "policies/load/policy_loader.h"
#include "policies/review.h"

namespace agni::policy {
namespace {

using nlohmann::json;

const KnownPrincipals& Known() {
  static const KnownPrincipals known = {{"otto", "alice", "olga"},
                                        {"oncall", "support", "telecom-ops"}};
  return known;
}

std::optional<Policy> Parse(const std::string& text, ConfigErrors& errors) {
  return ParsePolicy(json::parse(text), "policy.json", Known(), errors);
}

const char* kBreakGlass =
    R"({"id":"bg","effect":"break_glass","users":["otto"],
        "break_glass":{"from_groups":["telecom-ops"],"review_within":"4h"}})";

Decision Decide(const std::string& other_rules, const std::string& number,
                const std::string& user = "otto") {
  ConfigErrors errors;
  const std::string text = std::string(R"({"rules":[)") + kBreakGlass +
                           (other_rules.empty() ? "" : "," + other_rules) +
                           "]}";
  auto p = Parse(text, errors);
  EXPECT_TRUE(p) << (errors.empty() ? "" : errors[0].message);
  static const std::vector<std::string> groups = {"oncall"};
  static std::vector<Policy> keep;  // the decision points into the policy
  keep.push_back(std::move(*p));
  return Evaluate(keep.back(), Subject{user, groups}, number);
}

TEST(BreakGlassPolicy, TakesThePlaceOfAnApprovalOrAnImplicitDenyOnly) {
  const std::string approval =
      R"({"id":"needs","effect":"require_approval","numbers":["+1415*"],
          "approval":{"approvals":1,"from_groups":["telecom-ops"],
                      "ttl":"1h","execute_within":"1h"}})";
  const std::string deny =
      R"({"id":"no","effect":"deny","numbers":["+1911*"]})";
  const std::string allow =
      R"({"id":"ok","effect":"allow","numbers":["+1555*"]})";
  struct Case {
    const char* name;
    std::string rules;
    std::string number;
    std::string user;
    Effect effect;
    std::string rule_id;
  };
  const Case cases[] = {
      {"instead of an approval", approval, "+14155550100", "otto",
       Effect::kBreakGlass, "bg"},
      {"instead of the implicit deny", "", "+16505550100", "otto",
       Effect::kBreakGlass, "bg"},
      {"never over a deny", deny, "+19115550100", "otto", Effect::kDeny, "no"},
      {"not where an allow applies", allow, "+15555550100", "otto",
       Effect::kAllow, "ok"},
      {"only for its users", approval, "+14155550100", "alice",
       Effect::kRequireApproval, "needs"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Decision d = Decide(c.rules, c.number, c.user);
    EXPECT_EQ(d.effect, c.effect);
    EXPECT_EQ(d.rule_id, c.rule_id);
    EXPECT_EQ(d.break_glass_rule != nullptr, c.effect == Effect::kBreakGlass);
  }
  EXPECT_EQ(EffectName(Effect::kBreakGlass), "break_glass");
}

TEST(BreakGlassPolicy, AShadowBreakGlassRuleChangesNothing) {
  ConfigErrors errors;
  auto p = Parse(R"({"rules":[
      {"id":"bg","effect":"break_glass","mode":"shadow","users":["otto"],
       "break_glass":{"from_groups":["telecom-ops"],"review_within":"1h"}}]})",
                 errors);
  ASSERT_TRUE(p);
  const std::vector<std::string> groups;
  const Decision d = Evaluate(*p, Subject{"otto", groups}, "+14155550100");
  EXPECT_EQ(d.effect, Effect::kDeny);
  EXPECT_TRUE(d.shadow_matched);
  EXPECT_EQ(d.shadow_effect, Effect::kBreakGlass);
}

TEST(BreakGlassPolicy, CheckConfigNamesEveryMistake) {
  ConfigErrors errors;
  EXPECT_FALSE(Parse(R"({"rules":[
      {"id":"a","effect":"break_glass"},
      {"id":"b","effect":"break_glass","users":["nobody"],
       "break_glass":{"from_groups":["ghosts"],"review_within":"10s"}},
      {"id":"c","effect":"break_glass","groups":["oncall"],
       "break_glass":{"from_groups":[],"reason_pattern":"("}},
      {"id":"d","effect":"allow","users":["otto"],
       "break_glass":{"from_groups":["telecom-ops"],"review_within":"1h"}}
    ]})",
                     errors));
  std::set<std::string> paths;
  for (const ConfigError& e : errors) paths.insert(e.path);
  for (const char* want : {
           "policy.json:$.rules[0].break_glass",  // the block is required
           "policy.json:$.rules[0].effect",       // names no users or groups
           "policy.json:$.rules[1].users[0]",
           "policy.json:$.rules[1].break_glass.from_groups[0]",
           "policy.json:$.rules[1].break_glass.review_within",  // under 1m
           "policy.json:$.rules[2].break_glass.from_groups",    // empty
           "policy.json:$.rules[2].break_glass.review_within",  // required
           "policy.json:$.rules[2].break_glass.reason_pattern",
           "policy.json:$.rules[3].break_glass",  // not a break_glass rule
       }) {
    EXPECT_TRUE(paths.contains(want)) << want;
  }
}

TEST(BreakGlassPolicy, ExplainShowsTheRuleAndItsReview) {
  ConfigErrors errors;
  const std::string text = std::string(R"({"rules":[)") + kBreakGlass + "]}";
  auto p = Parse(text, errors);
  ASSERT_TRUE(p);
  const std::vector<std::string> groups;
  const Request request{
      Subject{"otto", groups}, "+14155550100", nullptr, {}, std::nullopt};
  const json out = ExplanationJson(Explain(*p, request), *p, request);
  EXPECT_EQ(out["decision"], "break_glass");
  EXPECT_EQ(out["rule_id"], "bg");
  EXPECT_EQ(out["reason"], "break_glass");
  EXPECT_EQ(out["break_glass"]["reason"], "required");
  EXPECT_EQ(out["break_glass"]["review_from_groups"],
            json::array({"telecom-ops"}));
  EXPECT_EQ(out["break_glass"]["review_within_hours"], 4.0);
  EXPECT_EQ(out["rules"][0]["effect"], "break_glass");
}

TEST(BreakGlassReview, TheActorNeverReviewsThemselves) {
  Review r;
  r.actor = "otto";
  r.from_groups = {"telecom-ops"};
  r.due_us = 100;
  EXPECT_EQ(CheckAck(r, "otto", {"telecom-ops"}), ReviewAckError::kSelfReview);
  EXPECT_EQ(CheckAck(r, "mallory", {"contractors"}),
            ReviewAckError::kNotEligible);
  EXPECT_EQ(CheckAck(r, "olga", {"telecom-ops"}), ReviewAckError::kNone);
  EXPECT_FALSE(IsOverdue(r, 99));
  EXPECT_TRUE(IsOverdue(r, 100));
  r.status = ReviewStatus::kAcked;
  EXPECT_EQ(CheckAck(r, "olga", {"telecom-ops"}),
            ReviewAckError::kAlreadyAcked);
  EXPECT_FALSE(IsOverdue(r, 200));
}

}  // namespace
}  // namespace agni::policy
