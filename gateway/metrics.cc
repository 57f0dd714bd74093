#include "gateway/metrics.h"

#include <prometheus/text_serializer.h>

namespace agni {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;

double Seconds(std::chrono::nanoseconds d) {
  return std::chrono::duration<double>(d).count();
}

// Latency buckets from 100µs to 30s: a denial takes microseconds, an upstream
// call up to the read timeout.
Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10,   30};
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(BuildCounter()
                    .Name("agni_gateway_requests_total")
                    .Help("Requests answered on the main listener, by route "
                          "and HTTP status code.")
                    .Register(*registry_)),
      request_duration_(BuildHistogram()
                            .Name("agni_gateway_request_duration_seconds")
                            .Help("Time from receiving a request to having its "
                                  "response ready, by route.")
                            .Register(*registry_)),
      decisions_(BuildCounter()
                     .Name("agni_gateway_policy_decisions_total")
                     .Help("Policy decisions, by decision and rule mode "
                           "(shadow decisions never change the outcome).")
                     .Register(*registry_)),
      upstream_requests_(BuildCounter()
                             .Name("agni_gateway_upstream_requests_total")
                             .Help("Release calls sent to the upstream, by "
                                   "outcome.")
                             .Register(*registry_)),
      upstream_duration_(
          BuildHistogram()
              .Name("agni_gateway_upstream_request_duration_seconds")
              .Help("Duration of release calls to the upstream.")
              .Register(*registry_)
              .Add({}, LatencyBuckets())),
      audit_records_(BuildCounter()
                         .Name("agni_gateway_audit_records_total")
                         .Help("Audit records durably committed, by stage.")
                         .Register(*registry_)),
      audit_write_failures_(
          BuildCounter()
              .Name("agni_gateway_audit_write_failures_total")
              .Help("Audit records that could not be committed (each one "
                    "failed its request with 503).")
              .Register(*registry_)
              .Add({})),
      audit_commit_duration_(
          BuildHistogram()
              .Name("agni_gateway_audit_commit_duration_seconds")
              .Help("Duration of one audit group commit, fsync included.")
              .Register(*registry_)
              .Add({}, LatencyBuckets())),
      audit_queue_depth_(BuildGauge()
                             .Name("agni_gateway_audit_queue_depth")
                             .Help("Audit records waiting for the writer.")
                             .Register(*registry_)
                             .Add({})) {
  BuildGauge()
      .Name("agni_gateway_build_info")
      .Help("Always 1; the version label says which build is running.")
      .Register(*registry_)
      .Add({{"version", AGNI_VERSION}})
      .Set(1);
  // Pre-create the fixed label sets so dashboards see zeros, not gaps.
  for (const char* stage : {"decision", "intent", "outcome"}) {
    audit_records_.Add({{"stage", stage}});
  }
  for (const char* d : {"allow", "deny"}) {
    decisions_.Add({{"decision", d}, {"mode", "enforce"}});
  }
  for (const char* o :
       {"success", "rejected", "unreachable", "timeout", "tls", "bad_response"}) {
    upstream_requests_.Add({{"outcome", o}});
  }
  RegisterPolicyMetrics();
}

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

void Metrics::ObserveRequest(std::string_view route, int status,
                             std::chrono::nanoseconds duration) {
  requests_.Add({{"route", std::string(route)}, {"code", std::to_string(status)}})
      .Increment();
  request_duration_.Add({{"route", std::string(route)}}, LatencyBuckets())
      .Observe(Seconds(duration));
}

void Metrics::CountDecision(std::string_view decision, std::string_view mode) {
  decisions_.Add({{"decision", std::string(decision)}, {"mode", std::string(mode)}})
      .Increment();
}

void Metrics::ObserveUpstream(std::string_view outcome,
                              std::chrono::nanoseconds duration) {
  upstream_requests_.Add({{"outcome", std::string(outcome)}}).Increment();
  upstream_duration_.Observe(Seconds(duration));
}

void Metrics::OnCommit(const std::vector<const audit::Record*>& records,
                       std::chrono::nanoseconds duration) {
  for (const audit::Record* r : records) {
    audit_records_.Add({{"stage", r->stage}}).Increment();
  }
  audit_commit_duration_.Observe(Seconds(duration));
}

void Metrics::OnFailure(std::size_t records) {
  audit_write_failures_.Increment(static_cast<double>(records));
}

void Metrics::OnQueueDepth(std::size_t depth) {
  audit_queue_depth_.Set(static_cast<double>(depth));
}

}  // namespace agni
