// Break-glass releases after the fact (DESIGN.md §13): the justification a
// break-glass release must carry, its review opened before it is forwarded
// and announced once it went out, the /v1/reviews API where someone in the
// rule's from_groups (never the person who released) acknowledges it, and
// the sweep that counts and announces reviews past their review_within.
//
// Thread-safe: the store serialises its own access; the rest is immutable or
// thread-safe (metrics, notifier, audit sink).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/review_store.h"
#include "audit/store.h"
#include "base/periodic.h"
#include "gateway/approvals/workflow_api.h"
#include "gateway/notify/notifier.h"
#include "gateway/ops/log.h"
#include "gateway/ops/metrics.h"
#include "policies/engine.h"
#include "policies/review.h"

namespace agni {

// One authenticated call to /v1/reviews, as the pipeline hands it over.
struct ReviewCall {
  const Principal& principal;
  const HttpRequest& request;
  const std::string& request_id;
  bool auditor = false;  // sees every review
};

using ReviewReply = WorkflowReply;

// The X-Release-Reason a break-glass release carries, or why it is refused
// (400 reason_required: missing, more than one, not printable, or not
// matching the rule's reason_pattern).
struct BreakGlassReason {
  std::optional<Problem> problem;
  std::string reason;
};
BreakGlassReason CheckBreakGlassReason(const std::vector<std::string>& headers,
                                       const policy::Rule& rule);

class ReviewDesk {
 public:
  // `notifier` may be null (no channels). `now_us` is the workflow's clock.
  ReviewDesk(audit::SqliteReviewStore& store, audit::AuditSink& audit,
             Metrics& metrics, Notifier* notifier, const Logger& log,
             std::function<std::int64_t()> now_us);

  // Before a break-glass release is forwarded: its review, stored durably.
  // nullopt when it cannot be stored (the release is then refused).
  std::optional<policy::Review> Open(const Principal& actor,
                                     const std::string& request_id,
                                     const std::string& number,
                                     const policy::Rule& rule,
                                     const std::string& reason);
  // The release was never sent: its review is taken back.
  void Withdraw(const std::string& review_id);
  // The release went (or may have gone) out: counted and announced on every
  // channel at once.
  void Announce(const policy::Review& review);

  // /v1/reviews and /v1/reviews/{id}[/ack].
  ReviewReply HandleApi(const ReviewCall& call);

  // Refreshes the pending/overdue gauges and announces each review that
  // became overdue, once. For a timer; also run on every list read.
  void Sweep();

  // The public JSON form of a review.
  nlohmann::json View(const policy::Review& review) const;

 private:
  ReviewReply List(const ReviewCall& call, const std::string& query);
  ReviewReply Acknowledge(const ReviewCall& call, const std::string& id);
  void Publish(std::string_view type, const policy::Review& review,
               const std::string& actor, const std::string& reason);

  audit::SqliteReviewStore& store_;
  audit::AuditSink& audit_;
  Metrics& metrics_;
  Notifier* const notifier_;
  const Logger& log_;
  const std::function<std::int64_t()> now_us_;
  // One sweep at a time, so a review turning overdue is announced once.
  std::mutex sweep_mu_;
};

// Runs ReviewDesk::Sweep() at once and then every `interval`. Thread-safe
// Stop().
class ReviewSweeper : public PeriodicTask {
 public:
  explicit ReviewSweeper(ReviewDesk& desk, std::chrono::milliseconds interval =
                                               std::chrono::seconds(10))
      : PeriodicTask(
            interval, [&desk] { desk.Sweep(); }, Start::kAtOnce) {}
};

}  // namespace agni
