// The one way tests write a gateway config: gateway.json, the policy, the
// inventory and the users, into a folder.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace agni::testing {

inline constexpr const char* kApiKey = "test-upstream-key-5f1d2c9a";

// A user of the test gateway: the config holds the token's SHA-256 only.
struct TestUser {
  std::string name;
  std::vector<std::string> groups;
  std::string token;  // the secret the client sends
};

// alice (support), olga (telecom-ops), mallory (contractors), fresh tokens.
std::vector<TestUser> StandardUsers();

// Never +1911*; support may release +1555*; telecom-ops anything.
inline constexpr const char* kStandardPolicy =
    R"({"rules":[)"
    R"({"id":"never-emergency","effect":"deny","numbers":["+1911*"]},)"
    R"({"id":"support-sandbox","effect":"allow","groups":["support"],"numbers":["+1555*"]},)"
    R"({"id":"ops-anything","effect":"allow","groups":["telecom-ops"]}]})";

// A gateway config for tests. Document() listens on 127.0.0.1:0 (both
// listeners), writes audit.db and reads policy.json next to gateway.json,
// names the auditors group "compliance", and merge-patches `patch` (RFC 7396:
// nested objects merge, null removes a key) over the result. A value type.
struct GatewayConfig {
  std::string upstream_base_url;  // allow_plain_http is set for http://
  std::vector<TestUser> users = StandardUsers();
  std::string policy_json = kStandardPolicy;
  std::string inventory_json;  // empty: no inventory_file
  nlohmann::json patch = nlohmann::json::object();

  nlohmann::json Document() const;
  // Writes gateway.json, policy.json (and numbers.json) into `dir`; returns
  // the path of gateway.json.
  std::string WriteTo(const TempDir& dir) const;
};

// The users array of gateway.json for `users`.
nlohmann::json UsersJson(const std::vector<TestUser>& users);

}  // namespace agni::testing
