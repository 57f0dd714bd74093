// Why a decision was made: the decision itself plus, for every rule in order,
// whether it matched and, if not, which selector or condition failed. Used by
// POST /v1/policy/explain and `agni-gateway policy explain|test|replay`.
// Pure; never includes the policy text, only rule ids and reasons.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policies/engine.h"

namespace agni::policy {

struct RuleTrace {
  std::string id;
  Effect effect = Effect::kDeny;
  Mode mode = Mode::kEnforce;
  bool matched = false;
  std::string failed;  // the selector or condition that did not match
  std::string detail;
};

struct Explanation {
  Decision decision;
  std::vector<RuleTrace> rules;
};

Explanation Explain(const Policy& policy, const Request& request);

// {"decision", "rule_id", "reason", "policy_hash", "number_listed", "labels",
//  "source", "time", "shadow", "rules": [{id, effect, mode, matched, failed,
//  detail}]}.
nlohmann::json ExplanationJson(const Explanation& e, const Policy& policy,
                               const Request& request);

// "policy_denied" for a deny, "break_glass" for a break-glass release (it
// goes at once, with a reason, and is reviewed), "" for an allow.
std::string_view DecisionReason(const Decision& d);

}  // namespace agni::policy
