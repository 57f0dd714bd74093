#include "policies/load/explain.h"

#include <date/date.h>

#include "policies/rule_match.h"

namespace agni::policy {

Explanation Explain(const Policy& policy, const Request& request) {
  Explanation e;
  e.decision = Evaluate(policy, request);
  e.rules.reserve(policy.rules.size());
  for (const Rule& rule : policy.rules) {
    const RuleCheck check = CheckRule(rule, request);
    e.rules.push_back(
        {rule.id, rule.effect, rule.mode, check.matched,
         std::string(check.failed),
         check.matched ? "" : DescribeFailure(rule, request, check.failed)});
  }
  return e;
}

std::string_view DecisionReason(const Decision& d) {
  if (d.effect == Effect::kBreakGlass) return "break_glass";
  return d.effect == Effect::kAllow ? "" : "policy_denied";
}

nlohmann::json ExplanationJson(const Explanation& e, const Policy& policy,
                               const Request& request) {
  using nlohmann::json;
  json rules = json::array();
  for (const RuleTrace& t : e.rules) {
    json r = {{"id", t.id},
              {"effect", EffectName(t.effect)},
              {"mode", ModeName(t.mode)},
              {"matched", t.matched}};
    if (!t.matched) {
      r["failed"] = t.failed;
      r["detail"] = t.detail;
    }
    rules.push_back(std::move(r));
  }
  json out = {
      {"decision", EffectName(e.decision.effect)},
      {"rule_id", e.decision.rule_id},
      {"policy_hash", policy.hash},
      {"user", request.subject.user},
      {"groups", request.subject.groups},
      {"phone_number", request.number},
      {"number_listed", request.labels != nullptr},
      {"time", date::format("%FT%TZ",
                            std::chrono::time_point_cast<std::chrono::seconds>(
                                request.time))},
      {"source", request.source ? json(request.source->ToString()) : json()},
      {"rules", std::move(rules)},
  };
  if (const std::string_view reason = DecisionReason(e.decision);
      !reason.empty()) {
    out["reason"] = reason;
  }
  if (request.labels != nullptr) out["labels"] = *request.labels;
  if (const Rule* bg = e.decision.break_glass_rule) {
    const auto hours = std::chrono::duration<double, std::ratio<3600>>(
        bg->break_glass.review_within);
    out["break_glass"] = {
        {"reason", "required"},
        {"reason_pattern", bg->break_glass.reason_pattern.empty()
                               ? json()
                               : json(bg->break_glass.reason_pattern)},
        {"review_from_groups", bg->break_glass.from_groups},
        {"review_within_hours", hours.count()}};
  }
  if (e.decision.shadow_matched) {
    out["shadow"] = {{"decision", EffectName(e.decision.shadow_effect)},
                     {"rule_id", e.decision.shadow_rule_id}};
  }
  return out;
}

}  // namespace agni::policy
