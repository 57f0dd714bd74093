#include "policies/load/policy_loader.h"

#include <set>

#include "base/ascii.h"
#include "base/crypto.h"
#include "base/e164.h"
#include "policies/load/json_reader.h"
#include "policies/load/rule_conditions_loader.h"

namespace agni::policy {
namespace {

bool IsNumberPrefix(std::string_view text) {
  // "+" then zero or more digits then "*": "+1911*", "+44*", "+*".
  if (text.size() < 2 || text.front() != '+' || text.back() != '*') {
    return false;
  }
  for (char c : text.substr(1, text.size() - 2)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool IsRuleId(std::string_view id) {
  return IsAsciiWord(id, 64, "-_.") && id != kImplicitDeny &&
         id != kUnlistedNumber;
}

// Every group in `groups` (the list at `key` of `r`) must be some user's.
void CheckKnownGroups(ObjectReader& r, std::string_view key,
                      const std::vector<std::string>& groups,
                      const KnownPrincipals& known) {
  for (std::size_t k = 0; k < groups.size(); ++k) {
    if (!known.groups.contains(groups[k])) {
      r.Error(r.PathOf(key) + "[" + std::to_string(k) + "]",
              "no user in the config is in group \"" + groups[k] + "\"");
    }
  }
}

// `reason: "required" | "optional"` (default optional) and `reason_pattern`,
// the regular expression a given X-Release-Reason must match.
void ReadReasonRequirement(ObjectReader& a, ApprovalRequirement& out) {
  if (auto reason = a.String("reason", false)) {
    if (*reason == "required") {
      out.reason_required = true;
    } else if (*reason != "optional") {
      a.Error(a.PathOf("reason"), "must be \"required\" or \"optional\"");
    }
  }
  if (auto pattern = a.String("reason_pattern", false)) {
    std::string error;
    out.reason_regex = CompileReasonPattern(*pattern, error);
    if (!out.reason_regex) {
      a.Error(a.PathOf("reason_pattern"), error);
    } else {
      out.reason_pattern = std::move(*pattern);
    }
  }
}

// `approval: {approvals, from_groups, ttl, execute_within}`; all required so
// that nobody relies on a default for how long a release may wait.
void ReadApprovalRequirement(ObjectReader& rule, const KnownPrincipals& known,
                             ApprovalRequirement& out, ConfigErrors& errors) {
  const nlohmann::json* value = rule.Get("approval");
  if (value == nullptr) {
    rule.Error(rule.PathOf("approval"),
               "is required for a \"require_approval\" rule: {\"approvals\": "
               "N, \"from_groups\": [...], \"ttl\": \"24h\", "
               "\"execute_within\": \"1h\"}");
    return;
  }
  ObjectReader a(*value, rule.PathOf("approval"), errors,
                 {"approvals", "from_groups", "ttl", "execute_within", "reason",
                  "reason_pattern"});
  if (a.ok()) {
    if (!a.Has("approvals")) a.Error(a.PathOf("approvals"), "is required");
    if (auto n = a.Integer("approvals", 1, 100)) out.approvals = int(*n);
    if (auto groups = a.StringList("from_groups", true)) {
      if (groups->empty()) {
        a.Error(a.PathOf("from_groups"), "must name at least one group");
      }
      CheckKnownGroups(a, "from_groups", *groups, known);
      out.from_groups = std::move(*groups);
    }
    constexpr auto kMin = std::chrono::seconds(1);
    constexpr auto kMax = std::chrono::hours(24 * 30);
    for (std::string_view key : {"ttl", "execute_within"}) {
      if (auto d = a.Duration(key, true)) {
        if (*d < kMin || *d > kMax) {
          a.Error(a.PathOf(key), "must be between 1s and 30d");
        }
        (key == "ttl" ? out.ttl : out.execute_within) = *d;
      }
    }
    ReadReasonRequirement(a, out);
  }
}

// `break_glass: {from_groups, review_within, reason_pattern}`: who reviews a
// break-glass release and by when; the reason itself is always required.
void ReadBreakGlass(ObjectReader& rule, const KnownPrincipals& known,
                    BreakGlassReview& out, ConfigErrors& errors) {
  const nlohmann::json* value = rule.Get("break_glass");
  if (value == nullptr) {
    rule.Error(rule.PathOf("break_glass"),
               "is required for a \"break_glass\" rule: {\"from_groups\": "
               "[...], \"review_within\": \"24h\"}");
    return;
  }
  ObjectReader b(*value, rule.PathOf("break_glass"), errors,
                 {"from_groups", "review_within", "reason_pattern"});
  if (!b.ok()) return;
  if (auto groups = b.StringList("from_groups", true)) {
    if (groups->empty()) {
      b.Error(b.PathOf("from_groups"), "must name at least one group");
    }
    CheckKnownGroups(b, "from_groups", *groups, known);
    out.from_groups = std::move(*groups);
  }
  if (auto d = b.Duration("review_within", true)) {
    if (*d < std::chrono::minutes(1) || *d > std::chrono::hours(24 * 30)) {
      b.Error(b.PathOf("review_within"), "must be between 1m and 30d");
    }
    out.review_within = *d;
  }
  if (auto pattern = b.String("reason_pattern", false)) {
    std::string error;
    out.reason_regex = CompileReasonPattern(*pattern, error);
    if (!out.reason_regex) {
      b.Error(b.PathOf("reason_pattern"), error);
    } else {
      out.reason_pattern = std::move(*pattern);
    }
  }
}

}  // namespace

std::optional<Policy> ParsePolicy(const nlohmann::json& doc,
                                  std::string_view origin,
                                  const KnownPrincipals& known,
                                  ConfigErrors& errors) {
  const std::size_t errors_before = errors.size();
  const std::string root = std::string(origin) + ":$";
  ObjectReader top(doc, root, errors,
                   {"rules", "limits", "deny_unlisted_numbers"});
  Policy policy;
  const nlohmann::json* rules = top.Get("rules");
  if (top.ok() && rules == nullptr)
    top.Error(top.PathOf("rules"), "is required");
  if (rules != nullptr && !rules->is_array()) {
    top.Error(top.PathOf("rules"), "must be an array of rules");
    rules = nullptr;
  }

  std::set<std::string, std::less<>> ids;
  for (std::size_t i = 0; rules != nullptr && i < rules->size(); ++i) {
    const std::string path = root + ".rules[" + std::to_string(i) + "]";
    ObjectReader r(
        (*rules)[i], path, errors,
        {"id", "effect", "mode", "users", "groups", "numbers", "description",
         "approval", "labels", "when", "source_cidrs", "break_glass"});
    if (!r.ok()) continue;
    Rule rule;
    if (auto id = r.String("id", true)) {
      if (!IsRuleId(*id)) {
        r.Error(r.PathOf("id"),
                "must be 1-64 characters of [A-Za-z0-9._-] and not "
                "\"implicit_deny\" or \"unlisted_number\"");
      } else if (!ids.insert(*id).second) {
        r.Error(r.PathOf("id"), "duplicate rule id \"" + *id + "\"");
      }
      rule.id = *id;
    }
    r.String("description", false);
    if (auto effect = r.String("effect", true)) {
      if (*effect == "allow") {
        rule.effect = Effect::kAllow;
      } else if (*effect == "deny") {
        rule.effect = Effect::kDeny;
      } else if (*effect == "require_approval") {
        rule.effect = Effect::kRequireApproval;
        ReadApprovalRequirement(r, known, rule.approval, errors);
      } else if (*effect == "break_glass") {
        rule.effect = Effect::kBreakGlass;
        ReadBreakGlass(r, known, rule.break_glass, errors);
        // Break-glass is for named people, never for whoever asks.
        if (!r.Has("users") && !r.Has("groups")) {
          r.Error(r.PathOf("effect"),
                  "a \"break_glass\" rule must name its users or groups");
        }
      } else {
        r.Error(r.PathOf("effect"),
                "must be \"require_approval\", \"break_glass\", \"allow\" "
                "or \"deny\"");
      }
      if (*effect != "break_glass" && r.Has("break_glass")) {
        r.Error(r.PathOf("break_glass"),
                "only a \"break_glass\" rule takes a break_glass block");
      }
      if (*effect != "require_approval" && r.Has("approval")) {
        r.Error(r.PathOf("approval"),
                "only a \"require_approval\" rule takes an approval block");
      }
    }
    if (auto mode = r.String("mode", false)) {
      if (*mode == "shadow") {
        rule.mode = Mode::kShadow;
      } else if (*mode != "enforce") {
        r.Error(r.PathOf("mode"), "must be \"enforce\" or \"shadow\"");
      }
    }
    if (auto users = r.StringList("users", false)) {
      for (std::size_t k = 0; k < users->size(); ++k) {
        if (!known.users.contains((*users)[k])) {
          r.Error(r.PathOf("users") + "[" + std::to_string(k) + "]",
                  "no user named \"" + (*users)[k] + "\" in the config");
        }
      }
      rule.users = std::move(*users);
    }
    if (auto groups = r.StringList("groups", false)) {
      CheckKnownGroups(r, "groups", *groups, known);
      rule.groups = std::move(*groups);
    }
    if (auto numbers = r.StringList("numbers", false)) {
      for (std::size_t k = 0; k < numbers->size(); ++k) {
        const std::string& n = (*numbers)[k];
        if (IsE164(n)) {
          rule.numbers.push_back({n, false});
        } else if (IsNumberPrefix(n)) {
          rule.numbers.push_back({n.substr(0, n.size() - 1), true});
        } else {
          r.Error(r.PathOf("numbers") + "[" + std::to_string(k) + "]",
                  "must be an E.164 number (+14155550100) or a prefix ending "
                  "in '*' (+1555*), got \"" +
                      n + "\"");
        }
      }
    }
    for (std::string_view key : {"users", "groups", "numbers"}) {
      const nlohmann::json* v = r.Get(key);
      if (v != nullptr && v->is_array() && v->empty()) {
        r.Error(r.PathOf(key),
                "must not be empty (omit the key to match anything)");
      }
    }
    ReadRuleConditions(r, rule);
    rule.content_hash = Sha256Hex((*rules)[i].dump());
    policy.rules.push_back(std::move(rule));
  }
  if (top.ok()) ReadPolicyLimits(top, policy);
  if (errors.size() != errors_before) return std::nullopt;
  policy.hash = Sha256Hex(doc.dump());
  policy.index = std::make_shared<const RuleIndex>(policy.rules);
  return policy;
}

}  // namespace agni::policy
