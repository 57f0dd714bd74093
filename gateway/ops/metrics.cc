#include "gateway/ops/metrics.h"

#include <prometheus/text_serializer.h>

#include <iterator>
#include <tuple>

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
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30};
}

// The fixed label values of the approval and rate-limit families; anything
// else is counted as "other" so a caller can never create unbounded series.
constexpr const char* kApprovalEvents[] = {"created",   "approved", "denied",
                                           "cancelled", "expired",  "executed",
                                           "restored",  "revoked",  "reopened"};
constexpr const char* kNotificationResults[] = {"delivered", "retried",
                                                "failed", "dropped"};

template <std::size_t N>
std::string Bounded(std::string_view value, const char* const (&known)[N]) {
  for (const char* k : known) {
    if (value == k) return k;
  }
  return "other";
}

// Index of a value in a fixed list, or -1.
template <std::size_t N>
int IndexOf(std::string_view value, const char* const (&known)[N]) {
  for (std::size_t i = 0; i < N; ++i) {
    if (value == known[i]) return static_cast<int>(i);
  }
  return -1;
}

constexpr const char* kCachedRoutes[] = {"release", "whoami",    "other",
                                         "audit",   "approvals", "explain"};
constexpr const char* kCachedDecisions[] = {
    "allow", "deny", "require_approval"};  // x {enforce, shadow}
constexpr const char* kCachedModes[] = {"enforce", "shadow"};
constexpr const char* kCachedUpstreamOutcomes[] = {
    "success", "rejected", "unreachable", "timeout", "tls", "bad_response"};
constexpr const char* kCachedStages[] = {"decision", "intent", "outcome"};

// One metric family, registered in `registry`.
prometheus::Family<prometheus::Counter>& CounterFamily(
    prometheus::Registry& registry, const char* name, const char* help) {
  return BuildCounter().Name(name).Help(help).Register(registry);
}
prometheus::Family<prometheus::Gauge>& GaugeFamily(
    prometheus::Registry& registry, const char* name, const char* help) {
  return BuildGauge().Name(name).Help(help).Register(registry);
}
prometheus::Family<Histogram>& HistogramFamily(prometheus::Registry& registry,
                                               const char* name,
                                               const char* help) {
  return BuildHistogram().Name(name).Help(help).Register(registry);
}

// The cached series in `slot`, creating it with `make` on first use.
template <typename T, typename Make>
T& Cached(std::atomic<T*>& slot, Make make) {
  T* series = slot.load(std::memory_order_acquire);
  if (series == nullptr) {
    series = &make();
    slot.store(series, std::memory_order_release);
  }
  return *series;
}

