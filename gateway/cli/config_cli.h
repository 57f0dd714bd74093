// `agni-gateway check-config`, and the config error listing that `serve` and
// `healthcheck` print too.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "gateway/config/config.h"

namespace agni {

inline constexpr int kExitOk = 0;
inline constexpr int kExitConfig = 1;

// One "error: <path>: <message>" line per error, then how many there were.
void PrintConfigErrors(const ConfigErrors& errors, std::ostream& out);

// Valid settings that expose what the gateway protects, one sentence each
// starting with the key it concerns (a main listener reachable from other
// hosts without TLS).
std::vector<std::string> ConfigWarnings(const Config& config);

// Prints OK (exit 0) or every error with its JSON path (exit 1) to stdout,
// and each warning ("warning: <key>: ...") to stderr without failing.
int CheckConfig(const std::string& path);

}  // namespace agni
