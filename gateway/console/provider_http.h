// The console's calls to an identity provider during sign-in: its discovery
// document through FetchDiscovery() (gateway/auth/provider_discovery.h), as
// the key fetches do, and its token endpoint through CallProvider()
// (gateway/auth/provider_call.h): https with certificate and host name
// verification (TLS 1.2+), plain http only to a loopback address, no
// redirects, bounded sizes and time.
//
// Thread-safe: free functions, one client per call.
#pragma once

#include <chrono>
#include <string>

#include "gateway/auth/provider_call.h"

namespace agni {

// The endpoints of `issuer`'s discovery document (OpenID Connect Discovery
// §4), which must name `issuer` itself; `error` says what is wrong.
struct ProviderEndpoints {
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string error;
};
ProviderEndpoints DiscoverEndpoints(const std::string& issuer,
                                    const std::string& ca_file,
                                    std::chrono::milliseconds timeout);

}  // namespace agni
