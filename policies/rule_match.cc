#include "policies/rule_match.h"

#include <algorithm>

namespace agni::policy {
namespace {

template <typename T>
bool Contains(const std::vector<T>& haystack, std::string_view needle) {
  return std::find(haystack.begin(), haystack.end(), needle) != haystack.end();
}

// The engine runs this for every rule of every request, so it allocates
// nothing; the words for explain are built separately by DescribeFailure.
RuleCheck Fail(std::string_view selector) { return {false, selector}; }

}  // namespace

RuleCheck CheckRule(const Rule& rule, const Request& request) {
  const Subject& subject = request.subject;
  if (!rule.users.empty() && !Contains(rule.users, subject.user)) {
    return Fail("users");
  }
  if (!rule.groups.empty() &&
      std::none_of(
          rule.groups.begin(), rule.groups.end(),
          [&](const std::string& g) { return Contains(subject.groups, g); })) {
    return Fail("groups");
  }
  if (!rule.numbers.empty() &&
      std::none_of(
          rule.numbers.begin(), rule.numbers.end(),
          [&](const NumberPattern& p) { return p.Matches(request.number); })) {
    return Fail("numbers");
  }
  if (!rule.labels.empty()) {
    if (request.labels == nullptr) return Fail("labels");
    for (const auto& [key, value] : rule.labels) {
      auto it = request.labels->find(key);
      if (it == request.labels->end() || it->second != value) {
        return Fail("labels");
      }
    }
  }
  // A break_glass rule grants a release, so it is judged like an allow.
  const bool restricting =
      rule.effect == Effect::kDeny || rule.effect == Effect::kRequireApproval;
  if (!rule.when.empty()) {
    bool unknown = false, inside = false;
    for (const TimeWindow& w : rule.when) {
      const Tri t = w.Contains(request.time);
      if (t == Tri::kYes) {
        inside = true;
        break;
      }
      if (t == Tri::kUnknown) unknown = true;
    }
    // Unknown never satisfies an allow; a restricting rule treats it as a
    // match (fail closed).
    if (!inside && (!unknown || !restricting)) return Fail("when");
  }
  if (!rule.source_cidrs.empty()) {
    if (!request.source) {
      if (!restricting) return Fail("source_cidrs");
    } else if (std::none_of(rule.source_cidrs.begin(), rule.source_cidrs.end(),
                            [&](const Cidr& c) {
                              return c.Contains(*request.source);
                            })) {
      return Fail("source_cidrs");
    }
  }
  return {true, ""};
}

std::string DescribeFailure(const Rule& rule, const Request& request,
                            std::string_view failed) {
  if (failed == "users") return "the user is not listed";
  if (failed == "groups") return "the user is in none of the groups";
  if (failed == "numbers") return "the number matches none of the patterns";
  if (failed == "labels") {
    if (request.labels == nullptr) return "the number is not in the inventory";
    for (const auto& [key, value] : rule.labels) {
      auto it = request.labels->find(key);
      if (it == request.labels->end()) {
        return "the number has no label \"" + key + "\"";
      }
      if (it->second != value) {
        return "label \"" + key + "\" is \"" + it->second + "\", not \"" +
               value + "\"";
      }
    }
  }
  if (failed == "when") {
    for (const TimeWindow& w : rule.when) {
      if (w.Contains(request.time) == Tri::kUnknown) {
        return "the time window cannot be evaluated (zone \"" + w.zone_name +
               "\")";
      }
    }
    return "the request time is outside every window";
  }
  if (failed == "source_cidrs") {
    if (!request.source) return "the client address is unknown";
    return "the client address " + request.source->ToString() +
           " is in none of the ranges";
  }
  return "";
}

}  // namespace agni::policy
