#include "base/ascii.h"

namespace agni {

bool IsAsciiWord(std::string_view s, std::size_t max_size,
                 std::string_view punctuation) {
  if (s.empty() || s.size() > max_size) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') ||
                    punctuation.find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

}  // namespace agni
