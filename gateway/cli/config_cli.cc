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

int CheckConfig(const std::string& path) {
  ConfigLoad load = LoadConfig(path);
  if (!load.errors.empty()) {
    PrintConfigErrors(load.errors, std::cout);
    return kExitConfig;
  }
  for (const std::string& w : IdentityWarnings(*load.config)) {
    std::cout << "warning: " << w << "\n";
  }
  std::cout << "OK\n";
  return kExitOk;
}

}  // namespace agni
