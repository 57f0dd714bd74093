// Checks on short ASCII names (user and group names, request ids, host
// names). Pure; includes nothing of the project.
#pragma once

#include <cstddef>
#include <string_view>

namespace agni {

// True when `s` is 1 to `max_size` characters, each an ASCII letter, an ASCII
// digit or one of `punctuation`.
bool IsAsciiWord(std::string_view s, std::size_t max_size,
                 std::string_view punctuation);

}  // namespace agni
