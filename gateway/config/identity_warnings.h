// What check-config says about identity beyond errors.
#pragma once

#include <string>
#include <vector>

#include "gateway/config/config.h"

namespace agni {

// Each approval requirement that only people at the identity provider can
// meet (how many of them exist cannot be proven from the config), as
// "path: message".
std::vector<std::string> IdentityWarnings(const Config& config);

}  // namespace agni
