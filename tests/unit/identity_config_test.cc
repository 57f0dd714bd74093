// The "groups" and "identity" blocks of gateway.json and `expires` on static
// users: every error with its JSON path; approval requirements only provider
// people can meet load, and check-config warns about them.
#include <gtest/gtest.h>

#include "gateway/config/config.h"
#include "gateway/config/identity_warnings.h"
#include "tests/support/test_support.h"

namespace agni::testing {
namespace {

using nlohmann::json;

constexpr const char* kPolicy = R"({"rules":[
  {"id":"prod-needs-two","effect":"require_approval","groups":["support"],
   "numbers":["+1415*"],
   "approval":{"approvals":2,"from_groups":["telecom-ops"],"ttl":"24h",
               "execute_within":"1h"}},
  {"id":"support-sandbox","effect":"allow","groups":["support"],"numbers":["+1555*"]}
]})";

ConfigLoad Load(const TempDir& dir, const json& patch) {
  json config = {
      {"audit", {{"path", dir.File("audit.db")}}},
      {"users",
       {{{"name", "alice"},
         {"groups", {"support"}},
         {"token_sha256", std::string(64, 'a')}}}},
      {"policy_file", "policy.json"},
      {"groups", {"support", "telecom-ops"}},
      {"identity",
       {{"oidc",
         {{{"name", "corp"},
           {"issuer", "https://login.example.com/realms/corp"},
           {"audiences", {"agni-gateway"}},
           {"group_map", {{"okta-telecom-ops", "telecom-ops"}}}}}}}}};
  config.merge_patch(patch);
  dir.Write("policy.json", kPolicy);
  dir.Write("gateway.json", config.dump());
  return LoadConfig(dir.File("gateway.json"));
}

std::string Errors(const ConfigLoad& load) {
  std::string out;
  for (const ConfigError& e : load.errors) {
    out += e.path + ": " + e.message + "\n";
  }
  return out;
}

TEST(IdentityConfigTest, LoadsAndProviderApproversMakeARuleLoadWithAWarning) {
  TempDir dir;
  ConfigLoad load = Load(dir, json::object());
  ASSERT_TRUE(load.config) << Errors(load);
  const OidcIssuerConfig& o = load.config->identity.oidc.at(0);
  EXPECT_EQ(o.name, "corp");
  EXPECT_EQ(o.algorithms, std::vector<std::string>{"RS256"});
  EXPECT_EQ(o.jwks_min_refresh, std::chrono::seconds(30));
  const auto warnings = IdentityWarnings(*load.config);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("policy.json:$.rules[0].approval.approvals"),
            std::string::npos);
  EXPECT_NE(warnings[0].find("identity provider"), std::string::npos);

  // Without identity the same rule cannot be met: an error, as before.
  TempDir plain;
  ConfigLoad without = Load(plain, {{"identity", nullptr}});
  EXPECT_FALSE(without.config);
  EXPECT_NE(Errors(without).find("rules[0].approval.approvals"),
            std::string::npos);
}

TEST(IdentityConfigTest, EveryErrorHasItsPath) {
  TempDir dir;
  json bad_issuer = {{"name", "bad name!"},
                     {"issuer", "http://login.example.com"},
                     {"audiences", json::array()},
                     {"algorithms", {"RS256", "HS256", "none"}},
                     {"group_map", {{"x", "not-declared"}}},
                     {"jwks_url", "ftp://keys"},
                     {"jwks_min_refresh", "2h"},
                     {"jwks_refresh", "1h"},
                     {"surprise", 1}};
  ConfigLoad load = Load(dir, {{"identity", {{"oidc", {bad_issuer}}}},
                               {"groups", {"support", "no spaces allowed"}},
                               {"users",
                                {{{"name", "alice"},
                                  {"groups", {"support"}},
                                  {"token_sha256", std::string(64, 'a')},
                                  {"expires", "next tuesday"}}}}});
  const std::string errors = Errors(load);
  for (const char* path :
       {"$.identity.oidc[0].name:", "$.identity.oidc[0].issuer:",
        "$.identity.oidc[0].audiences:", "$.identity.oidc[0].algorithms[1]:",
        "$.identity.oidc[0].algorithms[2]:",
        "$.identity.oidc[0].group_map[\"x\"]:", "$.identity.oidc[0].jwks_url:",
        "$.identity.oidc[0].jwks_min_refresh:", "$.identity.oidc[0].surprise",
        "$.groups[1]:", "$.users[0].expires:"}) {
    EXPECT_NE(errors.find(path), std::string::npos) << path << "\n" << errors;
  }
}

TEST(IdentityConfigTest, StaticTokenExpiryIsRfc3339) {
  EXPECT_EQ(ParseRfc3339("2027-03-01T00:00:00Z"), 1803859200);
  EXPECT_EQ(ParseRfc3339("2027-03-01T02:00:00+02:00"), 1803859200);
  EXPECT_EQ(ParseRfc3339("2027-03-01T00:00:00.5Z"), 1803859200);
  EXPECT_FALSE(ParseRfc3339("2027-02-30T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2027-03-01 00:00:00"));
  EXPECT_FALSE(ParseRfc3339("2027-03-01T00:00:00"));
}

}  // namespace
}  // namespace agni::testing
