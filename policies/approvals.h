// The approval workflow of require_approval rules: a state machine over a
// store interface, with every time taken from one injectable clock.
//
//   pending --approve (N per requirement)--> approved --execute--> executed
//   pending --deny--> denied        pending|approved --cancel--> cancelled
//   pending --ttl--> expired        approved --execute_within--> expired
//   pending|approved --revoke--> revoked
//   approved --reopened (the current policy or people fall short)--> pending
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
#include <memory>
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
  kExecuted,
  kRevoked
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
  kRestored,  // executed, but the release was not sent: usable again
  kRevoked,   // ended by an approver, an admin, an auditor or the gateway
  kReopened   // approved, but short of the current requirement: pending
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
  // Rule::content_hash when it was bound (empty for approvals stored before
  // rules had one): a reload that changes the rule is noticed by it.
  std::string rule_hash;
};

struct Vote {
  std::string user;
  std::vector<std::string> groups;  // held when the vote was cast
  std::string reason;
  std::int64_t time_us = 0;
  // The voter's groups came from an identity provider's token: the provider
  // cannot be asked later, so the vote counts with `groups`. A configured
  // user's vote counts with the groups the config gives them now.
  bool provider = false;
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
  // Executed by `executed_request_id`, whose audit intent is not yet known
  // to be committed: undone at start-up when it never was.
  bool awaiting_intent = false;
  // The requester's justification (X-Release-Reason), shown to approvers.
  std::string release_reason;
  // Set when the requester signed in at an identity provider: the groups
  // their token carried when they asked (such a person is no configured user
  // whose groups could be looked up later), which explaining the request
  // judges them with. Absent for configured users, and for requests stored
  // before it was kept.
  std::optional<std::vector<std::string>> requester_groups;
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

// Where a page of a listing continues: after this approval, newest first.
struct ListCursor {
  std::int64_t created_us = 0;
  std::string id;
};
// The text form of a cursor ("<created_us>.<id>") for the `after` parameter.
std::string FormatCursor(const ListCursor& cursor);
std::optional<ListCursor> ParseCursor(std::string_view text);

// What one page of the approvals list selects, newest first.
struct ApprovalPageQuery {
  std::optional<ApprovalStatus> status;  // the stored status
  bool open_only = false;                // stored pending or approved
  // Looks at each visible row after it is read, may rewrite it (the
  // service's recount) and says whether it is shown; empty: all shown.
  std::function<bool(Approval&)> keep;
  std::string viewer;                      // sees their own requests
  std::vector<std::string> viewer_groups;  // and those these groups decide on
  bool everyone = false;                   // an auditor sees every request
  std::optional<ListCursor> after;         // empty: from the newest
  std::size_t limit = 50;
  // Rows looked at per page, visible or not, so one call stays bounded for a
  // viewer who sees little of a large store.
  std::size_t max_scanned = 5000;
};
struct ApprovalPage {
  std::vector<Approval> items;
  std::optional<ListCursor> next;  // set when more may follow
};
// Whether the list shows `a` to the query's viewer: the requester, anyone in
// a group that decides on it, or an auditor.
bool ListedFor(const ApprovalPageQuery& query, const std::string& requester,
               const std::vector<std::string>& approver_groups);
// Every group named in `a`'s requirements, once each, in order.
std::vector<std::string> ApproverGroups(const Approval& a);

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
  // Every one of `approvals` or none (a database: one transaction).
  virtual void PutAll(const std::vector<Approval>& approvals) {
    for (const Approval& a : approvals) Put(a);
  }
  virtual void Remove(const std::string& id) = 0;  // only to undo a Put
  // Executed approvals whose release intent was not yet confirmed.
  virtual std::vector<Approval> ListAwaitingIntent() {
    std::vector<Approval> out;
    for (Approval& a : List(ApprovalStatus::kExecuted)) {
      if (a.awaiting_intent) out.push_back(std::move(a));
    }
    return out;
  }

