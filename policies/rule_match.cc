#include "policies/rule_match.h"

#include <algorithm>

namespace agni::policy {
namespace {

template <typename T>
bool Contains(const std::vector<T>& haystack, std::string_view needle) {
  return std::find(haystack.begin(), haystack.end(), needle) != haystack.end();
}

RuleCheck Fail(std::string_view selector, std::string detail) {
  return {false, selector, std::move(detail)};
}

}  // namespace

RuleCheck CheckRule(const Rule& rule, const Request& request) {
  const Subject& subject = request.subject;
  if (!rule.users.empty() && !Contains(rule.users, subject.user)) {
    return Fail("users", "the user is not listed");
  }
  if (!rule.groups.empty() &&
      std::none_of(rule.groups.begin(), rule.groups.end(),
                   [&](const std::string& g) {
                     return Contains(subject.groups, g);
                   })) {
    return Fail("groups", "the user is in none of the groups");
  }
  if (!rule.numbers.empty() &&
      std::none_of(rule.numbers.begin(), rule.numbers.end(),
                   [&](const NumberPattern& p) {
                     return p.Matches(request.number);
                   })) {
    return Fail("numbers", "the number matches none of the patterns");
  }
  if (!rule.labels.empty()) {
    if (request.labels == nullptr) {
      return Fail("labels", "the number is not in the inventory");
    }
    for (const auto& [key, value] : rule.labels) {
      auto it = request.labels->find(key);
      if (it == request.labels->end()) {
        return Fail("labels", "the number has no label \"" + key + "\"");
      }
      if (it->second != value) {
        return Fail("labels", "label \"" + key + "\" is \"" + it->second +
                                  "\", not \"" + value + "\"");
      }
    }
  }
  const bool restricting = rule.effect != Effect::kAllow;
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
    if (!inside) {
      if (unknown && !restricting) {
        return Fail("when", "the time window cannot be evaluated");
      }
      if (!unknown) {
        return Fail("when", "the request time is outside every window");
      }
    }
  }
  if (!rule.source_cidrs.empty()) {
    if (!request.source) {
      if (!restricting) {
        return Fail("source_cidrs", "the client address is unknown");
      }
    } else if (std::none_of(rule.source_cidrs.begin(), rule.source_cidrs.end(),
                            [&](const Cidr& c) {
                              return c.Contains(*request.source);
                            })) {
      return Fail("source_cidrs", "the client address " +
                                      request.source->ToString() +
                                      " is in none of the ranges");
    }
  }
  return {true, "", ""};
}

}  // namespace agni::policy
