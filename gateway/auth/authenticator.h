// Establishes who is calling from the credential headers of a request.
// Immutable after construction and safe to share between threads.
#pragma once

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
  std::string auth_method;  // "bearer", "api_key" or "mtls"

  // True when the caller is in at least one of `any_of` (the auditors or
  // admins groups of the config, say).
  bool InAnyGroup(const std::vector<std::string>& any_of) const;
};

// The credential headers exactly as received. Counts matter: a request with two
// Authorization headers is refused rather than guessed at.
struct Credentials {
  std::vector<std::string_view> authorization;
  std::vector<std::string_view> api_key;
};

struct AuthResult {
  std::optional<Principal> principal;
  // Why authentication failed, safe to show to the client and to audit: it
  // never quotes the credential.
  std::string failure;
};

class Authenticator {
 public:
  explicit Authenticator(const std::vector<User>& users);

  // Never throws on a bad credential. The token's SHA-256 is compared with
  // every user's stored hash in constant time, without early exit, so timing
  // reveals neither the hash nor which user matched.
  AuthResult Authenticate(const Credentials& credentials) const;
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
  };
  std::vector<Entry> entries_;
};

}  // namespace agni
