// One issuer's signing keys, kept fresh: fetched at Start(), refreshed every
// `refresh` on a thread of its own, refetched on a token with an unknown kid
// at most once per `min_refresh` (so random kids cannot make the gateway
// hammer the provider). A failed fetch keeps the last good keys.
// Thread-safe: Keys() and RefetchForUnknownKey() may be called from any
// request thread.
#pragma once

#include <chrono>
#include <condition_variable>
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
  // For a token whose kid is not in Keys(): fetches again unless a fetch
  // started less than min_refresh ago, and returns the keys as they are then.
  std::shared_ptr<const JwkSet> RefetchForUnknownKey();

 private:
  void Fetch();  // with fetch_mu_ held
  void Run();

  const JwksFetcher fetcher_;
  const Options options_;

  std::mutex fetch_mu_;  // one fetch at a time; guards last_fetch_
  std::chrono::steady_clock::time_point last_fetch_{};
  bool fetched_ = false;

  mutable std::mutex keys_mu_;
  std::shared_ptr<const JwkSet> keys_;

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace agni