  // The defaults below read List(); a database answers from its indexes.
  // One page of what `query` selects.
  virtual ApprovalPage ListPage(const ApprovalPageQuery& query);
  // At most `limit` pending or approved requests whose deadline (ttl, or
  // execute_within once approved) is at or before `now_us`.
  virtual std::vector<Approval> ListDue(std::int64_t now_us, std::size_t limit);
  // How many pending or approved requests `requester` has whose deadline is
  // after `now_us` (a due one is expired by the next sweep or read).
  virtual std::size_t CountOpen(const std::string& requester,
                                std::int64_t now_us);
};

// Who caused a change; empty user for the gateway itself (expiry).
struct Actor {
  std::string user;
  std::vector<std::string> groups;
  std::string request_id;
  bool provider = false;  // groups from an identity provider's token
  // For the audit records of the changes the actor makes: how they signed
  // in, and what the record's detail starts with (a JWT's iss and jti).
  std::string auth_method{};
  std::string audit_detail{};
};

// The rules and people an approval is judged against now (after the last
// reload). Without a policy the requirements stay as stored; without
// members every vote counts with the groups it was cast with.
struct CurrentConfig {
  std::shared_ptr<const Policy> policy;
  std::vector<Member> members;
  bool has_members = false;
};

// An approval re-checked against the current config (DESIGN.md §13).
struct Reassessment {
  std::vector<RequiredApproval> required;  // as the current rules ask
  std::vector<std::string> changes;   // each bound rule that changed, and how
  std::vector<std::string> short_of;  // each requirement its votes miss
  bool met = true;       // valid votes meet every current requirement
  bool meetable = true;  // and could still, with people who have not voted
};
// Whether `vote` counts towards `req` under `current`.
bool VoteCounts(const Vote& vote, const RequiredApproval& req,
                const CurrentConfig& current);
Reassessment Reassess(const Approval& a, const CurrentConfig& current);

// Told about every state change after the store has it, with the service's
// lock held. Returning false (the audit record could not be committed) makes
// the service undo the change and report kUnavailable: no state change
// without its audit record.
class ApprovalListener {
 public:
  virtual ~ApprovalListener() = default;
  virtual bool OnChange(const Approval& after, ApprovalEvent event,
                        const Actor& actor, const std::string& reason) = 0;
  // Many changes by the gateway itself at once (the sweep's expiries): one
  // answer per change, in order, each as OnChange() would give it. An audit
  // log commits them together rather than one durable write each.
  struct Change {
    const Approval* after = nullptr;
    ApprovalEvent event = ApprovalEvent::kExpired;
    std::string reason;
  };
  virtual std::vector<bool> OnChanges(const std::vector<Change>& changes) {
    std::vector<bool> out;
    for (const Change& c : changes) {
      out.push_back(OnChange(*c.after, c.event, Actor{}, c.reason));
    }
    return out;
  }
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
  kTooManyOpen,  // the requester has max_open_per_user open requests
  kRevoked,      // execute after an approver, admin or auditor revoked it
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
  // `max_open_per_user` (0: unbounded) caps the pending or approved
  // requests one requester may hold.
  ApprovalService(ApprovalStore& store, ApprovalListener& listener,
                  std::function<std::int64_t()> now_us,
                  std::function<std::string()> new_id,
                  std::size_t max_open_per_user = 0);

