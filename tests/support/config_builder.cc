#include "tests/support/config_builder.h"

#include "base/crypto.h"

namespace agni::testing {

std::vector<TestUser> StandardUsers() {
  return {{"alice", {"support"}, NewToken()},
          {"olga", {"telecom-ops"}, NewToken()},
          {"mallory", {"contractors"}, NewToken()}};
}

nlohmann::json UsersJson(const std::vector<TestUser>& users) {
  nlohmann::json out = nlohmann::json::array();
  for (const TestUser& u : users) {
    out.push_back({{"name", u.name},
                   {"groups", u.groups},
                   {"token_sha256", Sha256Hex(u.token)}});
  }
  return out;
}

nlohmann::json GatewayConfig::Document() const {
  nlohmann::json upstream = {{"base_url", upstream_base_url},
                             {"connect_timeout", "1s"}};
  if (upstream_base_url.starts_with("http://")) {
    upstream["allow_plain_http"] = true;
  }
  nlohmann::json config = {
      {"listen", "127.0.0.1:0"},     {"admin_listen", "127.0.0.1:0"},
      {"upstream", upstream},        {"audit", {{"path", "audit.db"}}},
      {"users", UsersJson(users)},   {"auditors", {"compliance"}},
      {"policy_file", "policy.json"}};
  if (!inventory_json.empty()) config["inventory_file"] = "numbers.json";
  config.merge_patch(patch);
  return config;
}

std::string GatewayConfig::WriteTo(const TempDir& dir) const {
  dir.Write("policy.json", policy_json);
  if (!inventory_json.empty()) dir.Write("numbers.json", inventory_json);
  dir.Write("gateway.json", Document().dump(2));
  return dir.File("gateway.json");
}

}  // namespace agni::testing
