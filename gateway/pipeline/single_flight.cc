#include "gateway/pipeline/single_flight.h"

namespace agni {

SingleFlight::Lease SingleFlight::TryAcquire(const std::string& key) {
  std::lock_guard lock(mu_);
  if (!in_flight_.insert(key).second) return {};
  return Lease(this, key);
}

void SingleFlight::Release(const std::string& key) {
  std::lock_guard lock(mu_);
  in_flight_.erase(key);
}

}  // namespace agni
