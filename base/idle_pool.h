// A bounded stack of idle, reusable objects (keep-alive upstream clients,
// read-only database connections): Take() one or nothing, Put() it back
// after use. A borrowed object is used by one thread at a time; one that
// failed mid-use is simply not put back. Thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace agni {

template <typename T>
class IdlePool {
 public:
  explicit IdlePool(std::size_t max_idle) : max_idle_(max_idle) {}

  // An idle object, or nullptr when there is none (the caller makes one).
  std::unique_ptr<T> Take() {
    std::lock_guard lock(mu_);
    if (idle_.empty()) return nullptr;
    std::unique_ptr<T> object = std::move(idle_.back());
    idle_.pop_back();
    return object;
  }

  // Keeps `object` for the next Take(), unless max_idle are already kept.
  void Put(std::unique_ptr<T> object) {
    std::lock_guard lock(mu_);
    if (idle_.size() < max_idle_) idle_.push_back(std::move(object));
  }

 private:
  const std::size_t max_idle_;
  std::mutex mu_;
  std::vector<std::unique_ptr<T>> idle_;
};

}  // namespace agni
