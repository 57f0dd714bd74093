// JSON Web Tokens from an identity provider (RFC 7519 over a compact RFC 7515
// JWS): parsing with strict limits, then the checks of DESIGN.md §10. Pure
// functions over immutable inputs; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/auth/jwk.h"

namespace agni {

// Tokens above this are refused unparsed (a header's worth of JSON is never
// this big; a bigger one is an attempt to make the gateway work).
constexpr std::size_t kMaxJwtBytes = 8 * 1024;

// The check a token failed. Its name is the 401's `detail`, the audit
// record's and the metric's `result`: never anything taken from the token.
enum class JwtCheck {
  kTooLarge,
  kMalformed,
  kAlgorithm,
  kIssuer,
  kUnknownKey,
  kSignature,
  kAudience,
  kExpired,
  kNotYetValid,
  kUserClaim,
};
std::string_view JwtCheckName(JwtCheck check);

// A compact JWS split and decoded, nothing checked yet but its shape.
struct Jws {
  nlohmann::json header;   // an object
  nlohmann::json payload;  // an object
  std::string alg;         // header "alg", as sent
  std::string kid;         // header "kid"
  bool has_kid = false;
  std::string_view signing_input;  // into the token passed to ParseJws
  std::string signature;           // raw bytes
};

struct JwsParse {
  std::optional<Jws> jws;
  JwtCheck failure = JwtCheck::kMalformed;  // when !jws
};

// Three base64url segments (strict), header and payload JSON objects without
// a key twice, a string "alg", a string "kid" when present. `token` must
// outlive the result (signing_input points into it).
JwsParse ParseJws(std::string_view token);

// True when `token` has the shape of a JWS (three dot-separated segments
// whose first decodes to a JSON object), so a Bearer credential is judged as a
// JWT rather than as a static token.
bool LooksLikeJwt(std::string_view token);

// What one issuer's tokens must satisfy (identity.oidc[i] of the config).
struct JwtRules {
  std::string issuer;
  std::vector<std::string> audiences;
  std::vector<JwsAlg> algorithms;
  std::chrono::seconds leeway{60};
  std::string user_claim = "email";
  std::string groups_claim = "groups";
  std::map<std::string, std::string, std::less<>> group_map;
  // The groups the config declares; others from the token are dropped.
  std::set<std::string, std::less<>> declared_groups;
};

// A token's NumericDate claims (RFC 7519 §4.1.4-6), whole seconds since the
// epoch.
struct TokenTimes {
  std::int64_t expires = 0;                // exp, required
  std::optional<std::int64_t> not_before;  // nbf
  std::optional<std::int64_t> issued_at;   // iat
};

// The `expired` or `not_yet_valid` check of `times` at `now`, each judged
// with `leeway`; nullopt when both pass.
std::optional<JwtCheck> CheckTokenTimes(
    const TokenTimes& times, std::chrono::seconds leeway,
    std::chrono::system_clock::time_point now);

// A token that passed every check.
struct VerifiedJwt {
  std::string name;
  std::vector<std::string> groups;
  std::string issuer;
  std::string jti;  // empty when the token has none
  TokenTimes times;
};

struct JwtVerification {
  std::optional<VerifiedJwt> ok;
  JwtCheck failure = JwtCheck::kMalformed;  // when !ok
};

// The token's algorithm when `rules` allow it (checked before any key is
// looked at); nullopt is the `algorithm` check failing.
std::optional<JwsAlg> AllowedAlgorithm(const Jws& jws, const JwtRules& rules);

// The payload's "iss" when it is a string (to pick the issuer's rules).
std::optional<std::string> IssuerOf(const Jws& jws);

// Signature with `key` (looked up by the caller in the issuer's JWKS; null is
// `unknown_key`), then iss, aud, exp (required), nbf and iat with leeway, then
// the user and groups claims.
JwtVerification VerifyJwt(const Jws& jws, JwsAlg alg, const JwtRules& rules,
                          const Jwk* key,
                          std::chrono::system_clock::time_point now);

}  // namespace agni
