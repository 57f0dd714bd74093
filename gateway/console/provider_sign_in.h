// The console's sign-in at the company's identity provider (DESIGN.md §11):
// OpenID Connect's authorization-code flow with PKCE (S256), `state` and
// `nonce`. GET /ui/login starts it; GET /ui/callback ends it in a principal
// for a console session.
//
// The flow is kept server-side (the session store), found by the SHA-256 of
// its state, good for one callback and for kFlowLifetime, and bound to the
// browser that started it by a login cookie (only its hash is stored): a
// callback URL made in one browser signs no one in from another (login CSRF).
// The ID token is verified by the gateway's identity code (issuer, aud equal
// to the client_id, signature, exp) and must carry the flow's nonce. Nothing
// it reports quotes the code, a token or the client secret.
//
// Thread-safe: immutable but for the thread-safe store.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/auth/authenticator.h"
#include "gateway/config/identity_config.h"
#include "gateway/console/session_store.h"
#include "gateway/http/http_types.h"

namespace agni {

class IdentityVerifier;

inline constexpr const char* kLoginCookie = "__Host-agni_login";
inline constexpr std::chrono::minutes kFlowLifetime{10};
// Sign-ins under way at once; past it the oldest is dropped.
inline constexpr std::size_t kMaxLoginFlows = 1000;

// The identity.oidc entries the console offers sign-in with (a client_id).
std::vector<OidcIssuerConfig> SignInProviders(const IdentityConfig& identity);

class ProviderSignIn {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  ProviderSignIn(
      SessionStore& store, Clock clock,
      std::chrono::milliseconds provider_timeout = std::chrono::seconds(5));

  // How a step failed: the user's sign-in was refused (401), the request was
  // malformed (400), or the provider could not be asked (502).
  enum class Failure { kNone, kRefused, kBadRequest, kProviderUnavailable };

  struct Started {
    Failure failure = Failure::kNone;
    std::string detail;      // when failed
    std::string location;    // the provider's authorization URL
    std::string set_cookie;  // the login cookie that binds this browser
  };
  // Discovers the provider's endpoints and records a new flow. A
  // `return_path` (already checked by SafeReturnPath) is where the callback
  // sends the browser once signed in; it travels in the login cookie, whose
  // hash the flow keeps, so it cannot be changed on the way.
  Started Start(const OidcIssuerConfig& provider,
                const std::string& return_path = "");

  struct Finished {
    Failure failure = Failure::kNone;
    std::string detail;  // when failed: which check, never a secret
    std::optional<Principal> principal;
    std::string provider;  // the flow's provider name, once known
    // The console page to land on (a SafeReturnPath), or "/ui/".
    std::string return_path = "/ui/";
    // For agni_gateway_auth_total{method="oidc"}: the ID token's failed
    // check, else "invalid" (a fixed set).
    std::string_view metric_result = "invalid";
  };
  // The callback's checks in order: state known, unused and fresh; the same
  // browser; the provider's error; the code exchanged at the token
  // endpoint; the ID token verified; the nonce.
  Finished Finish(const HttpRequest& request,
                  const std::vector<OidcIssuerConfig>& providers,
                  const IdentityVerifier* verifier);

  // Set-Cookie value that makes the browser drop the login cookie.
  static std::string ClearCookie();

 private:
  std::int64_t NowUs() const;

  SessionStore& store_;
  const Clock clock_;
  const std::chrono::milliseconds timeout_;
};

// `path` when it is a console page to return to after sign-in: a path under
// /ui/ with an optional query, no scheme, host, backslash, `..` segment,
// fragment or encoded path byte, at most 512 bytes; nullopt otherwise, so a
// sign-in link can never send the browser to another site.
std::optional<std::string> SafeReturnPath(std::string_view path);

// application/x-www-form-urlencoded encoding of one value (RFC 6749
// appendix B); exposed for tests.
std::string FormEncode(std::string_view value);

// The query parameter `name` of `target`, percent-decoded ('+' is a space);
// nullopt when absent or present more than once.
std::optional<std::string> QueryParam(std::string_view target,
                                      std::string_view name);

}  // namespace agni
