// People from the company's identity providers: verifies a Bearer JWT from
// any configured issuer (identity.oidc[]) against that issuer's JWKS, which it
// keeps fresh (gateway/auth/jwks_cache.h). Built per config, replaced whole on
// reload. Thread-safe: Verify() and Ready() may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/auth/jwks_cache.h"
#include "gateway/auth/jwt.h"
#include "gateway/auth/token_cache.h"
#include "gateway/config/config.h"

namespace agni {

class IdentityVerifier {
 public:
  // After every key fetch: the issuer's label (its config name or index),
  // whether it worked, and the error (never key material or a token).
  using FetchObserver = std::function<void(const std::string& issuer, bool ok,
                                           const std::string& error)>;
  // Where an issuer's keys come from; tests may replace the network.
  using FetcherFactory = std::function<JwksFetcher(const OidcIssuerConfig&)>;
  // After every Verify() of a well-formed token while the verified-token
  // cache is on: whether the answer came from the cache.
  using CacheObserver = std::function<void(bool hit)>;

  // `declared_groups`: config `groups` plus the static users' groups.
  IdentityVerifier(const IdentityConfig& config,
                   const std::vector<std::string>& declared_groups,
                   FetchObserver on_fetch = nullptr,
                   FetcherFactory fetchers = nullptr,
                   CacheObserver on_cache = nullptr);
  ~IdentityVerifier();

  // Fetches every issuer's keys once (the caller waits, bounded by the
  // fetch timeouts) and starts their refresh threads.
  void Start();

  // True when every issuer has keys (the `identity keys` line of /readyz).
  bool Ready() const;
  bool empty() const { return issuers_.empty(); }

  // The token's checks in order: size and shape, issuer, algorithm, key
  // (refetching on an unknown kid, rate-limited), signature, claims. A token
  // that passed is remembered by its SHA-256 (identity.token_cache_size
  // entries at most): sent again, it passes with only its times and its key
  // set checked again (gateway/auth/token_cache.h).
  JwtVerification Verify(std::string_view token,
                         std::chrono::system_clock::time_point now) const;
  // The same, with the token's SHA-256 (raw) already at hand (the
  // authenticator hashes every Bearer token anyway). It keys the cache, so it
  // must be the digest of `token` itself.
  JwtVerification Verify(std::string_view token, std::string_view sha256_raw,
                         std::chrono::system_clock::time_point now) const;
  // Tokens remembered now (at most identity.token_cache_size).
  std::size_t CachedTokens() const;

  // An ID token from the console's sign-in at `issuer` (OpenID Connect Core
  // §3.1.3.7): Verify()'s checks with `aud` containing `client_id` in place
  // of the configured audiences. `nonce` receives the token's "nonce" claim
  // (empty when absent) for the caller to compare with the one it sent.
  JwtVerification VerifyIdToken(std::string_view token, std::string_view issuer,
                                std::string_view client_id,
                                std::chrono::system_clock::time_point now,
                                std::string& nonce) const;

 private:
  struct Issuer {
    JwtRules rules;
    std::unique_ptr<JwksCache> keys;
  };
  // The cached answer for `digest`, when there is one and its key set is
  // still the issuer's.
  std::optional<JwtVerification> FromCache(
      const VerifiedTokenCache::Digest& digest,
      std::chrono::system_clock::time_point now) const;
  JwtVerification VerifyUncached(
      std::string_view token, std::chrono::system_clock::time_point now,
      const std::optional<VerifiedTokenCache::Digest>& digest) const;

  std::vector<Issuer> issuers_;
  std::unique_ptr<VerifiedTokenCache> cache_;  // null: caching is off
  CacheObserver on_cache_;
};

}  // namespace agni
