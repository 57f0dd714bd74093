#include "gateway/auth/token_cache.h"

#include <algorithm>
#include <cstring>

namespace agni {
namespace {

// Enough shards that 64 request threads seldom meet on one mutex; fewer for
// a small bound, so that every shard holds at least one entry.
constexpr std::size_t kMaxShards = 16;

}  // namespace

std::optional<VerifiedTokenCache::Digest> VerifiedTokenCache::ToDigest(
    std::string_view sha256_raw) {
  Digest d;
  if (sha256_raw.size() != d.size()) return std::nullopt;
  std::memcpy(d.data(), sha256_raw.data(), d.size());
  return d;
}

std::size_t VerifiedTokenCache::DigestHash::operator()(const Digest& d) const {
  std::size_t h;
  std::memcpy(&h, d.data(), sizeof h);
  return h;
}

VerifiedTokenCache::VerifiedTokenCache(std::size_t capacity)
    : capacity_(capacity) {
  const std::size_t shards = std::clamp<std::size_t>(capacity, 1, kMaxShards);
  for (std::size_t i = 0; i < shards; ++i) {
    auto shard = std::make_unique<Shard>();
    // Spread the bound so the shards together hold at most `capacity`.
    shard->capacity = capacity / shards + (i < capacity % shards ? 1 : 0);
    shards_.push_back(std::move(shard));
  }
}

VerifiedTokenCache::Shard& VerifiedTokenCache::ShardOf(const Digest& digest) {
  // Not the bytes DigestHash uses, so one shard's map still spreads well.
  return *shards_[digest[31] % shards_.size()];
}

std::optional<CachedToken> VerifiedTokenCache::Find(const Digest& digest) {
  Shard& s = ShardOf(digest);
  std::lock_guard lock(s.mu);
  const auto it = s.index.find(digest);
  if (it == s.index.end()) return std::nullopt;
  s.lru.splice(s.lru.begin(), s.lru, it->second);
  return it->second->second;
}

void VerifiedTokenCache::Insert(const Digest& digest, CachedToken token) {
  Shard& s = ShardOf(digest);
  std::lock_guard lock(s.mu);
  if (s.capacity == 0) return;
  if (const auto it = s.index.find(digest); it != s.index.end()) {
    it->second->second = std::move(token);
    s.lru.splice(s.lru.begin(), s.lru, it->second);
    return;
  }
  if (s.lru.size() >= s.capacity) {
    s.index.erase(s.lru.back().first);
    s.lru.pop_back();
  }
  s.lru.emplace_front(digest, std::move(token));
  s.index.emplace(digest, s.lru.begin());
}

void VerifiedTokenCache::Erase(const Digest& digest) {
  Shard& s = ShardOf(digest);
  std::lock_guard lock(s.mu);
  if (const auto it = s.index.find(digest); it != s.index.end()) {
    s.lru.erase(it->second);
    s.index.erase(it);
  }
}

std::size_t VerifiedTokenCache::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mu);
    n += s->lru.size();
  }
  return n;
}

bool SameKeySet(const std::weak_ptr<const JwkSet>& cached,
                const std::shared_ptr<const JwkSet>& current) {
  if (current == nullptr) return false;
  return !cached.owner_before(current) && !current.owner_before(cached);
}

}  // namespace agni
