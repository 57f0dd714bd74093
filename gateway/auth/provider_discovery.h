// An identity provider's OpenID Connect discovery document
// ({issuer}/.well-known/openid-configuration), the one place it is fetched
// and checked: for the JWKS's jwks_uri (gateway/auth/jwks_fetch.h) and for
// the console sign-in's endpoints (gateway/console/provider_http.h). Over
// CallProvider() (gateway/auth/provider_call.h), so with the same TLS
// verification, loopback-only plain http, size and time bounds.
//
// Thread-safe: a free function, one client per call.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

namespace agni {

// A discovery document that names the issuer it was fetched for, or what was
// wrong (never a body).
struct DiscoveryDocument {
  std::string url;          // where it was asked for, for callers' errors
  nlohmann::json document;  // a JSON object when `error` is empty
  std::string error;        // non-empty: no usable document
};

// Fetches `issuer`'s discovery document and checks that its `issuer` member
// equals `issuer` exactly (OpenID Connect Discovery §4.3): a document that
// names another issuer describes someone else's endpoints and keys.
DiscoveryDocument FetchDiscovery(const std::string& issuer,
                                 const std::string& ca_file,
                                 std::chrono::milliseconds timeout);

}  // namespace agni
