#include "gateway/auth/jwks_cache.h"

namespace agni {

JwksCache::JwksCache(JwksFetcher fetcher, Options options)
    : fetcher_(std::move(fetcher)), options_(std::move(options)) {}

JwksCache::~JwksCache() { Stop(); }

void JwksCache::Start() {
  std::unique_lock lock(mu_);
  BeginFetch();
  Fetch(lock);
  running_ = true;
  thread_ = std::thread([this] { Run(); });
}

void JwksCache::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  fetch_done_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool JwksCache::Loaded() const { return Keys() != nullptr; }

std::shared_ptr<const JwkSet> JwksCache::Keys() const {
  std::lock_guard lock(keys_mu_);
  return keys_;
}

std::shared_ptr<const JwkSet> JwksCache::RefetchForUnknownKey() {
  std::unique_lock lock(mu_);
  if (!running_ || stopping_) return Keys();
  if (!fetching_) {
    if (fetched_ && SteadyClock::now() - last_fetch_ < options_.min_refresh) {
      return Keys();
    }
    BeginFetch();
    refetch_wanted_ = true;
    wake_.notify_all();
  }
  const std::uint64_t done = fetches_done_;
  fetch_done_.wait_until(lock, last_fetch_ + options_.unknown_key_wait,
                         [&] { return fetches_done_ != done || stopping_; });
  return Keys();
}

void JwksCache::BeginFetch() {
  fetching_ = true;
  last_fetch_ = SteadyClock::now();
}

void JwksCache::Fetch(std::unique_lock<std::mutex>& lock) {
  lock.unlock();
  JwksFetchResult got = fetcher_();
  std::string error = std::move(got.error);
  if (error.empty()) {
    JwksParse parsed = ParseJwks(got.body);
    if (parsed.set) {
      // The verified-token cache answers only while the set a token was
      // checked with is still current, so the same keys served again keep
      // the set object; any change replaces it at once. Fetches run one at a
      // time, so keys_ cannot change between the compare and the store.
      const std::shared_ptr<const JwkSet> current = Keys();
      if (current == nullptr || !SameKeys(*current, *parsed.set)) {
        std::lock_guard keys(keys_mu_);
        keys_ = std::move(parsed.set);
      }
    } else {
      error = std::move(parsed.error);
    }
  }
  if (options_.on_fetch) options_.on_fetch(error.empty(), error);
  lock.lock();
  fetching_ = false;
  fetched_ = true;
  ++fetches_done_;
  fetch_done_.notify_all();
}

void JwksCache::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto wait = Loaded() ? options_.refresh : options_.min_refresh;
    const bool woken = wake_.wait_for(
        lock, wait, [this] { return stopping_ || refetch_wanted_; });
    if (stopping_) break;
    if (!woken) BeginFetch();  // the periodic refresh
    refetch_wanted_ = false;
    Fetch(lock);
  }
}

}  // namespace agni
