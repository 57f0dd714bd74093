// Every Prometheus series the gateway exports, declared in one place. Label
// values come from fixed sets (routes, status codes, decisions, stages): never
// a user, token, phone number or raw path.
//
// Thread-safe: prometheus-cpp counters, gauges and histograms are, and the
// families are built once in the constructor.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "audit/store.h"
#include "policies/engine.h"

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

  // Approvals: the number waiting for a decision now, and each state change
  // (created, approved, denied, cancelled, expired, executed, restored).
  void SetApprovalsPending(double pending);
  void CountApprovalEvent(std::string_view event);
  // Webhook deliveries; result: delivered | retried | failed | dropped.
  void CountApprovalNotification(std::string_view result);
  // A release refused by a velocity limit, labelled with the limit's id (ids
  // come from the policy file, so the label set is bounded by the config).
  void CountRateLimited(std::string_view limit_id);
  // Creates the series of every limit in `policy` at zero, so dashboards and
  // alerts see them before the first refusal. Call at start and on reload.
  void DeclareRateLimits(const policy::Policy& policy);
  // A SIGHUP reload; result: "success" | "failure".
  void CountConfigReload(std::string_view result);
  // A rejected request counted into a summary record instead of a record of
  // its own (gateway/pipeline/rejection_ledger.h); reason: "unauthenticated" |
  // "overloaded", anything else "other".
  void CountRejectionSummarized(std::string_view reason);

  // Isolation: releases being forwarded now; each listener's worker threads
  // (busy/idle) and connections waiting for one; connections the gateway
  // refused or cut (reason: "overloaded" | "header_timeout").
  void SetUpstreamInFlight(double calls);
  void SetListenerLoad(std::string_view listener, double busy, double idle,
                       double queued);
  void CountConnectionRefused(std::string_view listener,
                              std::string_view reason);

  // The background verifier: the last seq of its current pass found intact.
  void SetAuditVerifiedSeq(double seq);
  // A signed checkpoint that could not be copied to audit.witness_dir.
  void CountWitnessFailure();
  // The syslog sink (audit.syslog): the last seq the peer took, and each
  // failed session.
  void SetAuditShippedSeq(std::int64_t seq);
  void CountAuditShipFailure();
  void CountAuditShipConnection();
  // Identity (DESIGN.md §10): a credential judged (method: "bearer" |
  // "api_key" | "oidc"; result: "success" or the failed check), and a fetch
  // of an issuer's keys (issuer: its config name or index, never a value
  // from a request). DeclareIssuer shows an issuer's series at zero.
  void CountAuth(std::string_view method, std::string_view result);
  void DeclareIssuer(const std::string& issuer);
  void CountJwksRefresh(const std::string& issuer, bool ok);
  // A JWT answered from the verified-token cache (hit) or verified in full
  // (miss).
  void CountJwtCache(bool hit);

  // Break-glass (DESIGN.md §13): a release sent under a break_glass rule;
  // the reviews waiting for an acknowledgement now and those of them past
  // their review_within.
  void CountBreakGlass();
  void SetReviews(double pending, double overdue);
  // One notification channel's deliveries (channel: its config name, so the
  // label set is bounded by the config); result: delivered | retried |
  // failed | dropped. DeclareNotificationChannel shows them at zero.
  void CountNotification(const std::string& channel, std::string_view result);
  void DeclareNotificationChannel(const std::string& channel);

  // audit::StoreObserver
  void OnCommit(const std::vector<const audit::Record*>& records,
                std::chrono::nanoseconds duration) override;
  void OnFailure(std::size_t records) override;
  void OnQueueDepth(std::size_t depth) override;

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
  prometheus::Gauge& approvals_pending_;
  prometheus::Family<prometheus::Counter>& approvals_;
  prometheus::Family<prometheus::Counter>& rate_limited_;
  prometheus::Family<prometheus::Counter>& config_reloads_;
  prometheus::Family<prometheus::Counter>& approval_notifications_;
  prometheus::Gauge* upstream_in_flight_ = nullptr;
  prometheus::Family<prometheus::Gauge>* listener_workers_ = nullptr;
  prometheus::Family<prometheus::Gauge>* listener_queued_ = nullptr;
  prometheus::Family<prometheus::Counter>* connections_refused_ = nullptr;
  prometheus::Gauge* audit_verified_seq_ = nullptr;
  prometheus::Counter* witness_failures_ = nullptr;

  // The series every request touches, found once: Family::Add() builds a
  // label map, hashes it and takes the family's lock on every call. Slots are
  // filled on first use (Add() returns the same series for the same labels,
  // so a race only stores the same pointer twice); values outside the fixed
  // sets take the uncached path.
  static constexpr std::size_t kRoutes = 6;      // see RouteIndex() in .cc
  static constexpr std::size_t kStatuses = 500;  // 100..599
  std::array<std::atomic<prometheus::Counter*>, kRoutes * kStatuses>
      request_counters_{};
  std::array<std::atomic<prometheus::Histogram*>, kRoutes> request_durations_{};
  std::array<std::atomic<prometheus::Counter*>, 6> decision_counters_{};
  std::array<std::atomic<prometheus::Counter*>, 6> upstream_counters_{};
  std::array<std::atomic<prometheus::Counter*>, 3> audit_record_counters_{};
  // agni_gateway_audit_rejections_summarized_total{reason}, by reason.
  prometheus::Counter* summarized_unauthenticated_ = nullptr;
  prometheus::Counter* summarized_overloaded_ = nullptr;
  prometheus::Counter* summarized_other_ = nullptr;

  void DeclareAuditShipping();
  prometheus::Gauge* audit_shipped_seq_ = nullptr;
  prometheus::Counter* audit_ship_failures_ = nullptr;
  prometheus::Counter* audit_ship_connections_ = nullptr;
  void DeclareIdentity();
  prometheus::Family<prometheus::Counter>* auth_ = nullptr;
  prometheus::Family<prometheus::Counter>* jwks_refreshes_ = nullptr;
  prometheus::Counter* jwt_cache_hits_ = nullptr;
  prometheus::Counter* jwt_cache_misses_ = nullptr;
  void DeclareBreakGlass();
  prometheus::Counter* break_glass_ = nullptr;
  prometheus::Gauge* reviews_pending_ = nullptr;
  prometheus::Gauge* reviews_overdue_ = nullptr;
  prometheus::Family<prometheus::Counter>* notifications_ = nullptr;
};

}  // namespace agni