// Increments the series {label=value} of `family`: through its slot in
// `slots` when `value` is one of `known` (the hot path), else by a lookup.
template <std::size_t N, std::size_t M>
void IncrementCached(prometheus::Family<prometheus::Counter>& family,
                     const char* label, std::string_view value,
                     const char* const (&known)[N],
                     std::array<std::atomic<prometheus::Counter*>, M>& slots) {
  static_assert(N == M);
  auto counter = [&]() -> prometheus::Counter& {
    return family.Add({{label, std::string(value)}});
  };
  const int i = IndexOf(value, known);
  if (i < 0) {
    counter().Increment();
  } else {
    Cached(slots[static_cast<std::size_t>(i)], counter).Increment();
  }
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(CounterFamily(*registry_, "agni_gateway_requests_total",
                              "Requests answered on the main listener, by "
                              "route and HTTP status code.")),
      request_duration_(
          HistogramFamily(*registry_, "agni_gateway_request_duration_seconds",
                          "Time from receiving a request to having its "
                          "response ready, by route.")),
      decisions_(CounterFamily(*registry_,
                               "agni_gateway_policy_decisions_total",
                               "Policy decisions, by decision and rule mode "
                               "(shadow decisions never change the outcome).")),
      upstream_requests_(
          CounterFamily(*registry_, "agni_gateway_upstream_requests_total",
                        "Release calls sent to the upstream, by outcome.")),
      upstream_duration_(
          HistogramFamily(*registry_,
                          "agni_gateway_upstream_request_duration_seconds",
                          "Duration of release calls to the upstream.")
              .Add({}, LatencyBuckets())),
      audit_records_(
          CounterFamily(*registry_, "agni_gateway_audit_records_total",
                        "Audit records durably committed, by stage.")),
      audit_write_failures_(
          CounterFamily(*registry_, "agni_gateway_audit_write_failures_total",
                        "Audit records that could not be committed (each one "
                        "failed its request with 503).")
              .Add({})),
      audit_commit_duration_(
          HistogramFamily(*registry_,
                          "agni_gateway_audit_commit_duration_seconds",
                          "Duration of one audit group commit, fsync included.")
              .Add({}, LatencyBuckets())),
      audit_queue_depth_(GaugeFamily(*registry_,
                                     "agni_gateway_audit_queue_depth",
                                     "Audit records waiting for the writer.")
                             .Add({})),
      approvals_pending_(
          GaugeFamily(*registry_, "agni_gateway_approvals_pending",
                      "Approval requests waiting for a decision.")
              .Add({})),
      approvals_(CounterFamily(*registry_, "agni_gateway_approvals_total",
                               "Approval state changes, by event.")),
      rate_limited_(CounterFamily(
          *registry_, "agni_gateway_rate_limited_total",
          "Requests refused with 429 by a rate limit, by limit.")),
      config_reloads_(
          CounterFamily(*registry_, "agni_gateway_config_reloads_total",
                        "Configuration reloads (SIGHUP), by result; a failed "
                        "reload keeps the previous config.")),
      approval_notifications_(
          CounterFamily(*registry_, "agni_gateway_approval_notifications_total",
                        "Notification deliveries summed over every "
                        "approvals.notify channel, by result (retried counts "
                        "each failed attempt that will be retried).")) {
  GaugeFamily(
      *registry_, "agni_gateway_build_info",
      "Always 1; the version and commit labels say which build is running.")
      .Add({{"version", AGNI_VERSION}, {"commit", AGNI_COMMIT}})
      .Set(1);
  upstream_in_flight_ =
      &GaugeFamily(*registry_, "agni_gateway_upstream_in_flight",
                   "Release calls being forwarded to the upstream now (bounded "
                   "by upstream.max_in_flight).")
           .Add({});
  listener_workers_ = &GaugeFamily(
      *registry_, "agni_gateway_listener_workers",
      "Worker threads of a listener, by state (busy: serving a connection).");
  listener_queued_ =
      &GaugeFamily(*registry_, "agni_gateway_listener_queued_connections",
                   "Accepted connections waiting for a worker.");
  connections_refused_ = &CounterFamily(
      *registry_, "agni_gateway_connections_refused_total",
      "Connections answered 503 past the queue (overloaded) or closed for not "
      "sending a request head in time (header_timeout).");
  audit_verified_seq_ =
      &GaugeFamily(*registry_, "agni_gateway_audit_verified_seq",
                   "The last audit seq the background verifier found intact "
                   "(re-hashed from seq 1 in its current pass).")
           .Add({});
  witness_failures_ =
      &CounterFamily(*registry_, "agni_gateway_audit_witness_failures_total",
                     "Signed checkpoints that could not be copied to "
                     "audit.witness_dir.")
           .Add({});
  for (const char* listener : {"main", "admin"}) {
    SetListenerLoad(listener, 0, 0, 0);
    for (const char* reason : {"overloaded", "header_timeout"}) {
      connections_refused_->Add({{"listener", listener}, {"reason", reason}});
    }
  }
  // Pre-create the fixed label sets so dashboards see zeros, not gaps.
  for (const char* stage : {"decision", "intent", "outcome"}) {
    audit_records_.Add({{"stage", stage}});
  }
  for (const char* d : {"allow", "deny"}) {
    decisions_.Add({{"decision", d}, {"mode", "enforce"}});
  }
  for (const char* o : {"success", "rejected", "unreachable", "timeout", "tls",
                        "bad_response"}) {
    upstream_requests_.Add({{"outcome", o}});
  }
  for (const char* route : {"release", "whoami", "other"}) {
    request_duration_.Add({{"route", route}}, LatencyBuckets());
  }
  for (const char* e : kApprovalEvents) approvals_.Add({{"event", e}});
  // Shadow results show as zeros too, so a trial rule that never matches is
  // visible as such rather than as a missing series.
  for (const char* d : {"allow", "deny"}) {
    decisions_.Add({{"decision", d}, {"mode", "shadow"}});
  }
  for (const char* r : {"success", "failure"}) {
    config_reloads_.Add({{"result", r}});
  }
  for (const char* r : kNotificationResults) {
    approval_notifications_.Add({{"result", r}});
  }
  auto& summarized = CounterFamily(
      *registry_, "agni_gateway_audit_rejections_summarized_total",
      "Rejected requests without identity counted into a summary audit record "
      "instead of a record of their own, by reason (requests_total still "
      "counts every request).");
  summarized_unauthenticated_ =
      &summarized.Add({{"reason", "unauthenticated"}});
  summarized_overloaded_ = &summarized.Add({{"reason", "overloaded"}});
  summarized_other_ = &summarized.Add({{"reason", "other"}});
  DeclareAuditShipping();
  DeclareIdentity();
  DeclareBreakGlass();
}

void Metrics::CountRejectionSummarized(std::string_view reason) {
  (reason == "unauthenticated" ? summarized_unauthenticated_
   : reason == "overloaded"    ? summarized_overloaded_
                               : summarized_other_)
      ->Increment();
}

void Metrics::CountApprovalNotification(std::string_view result) {
  approval_notifications_
      .Add({{"result", Bounded(result, kNotificationResults)}})
      .Increment();
}

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

void Metrics::ObserveRequest(std::string_view route, int status,
                             std::chrono::nanoseconds duration) {
  auto counter = [&]() -> prometheus::Counter& {
    return requests_.Add(
        {{"route", std::string(route)}, {"code", std::to_string(status)}});
  };
  auto histogram = [&]() -> prometheus::Histogram& {
    return request_duration_.Add({{"route", std::string(route)}},
                                 LatencyBuckets());
  };
  const int r = IndexOf(route, kCachedRoutes);
  static_assert(std::size(kCachedRoutes) == kRoutes);
  if (r < 0 || status < 100 || status >= 100 + static_cast<int>(kStatuses)) {
    counter().Increment();
    histogram().Observe(Seconds(duration));
    return;
  }
  Cached(request_counters_[static_cast<std::size_t>(r) * kStatuses +
                           static_cast<std::size_t>(status - 100)],
         counter)
      .Increment();
  Cached(request_durations_[static_cast<std::size_t>(r)], histogram)
      .Observe(Seconds(duration));
}

void Metrics::CountDecision(std::string_view decision, std::string_view mode) {
  auto counter = [&]() -> prometheus::Counter& {
    return decisions_.Add(
        {{"decision", std::string(decision)}, {"mode", std::string(mode)}});
  };
  const int d = IndexOf(decision, kCachedDecisions);
  const int m = IndexOf(mode, kCachedModes);
  static_assert(std::size(kCachedDecisions) * std::size(kCachedModes) ==
                std::tuple_size_v<decltype(decision_counters_)>);
  if (d < 0 || m < 0) {
    counter().Increment();
    return;
  }
  Cached(decision_counters_[static_cast<std::size_t>(d * 2 + m)], counter)
      .Increment();
}

void Metrics::ObserveUpstream(std::string_view outcome,
                              std::chrono::nanoseconds duration) {
  IncrementCached(upstream_requests_, "outcome", outcome,
                  kCachedUpstreamOutcomes, upstream_counters_);
  upstream_duration_.Observe(Seconds(duration));
}

void Metrics::SetApprovalsPending(double pending) {
  approvals_pending_.Set(pending);
}

void Metrics::CountApprovalEvent(std::string_view event) {
  approvals_.Add({{"event", Bounded(event, kApprovalEvents)}}).Increment();
}

void Metrics::CountRateLimited(std::string_view limit_id) {
  rate_limited_.Add({{"limit", std::string(limit_id)}}).Increment();
}

void Metrics::DeclareRateLimits(const policy::Policy& policy) {
  for (const policy::Limit& limit : policy.limits) {
    rate_limited_.Add({{"limit", limit.id}});
  }
}

void Metrics::CountConfigReload(std::string_view result) {
  config_reloads_.Add({{"result", result == "success" ? "success" : "failure"}})
      .Increment();
}

void Metrics::OnCommit(const std::vector<const audit::Record*>& records,
                       std::chrono::nanoseconds duration) {
  for (const audit::Record* r : records) {
    IncrementCached(audit_records_, "stage", audit::StageColumn(*r),
                    kCachedStages, audit_record_counters_);
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

namespace agni {

void Metrics::SetUpstreamInFlight(double calls) {
  upstream_in_flight_->Set(calls);
}

void Metrics::SetListenerLoad(std::string_view listener, double busy,
                              double idle, double queued) {
  const std::string l(listener);
  listener_workers_->Add({{"listener", l}, {"state", "busy"}}).Set(busy);
  listener_workers_->Add({{"listener", l}, {"state", "idle"}}).Set(idle);
  listener_queued_->Add({{"listener", l}}).Set(queued);
}

void Metrics::CountConnectionRefused(std::string_view listener,
                                     std::string_view reason) {
  connections_refused_
      ->Add({{"listener", std::string(listener)},
             {"reason", std::string(reason)}})
      .Increment();
}

namespace {

constexpr const char* kAuthMethods[] = {"bearer", "api_key", "oidc", "none"};
// "success", or the check that failed (gateway/auth/jwt.h names), or
// "invalid"/"expired" for static tokens.
constexpr const char* kAuthResults[] = {
    "success",   "invalid",   "expired",       "too_large",
    "malformed", "algorithm", "issuer",        "unknown_key",
    "signature", "audience",  "not_yet_valid", "user_claim"};

}  // namespace

void Metrics::DeclareIdentity() {
  auth_ = &CounterFamily(
      *registry_, "agni_gateway_auth_total",
      "Credentials judged, by method (bearer, api_key: static tokens; oidc: "
      "a JWT from an identity provider) and result (success or the failed "
      "check).");
  for (const char* m : kAuthMethods)
    auth_->Add({{"method", m}, {"result", "success"}});
  jwks_refreshes_ = &CounterFamily(
      *registry_, "agni_gateway_identity_jwks_refreshes_total",
      "Fetches of an identity provider's signing keys (JWKS), by issuer "
      "(config name or index) and result; a failure keeps the last good "
      "keys.");
  auto& jwt_cache = CounterFamily(
      *registry_, "agni_gateway_jwt_cache_total",
      "JWTs answered from the verified-token cache (hit: only the times and "
      "the key set checked again) or verified in full (miss).");
  jwt_cache_hits_ = &jwt_cache.Add({{"result", "hit"}});
  jwt_cache_misses_ = &jwt_cache.Add({{"result", "miss"}});
}

void Metrics::CountJwtCache(bool hit) {
  (hit ? jwt_cache_hits_ : jwt_cache_misses_)->Increment();
}

void Metrics::CountAuth(std::string_view method, std::string_view result) {
  auth_
      ->Add({{"method", Bounded(method, kAuthMethods)},
             {"result", Bounded(result, kAuthResults)}})
      .Increment();
}

void Metrics::DeclareIssuer(const std::string& issuer) {
  for (const char* r : {"success", "failure"}) {
    jwks_refreshes_->Add({{"issuer", issuer}, {"result", r}});
  }
}

void Metrics::CountJwksRefresh(const std::string& issuer, bool ok) {
  jwks_refreshes_
      ->Add({{"issuer", issuer}, {"result", ok ? "success" : "failure"}})
      .Increment();
}

}  // namespace agni

namespace agni {

void Metrics::SetAuditVerifiedSeq(double seq) { audit_verified_seq_->Set(seq); }

void Metrics::CountWitnessFailure() { witness_failures_->Increment(); }

void Metrics::DeclareAuditShipping() {
  audit_shipped_seq_ =
      &GaugeFamily(*registry_, "agni_gateway_audit_shipped_seq",
                   "Seq of the last audit record the syslog peer is known to "
                   "have taken (audit.syslog); 0 before the first.")
           .Add({});
  audit_ship_failures_ =
      &CounterFamily(*registry_, "agni_gateway_audit_ship_failures_total",
                     "Syslog sessions that failed (peer unreachable, TLS, "
                     "reset, timeout); their records are sent again.")
           .Add({});
  audit_ship_connections_ =
      &CounterFamily(*registry_, "agni_gateway_audit_ship_connections_total",
                     "TLS connections the syslog sink opened; one carries "
                     "every record until it is idle for "
                     "audit.syslog.idle_timeout.")
           .Add({});
}

void Metrics::SetAuditShippedSeq(std::int64_t seq) {
  audit_shipped_seq_->Set(static_cast<double>(seq));
}

void Metrics::CountAuditShipFailure() { audit_ship_failures_->Increment(); }

void Metrics::CountAuditShipConnection() {
  audit_ship_connections_->Increment();
}

void Metrics::DeclareBreakGlass() {
  break_glass_ =
      &CounterFamily(*registry_, "agni_gateway_break_glass_total",
                     "Releases sent at once under a break_glass rule, each "
                     "with its reason and a review to follow.")
           .Add({});
  reviews_pending_ =
      &GaugeFamily(*registry_, "agni_gateway_reviews_pending",
                   "Break-glass releases waiting for their review now.")
           .Add({});
  reviews_overdue_ =
      &GaugeFamily(*registry_, "agni_gateway_reviews_overdue",
                   "Break-glass releases still unreviewed past their rule's "
                   "review_within.")
           .Add({});
  notifications_ = &CounterFamily(
      *registry_, "agni_gateway_notifications_total",
      "Notification deliveries per channel (approvals.notify[].name), by "
      "result (retried counts each failed attempt that is tried again; "
      "dropped: the channel's queue was full).");
}

void Metrics::CountBreakGlass() { break_glass_->Increment(); }

void Metrics::SetReviews(double pending, double overdue) {
  reviews_pending_->Set(pending);
  reviews_overdue_->Set(overdue);
}

void Metrics::CountNotification(const std::string& channel,
                                std::string_view result) {
  notifications_
      ->Add({{"channel", channel},
             {"result", Bounded(result, kNotificationResults)}})
      .Increment();
}

void Metrics::DeclareNotificationChannel(const std::string& channel) {
  for (const char* result : kNotificationResults) {
    notifications_->Add({{"channel", channel}, {"result", result}});
  }
}

}  // namespace agni
