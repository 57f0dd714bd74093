// The console's calls to an identity provider during sign-in: its discovery
// document and its token endpoint. The cpp-httplib adapter of the sign-in,
// under the key fetches' rules (gateway/auth/jwks_fetch.h): https with
// certificate and host name verification (TLS 1.2+), plain http only to a
// loopback address, no redirects, bounded sizes and time.
//
// Thread-safe: free functions, one client per call.
#pragma once

#include <chrono>
#include <string>

namespace agni {

// What a provider answered, or why it could not be asked. `error` never
// quotes a request body (it holds the code and the client secret).
struct ProviderAnswer {
  int status = 0;     // 0: no answer (see error)
  std::string body;   // at most 1 MiB
  std::string error;  // non-empty: no usable answer
};

struct ProviderCall {
  std::string url;
  std::string ca_file;  // empty: the system trust store
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};
  // POST as application/x-www-form-urlencoded when `form` is set; else GET.
  bool post = false;
  std::string form;
  // HTTP Basic client authentication (RFC 6749 §2.3.1: each part already
  // form-encoded); none when `basic_user` is empty.
  std::string basic_user;
  std::string basic_password;
};

ProviderAnswer CallProvider(const ProviderCall& call);

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
