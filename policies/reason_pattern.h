// The `approval.reason_pattern` of a require_approval rule: a regular
// expression (ECMAScript syntax) the requester's X-Release-Reason must match.
// Kept behind its own header so <regex> is compiled where it is used only.
//
// Thread-safe: immutable once compiled; matching does not modify it.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace agni::policy {

struct ReasonPattern;

// The compiled pattern, or null with `error` set when `text` does not compile.
std::shared_ptr<const ReasonPattern> CompileReasonPattern(std::string_view text,
                                                          std::string& error);

// Whether `reason` matches (std::regex_search: anchor with ^...$ to match
// the whole reason).
bool ReasonMatches(const ReasonPattern& pattern, std::string_view reason);

// The most bytes of an X-Release-Reason header, and of a reason_pattern.
inline constexpr std::size_t kMaxReleaseReason = 200;
inline constexpr std::size_t kMaxReasonPattern = 200;

// Whether `reason` may be recorded as a justification: 1..kMaxReleaseReason
// printable ASCII bytes (space included), nothing else.
bool IsPrintableReason(std::string_view reason);

}  // namespace agni::policy
