// Whether one rule matches one request, and if not, which selector or
// condition stopped it. Shared by the engine (which needs only the yes/no) and
// explain (which shows the reason). Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "policies/engine.h"

namespace agni::policy {

struct RuleCheck {
  bool matched = false;
  // When not matched: "users", "groups", "numbers", "labels", "when" or
  // "source_cidrs".
  std::string_view failed;
};

// Selectors are checked in a fixed order and the first that fails is named.
// A condition that cannot be evaluated (no client address, a zone the system
// cannot resolve) stops an allow rule; a restricting rule still matches, so
// an unknown attribute fails closed.
RuleCheck CheckRule(const Rule& rule, const Request& request);

// Why `failed` (from CheckRule) did not match, in words for explain output.
std::string DescribeFailure(const Rule& rule, const Request& request,
                            std::string_view failed);

}  // namespace agni::policy
