// The approval workflow's HTTP face and its side effects:
//   - the release hook: a require_approval decision becomes a 202 with the
//     (new or existing) approval, or, with X-Approval-Id, an atomic consume;
//   - the /v1/approvals API (list, read, approve, deny, cancel, revoke);
//   - every state change becomes an "approval" audit record, a metric
//     increment and a notification on every channel (ApprovalListener).
//
// Handlers are thin: the state machine is policies/approvals.h. Thread-safe:
// the service serialises state changes; the rest is immutable or thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/approval_store.h"
#include "audit/store.h"
#include "base/periodic.h"
#include "gateway/approvals/workflow_api.h"
#include "gateway/notify/notifier.h"
#include "gateway/ops/log.h"
#include "gateway/ops/metrics.h"
#include "policies/approvals.h"

namespace agni {

// One authenticated call, as the pipeline hands it over.
struct ApprovalCall {
  const Principal& principal;
  const HttpRequest& request;
  const std::string& request_id;
  const std::vector<policy::Member>& members;  // current users
  bool auditor = false;
  bool admin = false;  // in the config's admins groups (may revoke)
  // The numbers' inventory labels, shown with each listed approval so an
  // approver sees what the number is (null: no labels).
  const Inventory* inventory = nullptr;
};

using ApprovalReply = WorkflowReply;

// Outcome of the release hook.
struct ReleaseGate {
  enum class Kind { kProceed, kAccepted, kProblem };
  Kind kind = Kind::kProblem;
  Problem problem;
  HttpResponse accepted;    // kAccepted: 202 + Location + approval
  std::string approval_id;  // kProceed: the consumed approval
  // The justification (X-Release-Reason) sent now or stored with the
  // consumed approval, for the request's audit records; may be empty.
  std::string release_reason;
};

class ApprovalsGateway final : public policy::ApprovalListener {
 public:
  // `notifier` may be null (notifications off). `now_us` is the clock of the
  // whole workflow (tests inject one). `store` is read again for the gauge.
  // `max_open_per_user` (0: unbounded) caps one requester's open requests.
  ApprovalsGateway(audit::SqliteApprovalStore& store, audit::AuditSink& audit,
                   Metrics& metrics, Notifier* notifier, const Logger& log,
                   std::function<std::int64_t()> now_us,
                   std::size_t max_open_per_user = 0);

  // Called by the pipeline after policy said require_approval.
  ReleaseGate OnRelease(const ApprovalCall& call, const std::string& number,
                        const std::vector<const policy::Rule*>& rules,
                        const std::string& policy_hash);

  // The release's intent is committed: record the consumed approval as
  // executed. False (refuse the release) when that cannot be recorded.
  bool ConfirmExecuted(const std::string& approval_id,
                       const Principal& requester,
                       const std::string& request_id);

  // The rules and people approvals are judged against from now on (start
  // and every reload).
  void UseConfig(std::shared_ptr<const policy::Policy> policy,
                 std::vector<policy::Member> members);

  // At start-up, before serving: approvals consumed by a release whose
  // intent never reached `audit_path` are approved again. Throws when the
  // audit log or the approvals store cannot be read or written.
  void RecoverUnconfirmed(const std::string& audit_path);

  // The release after a consumed approval was not sent: make it usable again.
  void RestoreUnsent(const std::string& approval_id, const Principal& requester,
                     const std::string& request_id, const std::string& why);

  // /v1/approvals and /v1/approvals/{id}[/approve|/deny|/cancel|/revoke].
  ApprovalReply HandleApi(const ApprovalCall& call);

  // Expires due requests (also done lazily on every read); for a timer.
  void Sweep();

  policy::ApprovalService& service() { return service_; }

  bool OnChange(const policy::Approval& after, policy::ApprovalEvent event,
                const policy::Actor& actor, const std::string& reason) override;
  // The sweep's expiries: their audit records committed together.
  std::vector<bool> OnChanges(const std::vector<Change>& changes) override;

  // The public JSON form of an approval.
  nlohmann::json View(const policy::Approval& a,
                      const std::vector<policy::Member>& members) const;
  // View() as the API answers `call`: with the number's inventory `labels`
  // ({} when it is not listed) so an approver sees what the number is.
  nlohmann::json ViewFor(const policy::Approval& a,
                         const ApprovalCall& call) const;

 private:
  audit::SqliteApprovalStore& store_;
  audit::AuditSink& audit_;
  Metrics& metrics_;
  Notifier* notifier_;
  const Logger& log_;
  std::function<std::int64_t()> now_us_;
  // GET /v1/approvals: one page, by index.
  ApprovalReply ListApi(const ApprovalCall& call, const std::string& query);
  // The "approval" audit record of one change.
  audit::Record ChangeRecord(const policy::Approval& after,
                             policy::ApprovalEvent event,
                             const policy::Actor& actor,
                             const std::string& reason) const;
  // Whether `committed` holds the change; counts it, or logs why not.
  bool Recorded(const audit::AppendResult& committed,
                const policy::Approval& after, policy::ApprovalEvent event);
  void CountPending();  // the pending gauge, from the store
  // The webhook notification of a recorded change.
  void Announce(const policy::Approval& after, policy::ApprovalEvent event,
                const policy::Actor& actor, const std::string& reason,
                std::int64_t seq);

  policy::ApprovalService service_;
};

// The justification a release under `rules` carries: "" when none was sent
// and none is required; a problem (400 reason_required, or invalid_request)
// when one is required and missing, malformed or not matching a rule's
// reason_pattern. Exposed for tests.
struct ReleaseReasonCheck {
  std::optional<Problem> problem;
  std::string reason;
};
ReleaseReasonCheck CheckReleaseReason(
    const std::vector<std::string>& headers,
    const std::vector<const policy::Rule*>& rules);

// Expires due approvals every `interval` so the pending gauge and webhook
// "expired" events do not wait for someone to look. Thread-safe Stop().
class ApprovalSweeper : public PeriodicTask {
 public:
  explicit ApprovalSweeper(
      ApprovalsGateway& approvals,
      std::chrono::milliseconds interval = std::chrono::seconds(10))
      : PeriodicTask(interval, [&approvals] { approvals.Sweep(); }) {}
};

// Maps a workflow error to the public reason code.
Reason ApprovalReason(policy::ApprovalError error);

// The body of an approve/deny call: empty, or {"reason": "..."} with at most
// 1000 bytes. Returns an error message (and leaves `reason` unusable)
// on anything else. Exposed for the fuzz target.
std::string ParseDecisionBody(const std::string& body, std::string& reason);

}  // namespace agni
