// `agni-gateway healthcheck`: exit 0 when the admin listener says ready, for
// container health checks.
#pragma once

#include <string>

namespace agni {

// Asks GET /readyz at `url` (an admin base URL), or else at the admin_listen
// of the config at `config_path` (a wildcard host asked on loopback). Prints
// "healthy" (exit 0) or why not (exit 1).
int HealthCheck(const std::string& config_path, const std::string& url);

}  // namespace agni
