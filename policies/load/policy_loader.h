// Builds an immutable Policy from its JSON document, collecting every error.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "policies/engine.h"
#include "policies/errors.h"

namespace agni::policy {

// The users and groups the config defines. A rule that names anything else is
// an error: a typo in a deny rule must not silently stop it from matching.
struct KnownPrincipals {
  std::set<std::string, std::less<>> users;
  std::set<std::string, std::less<>> groups;
};

// `origin` prefixes every error path (e.g. "policy.json"). Returns nullopt
// when any error was recorded.
std::optional<Policy> ParsePolicy(const nlohmann::json& doc,
                                  std::string_view origin,
                                  const KnownPrincipals& known,
                                  ConfigErrors& errors);

}  // namespace agni::policy
