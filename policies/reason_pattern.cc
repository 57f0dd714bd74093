#include "policies/reason_pattern.h"

#include <algorithm>
#include <regex>

namespace agni::policy {

struct ReasonPattern {
  std::regex regex;
};

std::shared_ptr<const ReasonPattern> CompileReasonPattern(std::string_view text,
                                                          std::string& error) {
  if (text.empty() || text.size() > kMaxReasonPattern) {
    error = "must be 1 to " + std::to_string(kMaxReasonPattern) + " bytes";
    return nullptr;
  }
  try {
    return std::make_shared<const ReasonPattern>(ReasonPattern{
        std::regex(text.begin(), text.end(), std::regex::ECMAScript)});
  } catch (const std::regex_error& e) {
    error = std::string("is not a valid regular expression: ") + e.what();
    return nullptr;
  }
}

bool ReasonMatches(const ReasonPattern& pattern, std::string_view reason) {
  return std::regex_search(reason.begin(), reason.end(), pattern.regex);
}

bool IsPrintableReason(std::string_view reason) {
  return !reason.empty() && reason.size() <= kMaxReleaseReason &&
         std::all_of(reason.begin(), reason.end(),
                     [](char c) { return c >= 0x20 && c <= 0x7E; });
}

}  // namespace agni::policy
