// Validation errors shared by every loader (config, policy): each names the
// JSON path of the offending key so an operator can find it, and loaders
// collect all of them instead of stopping at the first.
#pragma once

#include <string>
#include <vector>

namespace agni {

struct ConfigError {
  std::string
      path;  // e.g. "$.users[1].token_sha256" or "policy.json:$.rules[0]"
  std::string message;
};

using ConfigErrors = std::vector<ConfigError>;

}  // namespace agni
