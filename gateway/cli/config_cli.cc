#include "gateway/cli/config_cli.h"

#include <iostream>

#include "gateway/config/identity_warnings.h"

namespace agni {

void PrintConfigErrors(const ConfigErrors& errors, std::ostream& out) {
  for (const ConfigError& e : errors) {
    out << "error: " << e.path << ": " << e.message << "\n";
  }
  out << errors.size() << (errors.size() == 1 ? " error" : " errors")
      << " in the configuration\n";
}

std::vector<std::string> ConfigWarnings(const Config& config) {
  std::vector<std::string> warnings;
  if (!config.tls.enabled && !IsLoopbackHost(config.listen.host)) {
    warnings.push_back(
        std::string("listen: ") + config.listen.ToString() +
        " is reachable from other hosts in plain HTTP: tokens would cross "
        "the network in clear. Set tls.cert_file and tls.key_file, or listen "
        "on loopback behind a TLS-terminating proxy (trusted_proxies)");
  }
  return warnings;
}

int CheckConfig(const std::string& path) {
  ConfigLoad load = LoadConfig(path);
  if (!load.errors.empty()) {
    PrintConfigErrors(load.errors, std::cout);
    return kExitConfig;
  }
  // Warnings go to stderr: stdout stays "OK" for scripts.
  for (const std::string& w : ConfigWarnings(*load.config)) {
    std::cerr << "warning: " << w << "\n";
  }
  for (const std::string& w : IdentityWarnings(*load.config)) {
    std::cerr << "warning: " << w << "\n";
  }
  std::cout << "OK\n";
  return kExitOk;
}

}  // namespace agni
