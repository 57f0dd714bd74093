// The approval workflow of require_approval rules: a state machine over a
// store interface, with every time taken from one injectable clock.
//
//   pending --approve (N per requirement)--> approved --execute--> executed
//   pending --deny--> denied        pending|approved --cancel--> cancelled
//   pending --ttl--> expired        approved --execute_within--> expired
//
// Pure: no HTTP, no SQLite, no Prometheus. The gateway supplies the store
// (SQLite), the listener (audit record, metrics, webhook) and the clock.
//
// Thread-safe: every operation runs under one mutex, so reading, deciding and
// writing an approval is atomic; in particular two concurrent executions of one
// approval cannot both consume it.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "policies/engine.h"
#include "policies/errors.h"

namespace agni::policy {

enum class ApprovalStatus {
  kPending,
  kApproved,
  kDenied,
  kExpired,
  kCancelled,
  kExecuted
};
std::string_view StatusName(ApprovalStatus status);
std::optional<ApprovalStatus> ParseStatus(std::string_view text);

enum class ApprovalEvent {
  kCreated,
  kApproved,  // one approval recorded (the request may still be pending)
  kDenied,
  kCancelled,
  kExpired,
  kExecuted,
  kRestored  // executed, but the release was not sent: usable again
};
std::string_view EventName(ApprovalEvent event);

// A configured user as the workflow sees them: who may approve is decided by
// the groups people hold at the moment they decide.
struct Member {
  std::string name;
  std::vector<std::string> groups;
  // Stands for the people an identity provider puts in `groups` (name
  // "members of G (identity provider)"): how many there are is unknown until
  // they sign in, so a requirement they could meet counts as meetable.
  bool from_identity_provider = false;
};

// The stand-in Member for group `group`'s people at an identity provider.
Member IdentityProviderMembers(const std::string& group);

// One rule's requirement, copied into the approval when it is created so a
// later policy edit cannot change what an open request needs.
struct RequiredApproval {
  std::string rule_id;
  int approvals = 1;
  std::vector<std::string> from_groups;
};

struct Vote {
  std::string user;
  std::vector<std::string> groups;  // held when the vote was cast
  std::string reason;
  std::int64_t time_us = 0;
};

struct Approval {
  std::string id;
  ApprovalStatus status = ApprovalStatus::kPending;
  std::string requester;
  std::string phone_number;
  std::string rule_id;   // the first require_approval rule
  std::string rule_key;  // every matching rule id, joined by ','
  std::vector<RequiredApproval> required;
  std::vector<Vote> approvals;
  std::vector<Vote> denials;
  std::int64_t created_us = 0;
  std::int64_t expires_us = 0;  // pending deadline (ttl)
  std::int64_t execute_within_ms = 0;
  std::int64_t approved_us = 0;        // 0 until approved
  std::int64_t execute_before_us = 0;  // 0 until approved
  std::int64_t closed_us = 0;          // when it left pending/approved
  std::string closed_by;               // who cancelled/denied/executed it
  std::string closed_reason;
  std::string request_id;  // the request that created it
  std::string executed_request_id;
  std::string policy_hash;
};

// The storage form (every field, lossless).
nlohmann::json ToStorageJson(const Approval& a);
Approval FromStorageJson(const nlohmann::json& j);  // throws on a bad document

// The people who could approve `req` for `requester` now: members of its
// groups other than the requester, in config order.
std::vector<std::string> EligibleApprovers(const RequiredApproval& req,
                                           std::string_view requester,
                                           const std::vector<Member>& members);
// Empty when every requirement can be met; else why not (for a 422).
std::string UnmeetableReason(const std::vector<RequiredApproval>& required,
                             std::string_view requester,
                             const std::vector<Member>& members);
// check-config: for every require_approval rule and every configured user the
// rule's users/groups selectors could match, the requirement must be
// meetable. Records one error per unmeetable (rule, requester).
void CheckSatisfiable(const Policy& policy, const std::vector<Member>& members,
                      std::string_view origin, ConfigErrors& errors);

// The durable home of approvals. Implementations need not be thread-safe: the
// service calls them under its own mutex. Failures throw std::exception.
class ApprovalStore {
 public:
  virtual ~ApprovalStore() = default;
  virtual std::optional<Approval> Get(const std::string& id) = 0;
  // The pending or approved request for exactly this (requester, number,
  // rules), if any.
  virtual std::optional<Approval> FindOpen(const std::string& requester,
                                           const std::string& phone_number,
                                           const std::string& rule_key) = 0;
  // Every approval, or those with `status`, newest first.
  virtual std::vector<Approval> List(std::optional<ApprovalStatus> status) = 0;
  virtual void Put(const Approval& approval) = 0;  // insert or replace
  virtual void Remove(const std::string& id) = 0;  // only to undo a Put
};

// Who caused a change; empty user for the gateway itself (expiry).
struct Actor {
  std::string user;
  std::vector<std::string> groups;
  std::string request_id;
};

// Told about every state change after the store has it, with the service's
// lock held. Returning false (the audit record could not be committed) makes
// the service undo the change and report kUnavailable: no state change
// without its audit record.
class ApprovalListener {
 public:
  virtual ~ApprovalListener() = default;
  virtual bool OnChange(const Approval& after, ApprovalEvent event,
                        const Actor& actor, const std::string& reason) = 0;
};

enum class ApprovalError {
  kNone,
  kNotFound,
  kForbidden,  // not the requester, an approver or an auditor
  kSelfApproval,
  kNotEligible,
  kDuplicateVote,
  kNotPending,  // deciding on a closed request
  kReasonRequired,
  kNotRequester,  // cancel by someone else
  kPending,       // execute before approval
  kDenied,
  kExpired,
  kCancelled,
  kUsed,
  kMismatch,
  kUnmeetable,
  kUnavailable,  // store or audit failure
};

struct ApprovalResult {
  ApprovalError error = ApprovalError::kNone;
  std::string detail;
  std::optional<Approval> approval;
  bool created = false;
  bool ok() const { return error == ApprovalError::kNone; }
};

// Joins rule ids as the approval's binding key.
std::string RuleKey(const std::vector<const Rule*>& rules);

class ApprovalService {
 public:
  ApprovalService(ApprovalStore& store, ApprovalListener& listener,
                  std::function<std::int64_t()> now_us,
                  std::function<std::string()> new_id);

