// At most one release of a given number in flight at a time. Thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>

namespace agni {

class SingleFlight {
 public:
  // Holds the number's slot until destroyed. An empty Lease did not get it.
  class Lease {
   public:
    Lease() = default;
    Lease(SingleFlight* owner, std::string key)
        : owner_(owner), key_(std::move(key)) {}
    Lease(Lease&& other) noexcept
        : owner_(std::exchange(other.owner_, nullptr)),
          key_(std::move(other.key_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (owner_ != nullptr) owner_->Release(key_);
    }
    explicit operator bool() const { return owner_ != nullptr; }

   private:
    SingleFlight* owner_ = nullptr;
    std::string key_;
  };

  // Returns a held Lease, or an empty one when `key` is already in flight.
  Lease TryAcquire(const std::string& key);

 private:
  void Release(const std::string& key);

  std::mutex mu_;
  std::unordered_set<std::string> in_flight_;
};

}  // namespace agni
