// The "groups" list and the "identity" block of gateway.json (DESIGN.md §10):
// which groups exist, and which OpenID Connect issuers people sign in with.
//
//   "groups": ["support", "telecom-ops"],
//   "identity": { "oidc": [ { "name": "corp", "issuer": "https://...",
//       "audiences": ["agni-gateway"], "algorithms": ["RS256", "ES256"],
//       "group_map": { "okta-telecom-ops": "telecom-ops" }, ... } ] }
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "policies/errors.h"

namespace agni {

// One issuer whose JWTs the gateway accepts as Bearer tokens.
struct OidcIssuerConfig {
  // The metric label (agni_gateway_identity_jwks_refreshes_total{issuer});
  // the config index when not given.
  std::string name;
  std::string issuer;
  std::vector<std::string> audiences;
  std::string user_claim = "email";
  std::string groups_claim = "groups";
  std::map<std::string, std::string, std::less<>> group_map;
  std::vector<std::string> algorithms{"RS256"};
  std::chrono::milliseconds leeway{std::chrono::seconds(60)};
  std::chrono::milliseconds jwks_refresh{std::chrono::hours(1)};
  std::chrono::milliseconds jwks_min_refresh{std::chrono::seconds(30)};
  std::string jwks_url;   // empty: discovery (or jwks_file)
  std::string jwks_file;  // air-gapped: keys from a file
  std::string ca_file;    // empty: the system trust store
  // For the console's sign-in (DESIGN.md §11); not used to verify tokens.
  std::string client_id;
  std::string client_secret_file;
  std::string redirect_url;
};

struct IdentityConfig {
  std::vector<OidcIssuerConfig> oidc;
  // Verified tokens remembered by their SHA-256 (gateway/auth/token_cache.h);
  // 0 turns the cache off.
  std::size_t token_cache_size = 10000;
};

// An RFC 3339 time ("2027-03-01T00:00:00Z", "...+02:00", fractions allowed)
// as seconds since the epoch; nullopt for anything else.
std::optional<std::int64_t> ParseRfc3339(std::string_view text);

// `groups` at `path` (null: absent) into `out`, each a config name.
void ReadDeclaredGroups(const nlohmann::json* value, const std::string& path,
                        std::vector<std::string>& out, ConfigErrors& errors);

// The "identity" block at `path` (null: absent). `declared_groups` are the
// groups group_map may rename to.
void ReadIdentityConfig(
    const nlohmann::json* value, const std::string& path,
    const std::filesystem::path& base_dir,
    const std::set<std::string, std::less<>>& declared_groups,
    IdentityConfig& out, ConfigErrors& errors);

}  // namespace agni