  // A release that needs approval and carries none: returns the open request
  // for the same (requester, number, rules), or creates one.
  ApprovalResult Request(const Actor& requester, const std::string& number,
                         const std::vector<const Rule*>& rules,
                         const std::vector<Member>& members,
                         const std::string& policy_hash);
  ApprovalResult Approve(const std::string& id, const Actor& actor,
                         const std::string& reason);
  ApprovalResult Deny(const std::string& id, const Actor& actor,
                      const std::string& reason);
  ApprovalResult Cancel(const std::string& id, const Actor& actor,
                        const std::string& reason);
  // Read access: the requester, anyone who may decide, anyone who voted, and
  // auditors.
  ApprovalResult Get(const std::string& id, const Actor& viewer, bool auditor);
  std::vector<Approval> List(const Actor& viewer, bool auditor,
                             std::optional<ApprovalStatus> status);
  // Execute: checks the binding and marks the approval executed, atomically.
  ApprovalResult Consume(const std::string& id, const Actor& requester,
                         const std::string& number,
                         const std::string& rule_key);
  // Undoes Consume() by the same request when the release was then not sent
  // (another release of the number in flight, shutting down), so the
  // approval is not lost. Lifetimes are unchanged.
  ApprovalResult Restore(const std::string& id, const Actor& requester,
                         const std::string& reason);
  // Expires every request whose deadline has passed.
  void Sweep();
  std::size_t PendingCount();

 private:
  // Under mu_: the approval, expired first if its deadline passed.
  ApprovalResult Load(const std::string& id);
  bool ExpireIfDueLocked(Approval& a);
  // Stores `after`, tells the listener; undoes the store write if the
  // listener fails.
  ApprovalResult CommitLocked(const std::optional<Approval>& before,
                              Approval after, ApprovalEvent event,
                              const Actor& actor, const std::string& reason);
  // Why a change is refused, or nullopt when it may go ahead.
  using Refusal = std::optional<ApprovalResult>;
  // Loads `id` under mu_, lets `change` refuse or edit the approval, then
  // commits the edit as `event`.
  ApprovalResult Transition(const std::string& id, ApprovalEvent event,
                            const Actor& actor, const std::string& reason,
                            const std::function<Refusal(Approval&)>& change);
  // Marks `a` closed with `status` by `by` for `reason`.
  static void Close(Approval& a, ApprovalStatus status, std::int64_t now,
                    const std::string& by, const std::string& reason);
  bool MayDecide(const Approval& a, const Actor& actor) const;
  // Why `actor` may not approve or deny `a` now (the requester, not in a
  // deciding group, no longer pending), with the two messages that differ
  // between approving and denying; nullopt when the vote may be cast.
  Refusal RefuseVote(const Approval& a, const Actor& actor,
                     std::string_view as_requester,
                     std::string_view not_eligible) const;

  ApprovalStore& store_;
  ApprovalListener& listener_;
  std::function<std::int64_t()> now_us_;
  std::function<std::string()> new_id_;
  std::mutex mu_;
};

}  // namespace agni::policy
