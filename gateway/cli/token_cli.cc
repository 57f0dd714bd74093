#include "gateway/cli/token_cli.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "gateway/cli/config_cli.h"
#include "gateway/config/config.h"

namespace agni {

int TokenNew(const std::string& user, const std::vector<std::string>& groups,
             bool as_json) {
  for (const std::string& n : groups) {
    if (!IsConfigName(n)) {
      std::cerr << "error: group \"" << n
                << "\" must be 1-64 characters of [A-Za-z0-9._@-]\n";
      return 2;
    }
  }
  if (!IsConfigName(user)) {
    std::cerr << "error: --user must be 1-64 characters of [A-Za-z0-9._@-]\n";
    return 2;
  }
  const std::string token = NewToken();
  const nlohmann::json entry = {
      {"name", user}, {"groups", groups}, {"token_sha256", Sha256Hex(token)}};
  if (as_json) {
    std::cout << nlohmann::json{{"token", token}, {"user", entry}}.dump()
              << "\n";
    return kExitOk;
  }
  std::cout << "New token for " << user
            << " (shown only now; hand it over securely):\n\n  " << token
            << "\n\nAdd this entry to \"users\" in the gateway config; it "
               "holds only the token's SHA-256:\n\n  "
            << entry.dump() << "\n";
  return kExitOk;
}

}  // namespace agni
