// Reading a loader's errors in tests.
#pragma once

#include <algorithm>
#include <string>

#include "policies/errors.h"

namespace agni::testing {

// Every error as a "  path: message" line, for failure messages.
inline std::string Dump(const ConfigErrors& errors) {
  std::string all;
  for (const auto& e : errors) all += "  " + e.path + ": " + e.message + "\n";
  return all;
}

// The message recorded at exactly `path`, or "" when there is none.
inline std::string MessageAt(const ConfigErrors& errors,
                             const std::string& path) {
  for (const auto& e : errors) {
    if (e.path == path) return e.message;
  }
  return "";
}

inline bool HasErrorAt(const ConfigErrors& errors, const std::string& path) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const ConfigError& e) { return e.path == path; });
}

}  // namespace agni::testing
