// Tokens that passed every check, remembered by the SHA-256 of their text, so
// a token sent again costs a hash and a lookup instead of a signature check,
// two JSON parses and the claim mapping (Envoy's jwt_authn and Pomerium do
// the same). The token itself is never kept. Each entry remembers what a hit
// must still check (IdentityVerifier::Verify does): the token's times against
// the clock, and the key set it was verified with, so an expired token or one
// whose key has left the issuer's JWKS is refused at once.
//
// Bounded: never more than `capacity` entries; the least recently used go
// first. Thread-safe: split into shards, each behind its own mutex, so the
// request threads rarely wait for each other.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/auth/jwk.h"
#include "gateway/auth/jwt.h"

namespace agni {

// What a verified token left behind: the principal and what a hit re-checks.
struct CachedToken {
  VerifiedJwt verified;
  std::size_t issuer = 0;  // index into the verifier's issuers
  // The key set the signature was checked with; a hit needs the issuer's
  // current set to be this very one. Weak, so the cache keeps no key alive;
  // compared by owner, so a new set at a reused address never matches.
  std::weak_ptr<const JwkSet> keys;
};

class VerifiedTokenCache {
 public:
  // SHA-256 of the token's text, raw.
  using Digest = std::array<unsigned char, 32>;
  static std::optional<Digest> ToDigest(std::string_view sha256_raw);

  // `capacity` 0 keeps nothing.
  explicit VerifiedTokenCache(std::size_t capacity);
  VerifiedTokenCache(const VerifiedTokenCache&) = delete;
  VerifiedTokenCache& operator=(const VerifiedTokenCache&) = delete;

  // A copy of the entry (marked most recently used), or nullopt.
  std::optional<CachedToken> Find(const Digest& digest);
  // Inserts or replaces; evicts the shard's least recently used entry when
  // it is full.
  void Insert(const Digest& digest, CachedToken token);
  void Erase(const Digest& digest);

  std::size_t size() const;
  std::size_t capacity() const { return capacity_; }

 private:
  struct DigestHash {
    // The digest is already uniform: its first bytes are the hash.
    std::size_t operator()(const Digest& d) const;
  };
  struct Shard {
    using Lru = std::list<std::pair<Digest, CachedToken>>;  // newest first
    mutable std::mutex mu;
    Lru lru;
    std::unordered_map<Digest, Lru::iterator, DigestHash> index;
    std::size_t capacity = 0;
  };
  Shard& ShardOf(const Digest& digest);

  std::size_t capacity_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
};

// True when `cached` was taken from `current` (the same set object, not
// merely an equal one).
bool SameKeySet(const std::weak_ptr<const JwkSet>& cached,
                const std::shared_ptr<const JwkSet>& current);

}  // namespace agni
