// The parts of the approval workflow that keep an approval right when things
// change after it was requested (DESIGN.md §13): the recount of votes against
// the current rules and people, the execution that is recorded only with the
// release's intent (and undone when the release is not sent), and revoke.
#include <algorithm>
#include <stdexcept>

#include "policies/approval_internal.h"
#include "policies/approvals.h"

namespace agni::policy {
namespace {

using internal::Fail;
using internal::HoldsAny;
using internal::IsOpen;

std::string Describe(const RequiredApproval& r) {
  std::string groups;
  for (const std::string& g : r.from_groups) {
    groups += (groups.empty() ? "" : ", ") + g;
  }
  return std::to_string(r.approvals) + " approval(s) from [" + groups + "]";
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

bool Voted(const std::vector<Vote>& votes, const std::string& user) {
  return std::any_of(votes.begin(), votes.end(),
                     [&](const Vote& v) { return v.user == user; });
}

// The requirement `rule_id` has under the current policy, when it still is
// a require_approval rule there.
std::optional<RequiredApproval> CurrentRequirement(const std::string& rule_id,
                                                   const Policy& policy) {
  for (const Rule& rule : policy.rules) {
    if (rule.id == rule_id && rule.effect == Effect::kRequireApproval) {
      return RequiredApproval{rule.id, rule.approval.approvals,
                              rule.approval.from_groups, rule.content_hash};
    }
  }
  return std::nullopt;
}

void Reopen(Approval& a) {
  a.status = ApprovalStatus::kPending;
  a.approved_us = 0;
  a.execute_before_us = 0;
}

}  // namespace

bool VoteCounts(const Vote& vote, const RequiredApproval& req,
                const CurrentConfig& current) {
  if (vote.provider || !current.has_members) {
    return HoldsAny(vote.groups, req.from_groups);
  }
  for (const Member& m : current.members) {
    if (m.name == vote.user) return HoldsAny(m.groups, req.from_groups);
  }
  return false;  // no longer a configured user
}

Reassessment Reassess(const Approval& a, const CurrentConfig& current) {
  Reassessment out;
  for (const RequiredApproval& bound : a.required) {
    RequiredApproval now = bound;
    if (current.policy) {
      if (auto found = CurrentRequirement(bound.rule_id, *current.policy)) {
        now = std::move(*found);
      }
    }
    const std::string rule = "rule \"" + bound.rule_id + "\"";
    if (now.approvals != bound.approvals ||
        now.from_groups != bound.from_groups) {
      out.changes.push_back(rule + " now needs " + Describe(now) + ", was " +
                            Describe(bound));
    } else if (!bound.rule_hash.empty() && now.rule_hash != bound.rule_hash) {
      out.changes.push_back(rule +
                            " was changed since the approval was requested "
                            "(it still needs " +
                            Describe(now) + ")");
    }
    const int valid = static_cast<int>(std::count_if(
        a.approvals.begin(), a.approvals.end(),
        [&](const Vote& v) { return VoteCounts(v, now, current); }));
    if (valid < now.approvals) {
      out.met = false;
      out.short_of.push_back(rule + " has " + std::to_string(valid) + " of " +
                             std::to_string(now.approvals) +
                             " valid approval(s)");
      if (current.has_members) {
        int could = valid;
        for (const std::string& name :
             EligibleApprovers(now, a.requester, current.members)) {
          if (!Voted(a.approvals, name) && !Voted(a.denials, name)) ++could;
        }
        if (could < now.approvals) out.meetable = false;
      }
    }
    out.required.push_back(std::move(now));
  }
  return out;
}

std::size_t ApprovalService::SetCurrent(CurrentConfig current) {
  std::lock_guard lock(mu_);
  current_ = std::move(current);
  // Pending requests the new config may approve, through the status index.
  std::vector<Approval> pending;
  ApprovalPageQuery query;
  query.status = ApprovalStatus::kPending;
  query.everyone = true;
  query.limit = 500;
  query.max_scanned = 500;
  try {
    for (;;) {
      ApprovalPage page = store_.ListPage(query);
      for (Approval& a : page.items) pending.push_back(std::move(a));
      if (!page.next) break;
      query.after = std::move(page.next);
    }
  } catch (const std::exception&) {
    // Unread ones are promoted when next read, voted on or executed.
  }
  std::size_t promoted = 0;
  for (Approval& a : pending) {
    if (a.status != ApprovalStatus::kPending) continue;
    if (PromoteIfMetLocked(a, "") && a.status == ApprovalStatus::kApproved) {
      ++promoted;
    }
  }
  return promoted;
}

bool ApprovalService::PromoteIfMetLocked(Approval& a,
                                         const std::string& request_id) {
  if (a.status != ApprovalStatus::kPending) return true;
  Reassessment r = Reassess(a, current_);
  if (!r.met) return true;
  const Approval before = a;
  const std::int64_t now = now_us_();
  a.required = std::move(r.required);
  a.status = ApprovalStatus::kApproved;
  a.approved_us = now;
  a.execute_before_us = now + a.execute_within_ms * 1000;
  std::string why = "the current policy needs no more approvals";
  if (!r.changes.empty()) why += ": " + Join(r.changes);
  ApprovalResult committed = CommitLocked(before, a, ApprovalEvent::kApproved,
                                          Actor{"", {}, request_id}, why);
  if (!committed.ok()) {
    a = before;
    return false;
  }
  return true;
}

Approval ApprovalService::Effective(Approval a) {
  std::lock_guard lock(mu_);
  ReopenIfShortLocked(a);
  return a;
}

void ApprovalService::ReopenIfShortLocked(Approval& a) const {
  if (!IsOpen(a.status)) return;
  Reassessment r = Reassess(a, current_);
  a.required = std::move(r.required);
  if (a.status == ApprovalStatus::kApproved && !r.met) Reopen(a);
}

ApprovalService::Refusal ApprovalService::RecheckLocked(Approval& a,
                                                        const Actor& actor) {
  Reassessment r = Reassess(a, current_);
  if (r.met) {
    a.required = std::move(r.required);
    return std::nullopt;
  }
  std::string detail = "the approval no longer meets the current policy: ";
  if (!r.changes.empty()) detail += Join(r.changes) + "; ";
  detail += Join(r.short_of);
  const Approval before = a;
  a.required = std::move(r.required);
  ApprovalEvent event = ApprovalEvent::kReopened;
  if (r.meetable) {
    Reopen(a);
    detail += "; it is pending again until enough approvals are given";
  } else {
    event = ApprovalEvent::kRevoked;
    detail += "; the current approvers can no longer meet it, so it was closed";
    Close(a, ApprovalStatus::kRevoked, now_us_(), "", detail);
  }
  // The gateway makes this change, on behalf of the release that found it.
  ApprovalResult committed =
      CommitLocked(before, a, event, Actor{"", {}, actor.request_id}, detail);
  if (!committed.ok()) return committed;
  return Fail(ApprovalError::kMismatch, std::move(detail),
              std::move(committed.approval));
}

ApprovalResult ApprovalService::ConfirmExecuted(const std::string& id,
                                                const Actor& requester) {
  std::lock_guard lock(mu_);
  std::optional<Approval> a;
  if (auto failed = internal::ReadStore(a, [&] { return store_.Get(id); })) {
    return *failed;
  }
  if (!a || a->status != ApprovalStatus::kExecuted || !a->awaiting_intent ||
      a->executed_request_id != requester.request_id) {
    return Fail(ApprovalError::kMismatch,
                "not reserved by this request; nothing to confirm");
  }
  const Approval before = *a;
  a->awaiting_intent = false;
  return CommitLocked(before, std::move(*a), ApprovalEvent::kExecuted,
                      requester, "");
}

ApprovalResult ApprovalService::Restore(const std::string& id,
                                        const Actor& requester,
                                        const std::string& reason) {
  std::lock_guard lock(mu_);
  std::optional<Approval> a;
  if (auto failed = internal::ReadStore(a, [&] { return store_.Get(id); })) {
    return *failed;
  }
  if (!a || a->status != ApprovalStatus::kExecuted ||
      a->executed_request_id != requester.request_id) {
    return Fail(ApprovalError::kMismatch,
                "not executed by this request; nothing to restore");
  }
  const Approval before = *a;
  const bool recorded = !a->awaiting_intent;
  a->status = ApprovalStatus::kApproved;
  a->closed_us = 0;
  a->closed_by.clear();
  a->closed_reason.clear();
  a->executed_request_id.clear();
  a->awaiting_intent = false;
  if (recorded) {
    // The audit says "executed": it must also say the approval came back.
    return CommitLocked(before, std::move(*a), ApprovalEvent::kRestored,
                        requester, reason);
  }
  // The execution was never recorded, so neither is its undoing.
  try {
    store_.Put(*a);
  } catch (const std::exception& e) {
    return Fail(ApprovalError::kUnavailable,
                std::string("approval store write failed: ") + e.what());
  }
  return {ApprovalError::kNone, "", std::move(a), false};
}

std::size_t ApprovalService::RecoverUnconfirmed(
    const std::function<bool(const std::string&)>& has_intent) {
  std::lock_guard lock(mu_);
  std::size_t restored = 0;
  for (Approval& a : store_.ListAwaitingIntent()) {
    const Approval before = a;
    a.awaiting_intent = false;
    if (has_intent(a.executed_request_id)) {
      const Actor requester{a.requester, {}, a.executed_request_id};
      if (!CommitLocked(before, std::move(a), ApprovalEvent::kExecuted,
                        requester, "")
               .ok()) {
        throw std::runtime_error("cannot record an approval's execution");
      }
      continue;
    }
    a.status = ApprovalStatus::kApproved;
    a.closed_us = 0;
    a.closed_by.clear();
    a.closed_reason.clear();
    a.executed_request_id.clear();
    store_.Put(a);
    ++restored;
  }
  return restored;
}

ApprovalResult ApprovalService::Revoke(const std::string& id,
                                       const Actor& actor, bool privileged,
                                       const std::string& reason) {
  const auto change = [&](Approval& a) -> Refusal {
    ReopenIfShortLocked(a);
    if (!privileged && (actor.user == a.requester || !MayDecide(a, actor))) {
      return Fail(ApprovalError::kForbidden,
                  actor.user == a.requester
                      ? "the requester cancels their own request; revoke is "
                        "for its approvers, admins and auditors"
                      : "only an eligible approver, an admin or an auditor "
                        "may revoke this request",
                  a);
    }
    if (!IsOpen(a.status)) {
      return Fail(ApprovalError::kNotPending,
                  "the request is " + std::string(StatusName(a.status)) +
                      " and can no longer be revoked",
                  a);
    }
    if (reason.empty()) {
      return Fail(ApprovalError::kReasonRequired,
                  "a revocation needs a reason: {\"reason\": \"...\"}", a);
    }
    Close(a, ApprovalStatus::kRevoked, now_us_(), actor.user, reason);
    return std::nullopt;
  };
  return Transition(id, ApprovalEvent::kRevoked, actor, reason, change);
}

}  // namespace agni::policy
