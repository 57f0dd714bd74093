// libFuzzer target: the policy file, from raw bytes through JSON parsing,
// ParsePolicy and evaluation. Checks the loader's contract on every input:
// - a policy loads exactly when no error was recorded, and every error names
//   its file and a JSON path;
// - for a loaded policy, Evaluate honours the precedence rules for a few
//   principals and numbers (a matching enforced deny always wins, an allow
//   names a matching enforced allow rule, and shadow rules never decide).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "policies/engine.h"
#include "policies/load/policy_loader.h"
#include "policies/rule_match.h"
#include "tests/fuzz/contract.h"

namespace {

using agni::fuzz::Fail;

void CheckDecision(const agni::policy::Policy& p,
                   const agni::policy::Subject& who,
                   const std::string& number) {
  using agni::policy::Effect;
  using agni::policy::Mode;
  // The full request form, so labels, time windows and source ranges are
  // judged exactly as the engine judges them (no labels, no source here).
  const agni::policy::Request request{who, number, nullptr, {}, std::nullopt};
  const agni::policy::Decision d = agni::policy::Evaluate(p, request);
  if (p.deny_unlisted_numbers) {
    if (d.effect != Effect::kDeny) Fail("an unlisted number was not denied");
    return;
  }
  bool any_deny = false;
  for (const auto& rule : p.rules) {
    if (rule.mode == Mode::kEnforce && rule.effect == Effect::kDeny &&
        agni::policy::CheckRule(rule, request).matched) {
      any_deny = true;
    }
  }
  if (any_deny && d.effect != Effect::kDeny) Fail("a matching deny lost");
  if (d.rule_id.empty()) Fail("decision without a rule id");
  if (d.effect == Effect::kAllow) {
    bool named = false;
    for (const auto& rule : p.rules) {
      if (rule.id == d.rule_id && rule.mode == Mode::kEnforce &&
          rule.effect == Effect::kAllow &&
          agni::policy::CheckRule(rule, request).matched) {
        named = true;
      }
    }
    if (!named) Fail("allow not backed by a matching enforced allow rule");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const nlohmann::json doc = nlohmann::json::parse(
      data, data + size, /*callback=*/nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return 0;

  agni::policy::KnownPrincipals known;
  known.users = {"alice", "olga"};
  known.groups = {"support", "telecom-ops"};
  agni::ConfigErrors errors;
  const auto policy =
      agni::policy::ParsePolicy(doc, "fuzz.json", known, errors);
  if (policy.has_value() == !errors.empty()) {
    Fail("policy loaded with errors, or refused without one");
  }
  for (const auto& e : errors) {
    if (e.path.rfind("fuzz.json:$", 0) != 0) Fail("error without its path");
    if (e.message.empty()) Fail("error without a message");
  }
  if (!policy) return 0;
  if (policy->hash.size() != 64) Fail("policy hash is not hex SHA-256");

  const std::vector<std::string> support = {"support"};
  const std::vector<std::string> ops = {"telecom-ops", "support"};
  const std::vector<std::string> none;
  for (const std::string number : {"+15551234567", "+19115550100",
                                   "+14155550123", "+1", "+442071838750"}) {
    CheckDecision(*policy, {"alice", support}, number);
    CheckDecision(*policy, {"olga", ops}, number);
    CheckDecision(*policy, {"mallory", none}, number);
  }
  return 0;
}
