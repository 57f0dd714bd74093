#include "gateway/auth/jwks_cache.h"

namespace agni {

JwksCache::JwksCache(JwksFetcher fetcher, Options options)
    : fetcher_(std::move(fetcher)), options_(std::move(options)) {}

JwksCache::~JwksCache() { Stop(); }

void JwksCache::Start() {
  {
    std::lock_guard lock(fetch_mu_);
    Fetch();
  }
  thread_ = std::thread([this] { Run(); });
}

void JwksCache::Stop() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool JwksCache::Loaded() const { return Keys() != nullptr; }

std::shared_ptr<const JwkSet> JwksCache::Keys() const {
  std::lock_guard lock(keys_mu_);
  return keys_;
}

std::shared_ptr<const JwkSet> JwksCache::RefetchForUnknownKey() {
  std::lock_guard lock(fetch_mu_);
  if (!fetched_ ||
      std::chrono::steady_clock::now() - last_fetch_ >= options_.min_refresh) {
    Fetch();
  }
  return Keys();
}

void JwksCache::Fetch() {
  fetched_ = true;
  last_fetch_ = std::chrono::steady_clock::now();
  JwksFetchResult got = fetcher_();
  std::string error = std::move(got.error);
  if (error.empty()) {
    JwksParse parsed = ParseJwks(got.body);
    if (parsed.set) {
      std::lock_guard lock(keys_mu_);
      keys_ = std::move(parsed.set);
    } else {
      error = std::move(parsed.error);
    }
  }
  if (options_.on_fetch) options_.on_fetch(error.empty(), error);
}

void JwksCache::Run() {
  std::unique_lock lock(stop_mu_);
  while (!stopping_) {
    const auto wait = Loaded() ? options_.refresh : options_.min_refresh;
    if (stop_cv_.wait_for(lock, wait, [this] { return stopping_; })) break;
    lock.unlock();
    {
      std::lock_guard fetch(fetch_mu_);
      Fetch();
    }
    lock.lock();
  }
}

}  // namespace agni
