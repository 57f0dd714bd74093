// Establishes who is calling from the credential headers of a request.
// Immutable after construction and safe to share between threads.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config/config.h"

namespace agni {

// An authenticated caller.
struct Principal {
  std::string name;
  std::vector<std::string> groups;
  std::string auth_method;  // "bearer", "api_key", "mtls" or "oidc"
  // For the audit record's detail: "iss=...; jti=..." of a JWT (never the
  // token); empty for the other methods.
  std::string audit_detail;

  // True when the caller is in at least one of `any_of` (the auditors or
  // admins groups of the config, say).
  bool InAnyGroup(const std::vector<std::string>& any_of) const;
};

// The credential headers exactly as received. Counts matter: a request with two
// Authorization headers is refused rather than guessed at.
struct Credentials {
  std::vector<std::string_view> authorization;
  std::vector<std::string_view> api_key;
  // One more Authorization header, too long to be read (the listener left
  // it out): refused as `too_large`, never looked at.
  bool authorization_too_large = false;
};

struct AuthResult {
  std::optional<Principal> principal;
  // Why authentication failed, safe to show to the client and to audit: it
  // never quotes the credential.
  std::string failure;
  // For agni_gateway_auth_total{method,result}: the method the credential
  // was judged as and "success" or the failed check (fixed sets).
  std::string_view method = "none";
  std::string_view result = "invalid";
};

class IdentityVerifier;

class Authenticator {
 public:
  // `identity` (may be null: no identity.oidc) verifies Bearer JWTs.
  explicit Authenticator(
      const std::vector<User>& users,
      std::shared_ptr<const IdentityVerifier> identity = nullptr);

  // Never throws on a bad credential. The token's SHA-256 is compared with
  // every user's stored hash in constant time, without early exit, so timing
  // reveals neither the hash nor which user matched. A Bearer token that is
  // no user's and has the shape of a JWT is verified by `identity`; a
  // failure's text is the name of the failed check. `now` judges the expiry
  // of static tokens and JWTs.
  AuthResult Authenticate(const Credentials& credentials,
                          std::chrono::system_clock::time_point now =
                              std::chrono::system_clock::now()) const;
  // False while an identity provider's keys have not loaded yet.
  bool IdentityReady() const;
  // The configured user `name` (mTLS: a verified client certificate mapped
  // to it), with `auth_method` "mtls"; nullopt when no such user.
  std::optional<Principal> FindUser(std::string_view name) const;

  // True when `candidate` is some user's token. Used to keep a token a client
  // misplaced (as its X-Request-Id, in the path) out of the audit log, the
  // upstream request and responses. Same constant-time comparison.
  bool IsKnownToken(std::string_view candidate) const;

 private:
  struct Entry {
    std::string token_hash_raw;  // 32 bytes
    Principal principal;
    std::optional<std::int64_t> expires;  // seconds since the epoch
  };
  std::vector<Entry> entries_;
  std::shared_ptr<const IdentityVerifier> identity_;
};

}  // namespace agni
