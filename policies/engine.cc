#include "policies/engine.h"

#include <algorithm>

#include "policies/rule_match.h"

namespace agni::policy {
namespace {

template <typename T>
bool Contains(const std::vector<T>& haystack, std::string_view needle) {
  return std::find(haystack.begin(), haystack.end(), needle) != haystack.end();
}

bool AnyGroup(const std::vector<std::string>& wanted,
              const std::vector<std::string>& held) {
  return std::any_of(wanted.begin(), wanted.end(),
                     [&](const std::string& g) { return Contains(held, g); });
}

// Deny-over-allow among the rules of one mode.
struct Winner {
  const Rule* deny = nullptr;
  const Rule* allow = nullptr;
  const Rule* approval = nullptr;
  const Rule* break_glass = nullptr;
};

}  // namespace

std::string_view EffectName(Effect effect) {
  if (effect == Effect::kRequireApproval) return "require_approval";
  if (effect == Effect::kBreakGlass) return "break_glass";
  return effect == Effect::kAllow ? "allow" : "deny";
}

std::string_view ModeName(Mode mode) {
  return mode == Mode::kEnforce ? "enforce" : "shadow";
}

bool NumberPattern::Matches(std::string_view number) const {
  return is_prefix ? number.starts_with(text) : number == text;
}

bool RuleMatches(const Rule& rule, const Subject& subject,
                 std::string_view number) {
  if (!rule.users.empty() && !Contains(rule.users, subject.user)) return false;
  if (!rule.groups.empty() && !AnyGroup(rule.groups, subject.groups)) {
    return false;
  }
  if (!rule.numbers.empty() &&
      std::none_of(rule.numbers.begin(), rule.numbers.end(),
                   [&](const NumberPattern& p) { return p.Matches(number); })) {
    return false;
  }
  return true;
}

Decision Evaluate(const Policy& policy, const Subject& subject,
                  std::string_view number) {
  return Evaluate(policy, Request{subject, number, nullptr, {}, std::nullopt});
}

Decision Evaluate(const Policy& policy, const Request& request) {
  Winner enforced, shadow;
  std::vector<const Rule*> approval_rules;
  auto consider = [&](const Rule& rule) {
    Winner& w = rule.mode == Mode::kEnforce ? enforced : shadow;
    const Rule*& slot = rule.effect == Effect::kDeny         ? w.deny
                        : rule.effect == Effect::kAllow      ? w.allow
                        : rule.effect == Effect::kBreakGlass ? w.break_glass
                                                             : w.approval;
    const bool is_approval =
        rule.effect == Effect::kRequireApproval && rule.mode == Mode::kEnforce;
    if (slot == nullptr || is_approval) {
      if (CheckRule(rule, request).matched) {
        if (slot == nullptr) slot = &rule;
        if (is_approval) approval_rules.push_back(&rule);
      }
    }
    // Once an enforced deny has matched nothing can change the outcome but
    // the shadow result still can, so the walk goes on.
    return true;
  };
  if (policy.index) {
    policy.index->ForEachCandidate(
        request.subject, request.labels,
        [&](std::size_t i) { return consider(policy.rules[i]); });
  } else {
    for (const Rule& rule : policy.rules) consider(rule);
  }
  // Rules live in one vector: address order is policy order, whatever order
  // the index visited them in.
  std::sort(approval_rules.begin(), approval_rules.end());

  Decision d;
  if (policy.deny_unlisted_numbers && request.labels == nullptr) {
    d.effect = Effect::kDeny;
    d.rule_id = std::string(kUnlistedNumber);
  } else if (enforced.deny != nullptr) {
    d.effect = Effect::kDeny;
    d.rule_id = enforced.deny->id;
  } else if (enforced.break_glass != nullptr &&
             (enforced.approval != nullptr || enforced.allow == nullptr)) {
    d.effect = Effect::kBreakGlass;
    d.rule_id = enforced.break_glass->id;
    d.break_glass_rule = enforced.break_glass;
  } else if (enforced.approval != nullptr) {
    d.effect = Effect::kRequireApproval;
    d.rule_id = approval_rules.front()->id;
    d.approval_rules = std::move(approval_rules);
  } else if (enforced.allow != nullptr) {
    d.effect = Effect::kAllow;
    d.rule_id = enforced.allow->id;
  } else {
    d.effect = Effect::kDeny;
    d.rule_id = std::string(kImplicitDeny);
  }
  const Rule* s = shadow.deny          ? shadow.deny
                  : shadow.break_glass ? shadow.break_glass
                  : shadow.approval    ? shadow.approval
                                       : shadow.allow;
  if (s != nullptr) {
    d.shadow_matched = true;
    d.shadow_effect = s->effect;
    d.shadow_rule_id = s->id;
  }
  return d;
}

}  // namespace agni::policy