  // A release that needs approval and carries none: returns the open request
  // for the same (requester, number, rules), or creates one.
  ApprovalResult Request(const Actor& requester, const std::string& number,
                         const std::vector<const Rule*>& rules,
                         const std::vector<Member>& members,
                         const std::string& policy_hash,
                         const std::string& release_reason = "");
  ApprovalResult Approve(const std::string& id, const Actor& actor,
                         const std::string& reason);
  ApprovalResult Deny(const std::string& id, const Actor& actor,
                      const std::string& reason);
  ApprovalResult Cancel(const std::string& id, const Actor& actor,
                        const std::string& reason);
  // Read access: the requester, anyone who may decide, anyone who voted, and
  // auditors.
  ApprovalResult Get(const std::string& id, const Actor& viewer, bool auditor);
  // One page of the list, due requests expired first, each as the current
  // config sees it (Effective()); `query.status` selects by that status, so
  // an approved request whose votes fall short is listed as pending.
  // nullopt when the store cannot be read.
  std::optional<ApprovalPage> ListPage(ApprovalPageQuery query);
  // Execute: checks the binding, recounts the votes against the current
  // config and marks the approval executed (awaiting its intent),
  // atomically. Nothing is audited yet: ConfirmExecuted() records the
  // execution once the release's intent is committed.
  ApprovalResult Consume(const std::string& id, const Actor& requester,
                         const std::string& number,
                         const std::string& rule_key);
  // The release's intent is committed: the execution is recorded. On
  // failure the approval stays awaiting its intent (Restore() undoes it).
  ApprovalResult ConfirmExecuted(const std::string& id, const Actor& requester);
  // Undoes Consume() by the same request when the release was then not sent
  // (rate limited, in flight, overloaded, shutting down, audit unavailable,
  // upstream never contacted), so the approval is not lost. Lifetimes are
  // unchanged; an execution never recorded is undone without a record.
  ApprovalResult Restore(const std::string& id, const Actor& requester,
                         const std::string& reason);
  // At start-up: every approval consumed by a request whose intent was
  // committed (`has_intent(request_id)`) is recorded executed; the others
  // are approved again. Returns how many were approved again.
  std::size_t RecoverUnconfirmed(
      const std::function<bool(const std::string& request_id)>& has_intent);
  // Ends a pending or approved request: `privileged` (an admin or an
  // auditor) or an eligible approver other than the requester.
  ApprovalResult Revoke(const std::string& id, const Actor& actor,
                        bool privileged, const std::string& reason);
  // The config later operations are judged against (every reload). Pending
  // requests whose votes now meet it (a rule needs fewer) are approved at
  // once; returns how many.
  std::size_t SetCurrent(CurrentConfig current);
  // `a` as the current config sees it: the current requirements, and
  // pending when an approved request's valid votes fall short.
  Approval Effective(Approval a);
  // Expires every request whose deadline has passed, a batch at a time, each
  // batch one store transaction and one audit commit; an expiry that cannot
  // be recorded leaves its request as it was (it fails closed when used).
  void Sweep();

 private:
  // Why a change is refused, or nullopt when it may go ahead.
  using Refusal = std::optional<ApprovalResult>;
  // Under mu_: the approval, expired first if its deadline passed.
  ApprovalResult Load(const std::string& id);
  // kFailed: the deadline passed but the expiry could not be recorded.
  enum class Expiry { kNotDue, kExpired, kFailed };
  Expiry ExpireIfDueLocked(Approval& a);
  // Approves a pending request whose valid votes meet the current config
  // (a reload lowered its requirement), recorded as the gateway's approval
  // on behalf of `request_id`. False when that cannot be recorded (`a` is
  // then unchanged: pending, which refuses every release).
  bool PromoteIfMetLocked(Approval& a, const std::string& request_id);
  // A refusal when the approval falls short of the current config (it is
  // then reopened or, when it can no longer be met, revoked).
  Refusal RecheckLocked(Approval& a, const Actor& actor);
  // Before a vote: the current requirements, and an approved request whose
  // valid votes fall short pending again (in memory; the vote commits it).
  void ReopenIfShortLocked(Approval& a) const;
  // Stores `after`, tells the listener; undoes the store write if the
  // listener fails.
  ApprovalResult CommitLocked(const std::optional<Approval>& before,
                              Approval after, ApprovalEvent event,
                              const Actor& actor, const std::string& reason);
  // Loads `id` under mu_, lets `change` refuse or edit the approval, then
  // commits the edit as `event`.
  ApprovalResult Transition(const std::string& id, ApprovalEvent event,
                            const Actor& actor, const std::string& reason,
                            const std::function<Refusal(Approval&)>& change);
  // Marks `a` closed with `status` by `by` for `reason`.
  static void Close(Approval& a, ApprovalStatus status, std::int64_t now,
                    const std::string& by, const std::string& reason);
  bool MayDecide(const Approval& a, const Actor& actor) const;
  // kTooManyOpen when `requester` already holds max_open_per_user_ open
  // requests (kUnavailable when they cannot be counted); else kNone.
  ApprovalResult RefuseOverOpenLimitLocked(const std::string& requester);
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
  std::size_t max_open_per_user_ = 0;
  std::mutex mu_;
  CurrentConfig current_;  // guarded by mu_
};

}  // namespace agni::policy
