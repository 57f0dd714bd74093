// One issuer's signing keys, kept fresh: fetched at Start(), refreshed every
// `refresh` on a thread of its own, refetched on a token with an unknown kid
// at most once per `min_refresh` (so random kids cannot make the gateway
// hammer the provider). Every fetch after Start() runs on that thread, one at
// a time: a request with an unknown kid waits for it at most
// `unknown_key_wait` from the fetch's start, so a provider that hangs holds
// no request longer than that, and piles up no fetches. A failed fetch keeps
// the last good keys; a fetch that yields the same keys (SameKeys()) keeps
// the set object too, so tokens verified with it stay cached
// (gateway/auth/token_cache.h). Thread-safe: Keys() and RefetchForUnknownKey()
// may be called from any request thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "gateway/auth/jwk.h"

namespace agni {

// A JWKS document's text, or why it could not be had (never key material).
struct JwksFetchResult {
  std::string body;
  std::string error;  // empty on success
};
using JwksFetcher = std::function<JwksFetchResult()>;

class JwksCache {
 public:
  struct Options {
    std::chrono::milliseconds refresh{std::chrono::hours(1)};
    std::chrono::milliseconds min_refresh{std::chrono::seconds(30)};
    // After every fetch: ok, and the error when not (for metrics and logs).
    std::function<void(bool ok, const std::string& error)> on_fetch;
    // How long after a refetch starts a request with an unknown kid still
    // waits for it.
    std::chrono::milliseconds unknown_key_wait{std::chrono::seconds(1)};
  };

  JwksCache(JwksFetcher fetcher, Options options);
  ~JwksCache();
  JwksCache(const JwksCache&) = delete;
  JwksCache& operator=(const JwksCache&) = delete;

  // Fetches once now (the caller waits), then starts the refresh thread,
  // which retries every min_refresh while no keys have loaded.
  void Start();
  void Stop();

  bool Loaded() const;
  // The current keys; null before the first successful fetch.
  std::shared_ptr<const JwkSet> Keys() const;
  // For a token whose kid is not in Keys(): asks the refresh thread to fetch
  // again unless a fetch started less than min_refresh ago, waits for the
  // fetch under way (bounded by unknown_key_wait from its start), and returns
  // the keys as they are then.
  std::shared_ptr<const JwkSet> RefetchForUnknownKey();

 private:
  using SteadyClock = std::chrono::steady_clock;
  // Runs the fetch marked as under way, with `lock` (on mu_) released
  // meanwhile.
  void Fetch(std::unique_lock<std::mutex>& lock);
  void BeginFetch();  // with mu_ held
  void Run();

  const JwksFetcher fetcher_;
  const Options options_;

  std::mutex mu_;                 // guards the fields below up to keys_mu_
  std::condition_variable wake_;  // the refresh thread's
  std::condition_variable fetch_done_;  // requests waiting for a fetch
  bool running_ = false;                // the refresh thread is up
  bool stopping_ = false;
  bool fetching_ = false;        // a fetch is under way (or asked for)
  bool refetch_wanted_ = false;  // for the refresh thread, by a request
  bool fetched_ = false;
  SteadyClock::time_point last_fetch_{};  // when the latest fetch started
  std::uint64_t fetches_done_ = 0;

  mutable std::mutex keys_mu_;
  std::shared_ptr<const JwkSet> keys_;

  std::thread thread_;
};

}  // namespace agni
