// Where an issuer's JWKS comes from: discovery
// ({issuer}/.well-known/openid-configuration -> jwks_uri), a jwks_url, or a
// jwks_file. Over the network through FetchDiscovery() and CallProvider()
// (gateway/auth/provider_discovery.h, provider_call.h): https with certificate
// and host name verification (TLS 1.2+), plain http only to a loopback address,
// no redirects, bounded sizes and time.
#pragma once

#include <chrono>
#include <string>

#include "gateway/auth/jwks_cache.h"
#include "gateway/auth/provider_call.h"

namespace agni {

struct JwksSource {
  std::string issuer;     // for discovery, and checked against its answer
  std::string jwks_url;   // instead of discovery
  std::string jwks_file;  // instead of any network
  std::string ca_file;    // empty: the system trust store
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};
};

// A fetcher for JwksCache. Each call runs discovery again, so a provider that
// moves its jwks_uri is followed.
JwksFetcher MakeJwksFetcher(JwksSource source);

}  // namespace agni
