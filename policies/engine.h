// The policy engine: a pure function from a request (who, which number, its
// labels, the time and the client address, all passed in) to a decision
// naming the rule that made it. No HTTP, no I/O, no clock of its own; a
// Policy is immutable once built and safe to share between threads.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policies/conditions.h"
#include "policies/limits.h"
#include "policies/reason_pattern.h"
#include "policies/rule_index.h"

namespace agni::policy {

enum class Effect { kAllow, kDeny, kRequireApproval, kBreakGlass };
enum class Mode { kEnforce, kShadow };

std::string_view EffectName(Effect effect);
std::string_view ModeName(Mode mode);

// A number selector: an exact E.164 number, or a prefix when written with a
// trailing '*' ("+1555*").
struct NumberPattern {
  std::string text;
  bool is_prefix = false;
  bool Matches(std::string_view number) const;
};

// What a require_approval rule asks for: `approvals` distinct people from
// `from_groups` (never the requester), within `ttl` of the request, and the
// release executed within `execute_within` of the final approval.
struct ApprovalRequirement {
  int approvals = 1;
  std::vector<std::string> from_groups;
  std::chrono::milliseconds ttl{24 * 3600 * 1000};
  std::chrono::milliseconds execute_within{3600 * 1000};
  // `reason: "required"`: the request must carry X-Release-Reason; with a
  // `reason_pattern`, a given reason must match it (text kept for messages).
  bool reason_required = false;
  std::string reason_pattern;
  std::shared_ptr<const ReasonPattern> reason_regex;  // null: no pattern
};

// What a break_glass rule asks for: a mandatory X-Release-Reason (matching
// `reason_pattern` when set) and a review afterwards by someone in
// `from_groups` other than the person who released, due within
// `review_within`.
struct BreakGlassReview {
  std::vector<std::string> from_groups;
  std::chrono::milliseconds review_within{24 * 3600 * 1000};
  std::string reason_pattern;
  std::shared_ptr<const ReasonPattern> reason_regex;  // null: no pattern
};

struct Rule {
  std::string id;
  // Hex SHA-256 of the rule's canonical JSON (set by the loader): an
  // approval is bound to it, so a reload that changes the rule is noticed.
  std::string content_hash;
  Effect effect = Effect::kDeny;
  Mode mode = Mode::kEnforce;
  // An empty selector matches anything; a non-empty one must match.
  std::vector<std::string> users;
  std::vector<std::string> groups;
  std::vector<NumberPattern> numbers;
  ApprovalRequirement approval;  // used when effect is kRequireApproval
  BreakGlassReview break_glass;  // used when effect is kBreakGlass
  // Inventory labels the number must carry, every one with this value.
  std::map<std::string, std::string> labels;
  // Conditions: the request time must fall in one of `when`, the client
  // address in one of `source_cidrs`.
  std::vector<TimeWindow> when;
  std::vector<Cidr> source_cidrs;
};

struct Policy {
  std::vector<Rule> rules;
  std::string hash;  // hex SHA-256 of the canonical policy document
  std::vector<Limit> limits;
  // When set, a number missing from the inventory is denied outright (rule
  // id "unlisted_number") instead of merely carrying no labels.
  bool deny_unlisted_numbers = false;
  // Built by ParsePolicy; without it every rule is checked.
  std::shared_ptr<const RuleIndex> index;
};

// A number's inventory labels (env=prod, team=sales).
using Labels = std::map<std::string, std::string>;

// Who asks. Groups are the principal's groups from the config.
struct Subject {
  std::string_view user;
  const std::vector<std::string>& groups;
};

inline constexpr std::string_view kImplicitDeny = "implicit_deny";
inline constexpr std::string_view kUnlistedNumber = "unlisted_number";

// Everything a decision depends on, gathered by the caller.
struct Request {
  Subject subject;
  std::string_view number;
  const Labels* labels =
      nullptr;  // nullptr: the number is not in the inventory
  std::chrono::system_clock::time_point time{};
  std::optional<IpAddress> source;  // nullopt: the client address is unknown
};

struct Decision {
  Effect effect = Effect::kDeny;
  std::string rule_id;  // the deciding rule, or "implicit_deny"
  // What the shadow rules alone would have decided, when any of them matched.
  bool shadow_matched = false;
  Effect shadow_effect = Effect::kDeny;
  std::string shadow_rule_id;
  // When effect is kRequireApproval: every matching enforced
  // require_approval rule, in policy order; each must be satisfied.
  std::vector<const Rule*> approval_rules;
  // When effect is kBreakGlass: the first matching enforced break_glass rule.
  const Rule* break_glass_rule = nullptr;
};

bool RuleMatches(const Rule& rule, const Subject& subject,
                 std::string_view number);

// Precedence: any matching enforced deny wins; then every matching enforced
// require_approval (rule_id names the first); then the first matching enforced
// allow; otherwise an implicit deny. A matching enforced break_glass rule
// takes the place of a require_approval or an implicit deny (the release goes
// at once and is reviewed afterwards); it never overrides a deny and is not
// used where an allow applies. Shadow rules never change the
// outcome; their would-be decision is reported alongside.
Decision Evaluate(const Policy& policy, const Subject& subject,
                  std::string_view number);
// The same over a full request (labels, time, source). With
// deny_unlisted_numbers, an unlisted number is denied before any rule.
Decision Evaluate(const Policy& policy, const Request& request);

}  // namespace agni::policy
