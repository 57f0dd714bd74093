// One HTTP exchange with an identity provider: its discovery document
// (gateway/auth/provider_discovery.h), its JWKS (gateway/auth/jwks_fetch.h),
// the console's token exchange (gateway/console/provider_http.h). The
// cpp-httplib adapter they share: https with certificate and host name
// verification (TLS 1.2+), plain http only to a loopback address, no redirects,
// no keep-alive, at most 1 MiB of answer, every phase bounded by the timeout.
//
// Thread-safe: free functions, one client per call.
#pragma once

#include <chrono>
#include <string>

namespace agni {

// What a provider answered, or why it could not be asked. `error` never
// quotes a request body (it may hold a code and a client secret).
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

// A GET of a document (discovery, JWKS) that must answer 200: any other
// status is an error, "<url> answered <status>", and no body.
ProviderAnswer GetProviderDocument(const std::string& url,
                                   const std::string& ca_file,
                                   std::chrono::milliseconds timeout);

// True for https://host[:port][/path] and for http:// to a loopback host:
// the only URLs the gateway asks a provider at.
bool IsAllowedKeyUrl(const std::string& url);

}  // namespace agni
