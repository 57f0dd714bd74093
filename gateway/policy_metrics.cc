// The series of the policy language: velocity limits and config reloads.
#include <prometheus/counter.h>

#include "gateway/metrics.h"

namespace agni {

void Metrics::RegisterPolicyMetrics() {
  rate_limited_ = &prometheus::BuildCounter()
                       .Name("agni_gateway_rate_limited_total")
                       .Help(
                           "Releases refused with 429 because a velocity "
                           "limit was reached, by limit id.")
                       .Register(*registry_);
  config_reloads_ = &prometheus::BuildCounter()
                         .Name("agni_gateway_config_reloads_total")
                         .Help(
                             "Reloads of users, policy and inventory on "
                             "SIGHUP, by result (success|failure).")
                         .Register(*registry_);
  for (const char* r : {"success", "failure"}) {
    config_reloads_->Add({{"result", r}});
  }
  // Shadow results show as zeros too, so a trial rule that never matches is
  // visible as such rather than as a missing series.
  for (const char* d : {"allow", "deny"}) {
    decisions_.Add({{"decision", d}, {"mode", "shadow"}});
  }
}

void Metrics::CountRateLimited(std::string_view limit) {
  rate_limited_->Add({{"limit", std::string(limit)}}).Increment();
}

void Metrics::CountReload(std::string_view result) {
  config_reloads_->Add({{"result", std::string(result)}}).Increment();
}

}  // namespace agni
