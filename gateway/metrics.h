// Every Prometheus series the gateway exports, declared in one place. Label
// values come from fixed sets (routes, status codes, decisions, stages): never
// a user, token, phone number or raw path.
//
// Thread-safe: prometheus-cpp counters, gauges and histograms are, and the
// families are built once in the constructor.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "audit/store.h"

namespace agni {

class Metrics final : public audit::StoreObserver {
 public:
  Metrics();

  // The Prometheus text exposition of every series.
  std::string Serialize() const;

  // route: "release", "whoami", "other".
  void ObserveRequest(std::string_view route, int status,
                      std::chrono::nanoseconds duration);
  // decision: "allow" | "deny"; mode: "enforce" | "shadow".
  void CountDecision(std::string_view decision, std::string_view mode);
  // outcome: "success" (2xx), "rejected" (other status), "unreachable",
  // "timeout", "tls", "bad_response".
  void ObserveUpstream(std::string_view outcome,
                       std::chrono::nanoseconds duration);

  // audit::StoreObserver
  void OnCommit(const std::vector<const audit::Record*>& records,
                std::chrono::nanoseconds duration) override;
  void OnFailure(std::size_t records) override;
  void OnQueueDepth(std::size_t depth) override;

  // limit: the id of the velocity limit that refused a release.
  void CountRateLimited(std::string_view limit);
  // result: "success" | "failure".
  void CountReload(std::string_view result);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_duration_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Family<prometheus::Counter>& upstream_requests_;
  prometheus::Histogram& upstream_duration_;
  prometheus::Family<prometheus::Counter>& audit_records_;
  prometheus::Counter& audit_write_failures_;
  prometheus::Histogram& audit_commit_duration_;
  prometheus::Gauge& audit_queue_depth_;
  // Policy-language series (gateway/policy_metrics.cc).
  void RegisterPolicyMetrics();
  prometheus::Family<prometheus::Counter>* rate_limited_ = nullptr;
  prometheus::Family<prometheus::Counter>* config_reloads_ = nullptr;
};

}  // namespace agni
