#include "policies/approvals.h"

#include <algorithm>
#include <stdexcept>

#include "policies/approval_internal.h"

namespace agni::policy {
namespace {

using internal::Fail;
using internal::HoldsAny;
using internal::IsOpen;

std::string FormatMs(std::int64_t ms) {
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// Why `a` expires at `now`, or nullopt when its deadline has not passed.
std::optional<std::string> ExpiryReason(const Approval& a, std::int64_t now) {
  if (a.status == ApprovalStatus::kPending && now >= a.expires_us) {
    return "not approved within its ttl";
  }
  if (a.status == ApprovalStatus::kApproved && now >= a.execute_before_us) {
    return "approved but not executed within " + FormatMs(a.execute_within_ms);
  }
  return std::nullopt;
}

void MarkExpired(Approval& a, std::int64_t now, const std::string& why) {
  a.status = ApprovalStatus::kExpired;
  a.closed_us = now;
  a.closed_reason = why;
}

}  // namespace

std::string_view StatusName(ApprovalStatus status) {
  switch (status) {
    case ApprovalStatus::kPending: return "pending";
    case ApprovalStatus::kApproved: return "approved";
    case ApprovalStatus::kDenied: return "denied";
    case ApprovalStatus::kExpired: return "expired";
    case ApprovalStatus::kCancelled: return "cancelled";
    case ApprovalStatus::kExecuted: return "executed";
    case ApprovalStatus::kRevoked: return "revoked";
  }
  return "pending";
}

std::optional<ApprovalStatus> ParseStatus(std::string_view text) {
  for (ApprovalStatus s :
       {ApprovalStatus::kPending, ApprovalStatus::kApproved,
        ApprovalStatus::kDenied, ApprovalStatus::kExpired,
        ApprovalStatus::kCancelled, ApprovalStatus::kExecuted,
        ApprovalStatus::kRevoked}) {
    if (StatusName(s) == text) return s;
  }
  return std::nullopt;
}

std::string_view EventName(ApprovalEvent event) {
  switch (event) {
    case ApprovalEvent::kCreated: return "created";
    case ApprovalEvent::kApproved: return "approved";
    case ApprovalEvent::kDenied: return "denied";
    case ApprovalEvent::kCancelled: return "cancelled";
    case ApprovalEvent::kExpired: return "expired";
    case ApprovalEvent::kExecuted: return "executed";
    case ApprovalEvent::kRestored: return "restored";
    case ApprovalEvent::kRevoked: return "revoked";
    case ApprovalEvent::kReopened: return "reopened";
  }
  return "created";
}

Member IdentityProviderMembers(const std::string& group) {
  return {"members of " + group + " (identity provider)", {group}, true};
}

std::vector<std::string> EligibleApprovers(const RequiredApproval& req,
                                           std::string_view requester,
                                           const std::vector<Member>& members) {
  std::vector<std::string> out;
  for (const Member& m : members) {
    if (m.name != requester && HoldsAny(m.groups, req.from_groups)) {
      out.push_back(m.name);
    }
  }
  return out;
}

std::string UnmeetableReason(const std::vector<RequiredApproval>& required,
                             std::string_view requester,
                             const std::vector<Member>& members) {
  for (const RequiredApproval& r : required) {
    const bool provider_may_meet =
        std::any_of(members.begin(), members.end(), [&](const Member& m) {
          return m.from_identity_provider && HoldsAny(m.groups, r.from_groups);
        });
    if (provider_may_meet) continue;
    const std::size_t eligible =
        EligibleApprovers(r, requester, members).size();
    if (eligible < static_cast<std::size_t>(r.approvals)) {
      std::string groups;
      for (const std::string& g : r.from_groups) {
        groups += (groups.empty() ? "" : ", ") + g;
      }
      return "rule \"" + r.rule_id + "\" needs " + std::to_string(r.approvals) +
             " approval(s) from [" + groups + "] but only " +
             std::to_string(eligible) +
             " configured user(s) other than the requester are in those groups";
    }
  }
  return "";
}

void CheckSatisfiable(const Policy& policy, const std::vector<Member>& members,
                      std::string_view origin, ConfigErrors& errors) {
  for (std::size_t i = 0; i < policy.rules.size(); ++i) {
    const Rule& rule = policy.rules[i];
    if (rule.effect != Effect::kRequireApproval) continue;
    const RequiredApproval req{rule.id, rule.approval.approvals,
                               rule.approval.from_groups, rule.content_hash};
    for (const Member& m : members) {
      if (m.from_identity_provider) continue;
      // The number selector is irrelevant here: any number could match.
      Rule who = rule;
      who.numbers.clear();
      if (!RuleMatches(who, {m.name, m.groups}, "")) continue;
      std::string why = UnmeetableReason({req}, m.name, members);
      if (!why.empty()) {
        errors.push_back(
            {std::string(origin) + ":$.rules[" + std::to_string(i) +
                 "].approval.approvals",
             why + " (requester \"" + m.name + "\" could never be approved)"});
      }
    }
  }
}

std::string RuleKey(const std::vector<const Rule*>& rules) {
  std::string key;
  for (const Rule* r : rules) key += (key.empty() ? "" : ",") + r->id;
  return key;
}

ApprovalService::ApprovalService(ApprovalStore& store,
                                 ApprovalListener& listener,
                                 std::function<std::int64_t()> now_us,
                                 std::function<std::string()> new_id,
                                 std::size_t max_open_per_user)
    : store_(store),
      listener_(listener),
      now_us_(std::move(now_us)),
      new_id_(std::move(new_id)),
      max_open_per_user_(max_open_per_user) {}

ApprovalResult ApprovalService::CommitLocked(
    const std::optional<Approval>& before, Approval after, ApprovalEvent event,
    const Actor& actor, const std::string& reason) {
  try {
    store_.Put(after);
  } catch (const std::exception& e) {
    return Fail(ApprovalError::kUnavailable,
                std::string("approval store write failed: ") + e.what());
  }
  if (!listener_.OnChange(after, event, actor, reason)) {
    try {
      if (before) {
        store_.Put(*before);
      } else {
        store_.Remove(after.id);
      }
    } catch (const std::exception&) {
      // The audit store is failing too; the next start sees the new state
      // without its record, which is why readiness goes red meanwhile.
    }
    return Fail(ApprovalError::kUnavailable,
                "the audit log cannot record this approval change");
  }
  return {ApprovalError::kNone, "", std::move(after), false};
}

ApprovalService::Expiry ApprovalService::ExpireIfDueLocked(Approval& a) {
  const std::int64_t now = now_us_();
  const std::optional<std::string> why = ExpiryReason(a, now);
  if (!why) return Expiry::kNotDue;
  const Approval before = a;
  MarkExpired(a, now, *why);
  ApprovalResult r =
      CommitLocked(before, a, ApprovalEvent::kExpired, Actor{}, *why);
  if (!r.ok()) a = before;
  return r.ok() ? Expiry::kExpired : Expiry::kFailed;
}

ApprovalResult ApprovalService::Load(const std::string& id) {
  std::optional<Approval> a;
  if (auto failed = internal::ReadStore(a, [&] { return store_.Get(id); })) {
    return *failed;
  }
  if (!a) return Fail(ApprovalError::kNotFound, "no approval with this id");
  if (ExpireIfDueLocked(*a) == Expiry::kFailed) {
    // Fail closed: an approval past its deadline is never used, shown or
    // decided on as if it were still open.
    return Fail(ApprovalError::kUnavailable,
                "the approval is past its deadline and its expiry cannot be "
                "recorded");
  }
  // A failed promotion leaves it pending: shown and refused as such.
  PromoteIfMetLocked(*a, "");
  return {ApprovalError::kNone, "", std::move(a), false};
}

ApprovalResult ApprovalService::Transition(
    const std::string& id, ApprovalEvent event, const Actor& actor,
    const std::string& reason,
    const std::function<Refusal(Approval&)>& change) {
  std::lock_guard lock(mu_);
  ApprovalResult loaded = Load(id);
  if (!loaded.ok()) return loaded;
  const Approval before = *loaded.approval;
  Approval a = std::move(*loaded.approval);
  if (Refusal refused = change(a)) {
    return std::move(*refused);
  }
  return CommitLocked(before, std::move(a), event, actor, reason);
}

void ApprovalService::Close(Approval& a, ApprovalStatus status,
                            std::int64_t now, const std::string& by,
                            const std::string& reason) {
  a.status = status;
  a.closed_us = now;
  a.closed_by = by;
  a.closed_reason = reason;
}

ApprovalService::Refusal ApprovalService::RefuseVote(
    const Approval& a, const Actor& actor, std::string_view as_requester,
    std::string_view not_eligible) const {
  if (actor.user == a.requester) {
    return Fail(ApprovalError::kSelfApproval, std::string(as_requester), a);
  }
  if (!MayDecide(a, actor)) {
    return Fail(ApprovalError::kNotEligible, std::string(not_eligible), a);
  }
  if (a.status != ApprovalStatus::kPending) {
    return Fail(ApprovalError::kNotPending,
                "the request is " + std::string(StatusName(a.status)) +
                    ", no longer pending",
                a);
  }
  return std::nullopt;
}

bool ApprovalService::MayDecide(const Approval& a, const Actor& actor) const {
  if (actor.user == a.requester) return false;
  return std::any_of(a.required.begin(), a.required.end(),
                     [&](const RequiredApproval& r) {
                       return HoldsAny(actor.groups, r.from_groups);
                     });
}

ApprovalResult ApprovalService::RefuseOverOpenLimitLocked(
    const std::string& requester) {
  if (max_open_per_user_ == 0) return {};
  std::size_t open = 0;
  if (auto failed = internal::ReadStore(
          open, [&] { return store_.CountOpen(requester, now_us_()); })) {
    return *failed;
  }
  if (open < max_open_per_user_) return {};
  return Fail(ApprovalError::kTooManyOpen,
              "you already have " + std::to_string(open) +
                  " open approval requests, the most allowed "
                  "(approvals.max_open_per_user); cancel one or wait until "
                  "one is decided or expires");
}

ApprovalResult ApprovalService::Request(const Actor& requester,
                                        const std::string& number,
                                        const std::vector<const Rule*>& rules,
                                        const std::vector<Member>& members,
                                        const std::string& policy_hash,
                                        const std::string& release_reason) {
  std::lock_guard lock(mu_);
  const std::string key = RuleKey(rules);
  std::vector<RequiredApproval> required;
  std::int64_t ttl_ms = 0, execute_ms = 0;
  for (const Rule* r : rules) {
    required.push_back({r->id, r->approval.approvals, r->approval.from_groups,
                        r->content_hash});
    const std::int64_t ttl = r->approval.ttl.count();
    const std::int64_t exec = r->approval.execute_within.count();
    ttl_ms = ttl_ms == 0 ? ttl : std::min(ttl_ms, ttl);
    execute_ms = execute_ms == 0 ? exec : std::min(execute_ms, exec);
  }
  std::optional<Approval> open;
  if (auto failed = internal::ReadStore(
          open, [&] { return store_.FindOpen(requester.user, number, key); })) {
    return *failed;
  }
  if (open) {
    const Expiry expiry = ExpireIfDueLocked(*open);
    if (expiry == Expiry::kFailed) {
      return Fail(ApprovalError::kUnavailable,
                  "an open approval is past its deadline and its expiry "
                  "cannot be recorded");
    }
    if (expiry == Expiry::kNotDue && IsOpen(open->status)) {
      return {ApprovalError::kNone, "", std::move(open), false};
    }
  }
  if (std::string why = UnmeetableReason(required, requester.user, members);
      !why.empty()) {
    return Fail(ApprovalError::kUnmeetable, std::move(why));
  }
  if (ApprovalResult over = RefuseOverOpenLimitLocked(requester.user);
      !over.ok()) {
    return over;
  }
  Approval a;
  a.id = new_id_();
  a.requester = requester.user;
  a.phone_number = number;
  a.rule_id = rules.empty() ? "" : rules.front()->id;
  a.rule_key = key;
  a.required = std::move(required);
  a.created_us = now_us_();
  a.expires_us = a.created_us + ttl_ms * 1000;
  a.execute_within_ms = execute_ms;
  a.request_id = requester.request_id;
  a.policy_hash = policy_hash;
  a.release_reason = release_reason;
  if (requester.provider) a.requester_groups = requester.groups;
  // The created record's detail and the notification carry the reason.
  ApprovalResult r =
      CommitLocked(std::nullopt, std::move(a), ApprovalEvent::kCreated,
                   requester, release_reason);
  r.created = r.ok();
  return r;
}

ApprovalResult ApprovalService::Approve(const std::string& id,
                                        const Actor& actor,
                                        const std::string& reason) {
  const auto change = [&](Approval& a) -> Refusal {
    ReopenIfShortLocked(a);
    if (Refusal refused = RefuseVote(
            a, actor, "the requester cannot approve their own request",
            "you are not in any group that may approve this request")) {
      return refused;
    }
    const auto voted = [&](const Vote& v) { return v.user == actor.user; };
    if (std::any_of(a.approvals.begin(), a.approvals.end(), voted)) {
      return Fail(ApprovalError::kDuplicateVote,
                  "you have already approved this request; one person "
                  "counts once",
                  a);
    }
    const std::int64_t now = now_us_();
    a.approvals.push_back(
        {actor.user, actor.groups, reason, now, actor.provider});
    if (Reassess(a, current_).met) {
      a.status = ApprovalStatus::kApproved;
      a.approved_us = now;
      a.execute_before_us = now + a.execute_within_ms * 1000;
    }
    return std::nullopt;
  };
  return Transition(id, ApprovalEvent::kApproved, actor, reason, change);
}

ApprovalResult ApprovalService::Deny(const std::string& id, const Actor& actor,
                                     const std::string& reason) {
  const auto change = [&](Approval& a) -> Refusal {
    ReopenIfShortLocked(a);
    if (Refusal refused = RefuseVote(
            a, actor,
            "the requester cannot decide on their own request; use cancel",
            "you are not in any group that may decide on this request")) {
      return refused;
    }
    if (reason.empty()) {
      return Fail(ApprovalError::kReasonRequired,
                  "a denial needs a reason: {\"reason\": \"...\"}", a);
    }
    const std::int64_t now = now_us_();
    a.denials.push_back(
        {actor.user, actor.groups, reason, now, actor.provider});
    Close(a, ApprovalStatus::kDenied, now, actor.user, reason);
    return std::nullopt;
  };
  return Transition(id, ApprovalEvent::kDenied, actor, reason, change);
}

ApprovalResult ApprovalService::Cancel(const std::string& id,
                                       const Actor& actor,
                                       const std::string& reason) {
  const auto change = [&](Approval& a) -> Refusal {
    if (actor.user != a.requester) {
      return Fail(ApprovalError::kNotRequester,
                  "only the requester can cancel a request", a);
    }
    if (!IsOpen(a.status)) {
      return Fail(ApprovalError::kNotPending,
                  "the request is " + std::string(StatusName(a.status)) +
                      " and can no longer be cancelled",
                  a);
    }
    Close(a, ApprovalStatus::kCancelled, now_us_(), actor.user, reason);
    return std::nullopt;
  };
  return Transition(id, ApprovalEvent::kCancelled, actor, reason, change);
}

ApprovalResult ApprovalService::Get(const std::string& id, const Actor& viewer,
                                    bool auditor) {
  std::lock_guard lock(mu_);
  ApprovalResult loaded = Load(id);
  if (!loaded.ok()) return loaded;
  const Approval& a = *loaded.approval;
  const auto voted = [&](const Vote& v) { return v.user == viewer.user; };
  const bool allowed =
      auditor || viewer.user == a.requester || MayDecide(a, viewer) ||
      std::any_of(a.approvals.begin(), a.approvals.end(), voted) ||
      std::any_of(a.denials.begin(), a.denials.end(), voted);
  if (!allowed) {
    return Fail(ApprovalError::kForbidden,
                "only the requester, its approvers and auditors may read this "
                "approval");
  }
  return loaded;
}

ApprovalResult ApprovalService::Consume(const std::string& id,
                                        const Actor& requester,
                                        const std::string& number,
                                        const std::string& rule_key) {
  std::lock_guard lock(mu_);
  ApprovalResult loaded = Load(id);
  if (loaded.error == ApprovalError::kNotFound) {
    return Fail(ApprovalError::kMismatch, "no approval with this id");
  }
  if (!loaded.ok()) return loaded;
  Approval a = std::move(*loaded.approval);
  if (a.requester != requester.user) {
    return Fail(ApprovalError::kMismatch,
                "this approval was granted to another requester");
  }
  if (a.phone_number != number) {
    return Fail(ApprovalError::kMismatch,
                "this approval is for another phone number", a);
  }
  switch (a.status) {
    case ApprovalStatus::kPending:
      return Fail(ApprovalError::kPending,
                  "the approval is still pending (" +
                      std::to_string(a.approvals.size()) +
                      " approval(s) so far)",
                  a);
    case ApprovalStatus::kDenied:
      return Fail(ApprovalError::kDenied,
                  "the request was denied by " + a.closed_by, a);
    case ApprovalStatus::kExpired:
      return Fail(ApprovalError::kExpired,
                  "the approval expired: " + a.closed_reason, a);
    case ApprovalStatus::kCancelled:
      return Fail(ApprovalError::kCancelled, "the request was cancelled", a);
    case ApprovalStatus::kRevoked:
      return Fail(ApprovalError::kRevoked,
                  a.closed_by.empty()
                      ? std::string("the request was revoked by the "
                                    "gateway: ") +
                            a.closed_reason
                      : std::string("the request was revoked by ") +
                            a.closed_by + ": " + a.closed_reason,
                  a);
    case ApprovalStatus::kExecuted:
      return Fail(ApprovalError::kUsed,
                  a.awaiting_intent
                      ? "the approval is in use by another release in flight"
                      : "the approval was already used; each approval "
                        "releases once",
                  a);
    case ApprovalStatus::kApproved: break;
  }
  if (a.rule_key != rule_key) {
    return Fail(ApprovalError::kMismatch,
                "the policy now requires approval under other rules (" +
                    rule_key + ") than this approval was granted for (" +
                    a.rule_key + ")",
                a);
  }
  if (Refusal refused = RecheckLocked(a, requester)) return std::move(*refused);
  // Reserved, durably, before the intent: a crash from here on leaves an
  // approval awaiting its intent, which the next start resolves.
  a.status = ApprovalStatus::kExecuted;
  a.closed_us = now_us_();
  a.closed_by = requester.user;
  a.executed_request_id = requester.request_id;
  a.awaiting_intent = true;
  try {
    store_.Put(a);
  } catch (const std::exception& e) {
    return Fail(ApprovalError::kUnavailable,
                std::string("approval store write failed: ") + e.what());
  }
  return {ApprovalError::kNone, "", std::move(a), false};
}

void ApprovalService::Sweep() {
  // Only what is due, from the store's deadline index, a batch at a time:
  // the batch's expiries are one store transaction and one audit commit. A
  // batch with a failed expiry ends the sweep (the next one retries it).
  constexpr std::size_t kBatch = 1000;
  std::lock_guard lock(mu_);
  for (;;) {
    const std::int64_t now = now_us_();
    std::vector<Approval> due;
    try {
      due = store_.ListDue(now, kBatch);
    } catch (const std::exception&) {
      return;
    }
    std::vector<Approval> before;
    std::vector<Approval> after;
    std::vector<ApprovalListener::Change> changes;
    for (Approval& a : due) {
      std::optional<std::string> why = ExpiryReason(a, now);
      if (!why) continue;
      before.push_back(a);
      MarkExpired(a, now, *why);
      after.push_back(std::move(a));
      changes.push_back({nullptr, ApprovalEvent::kExpired, std::move(*why)});
    }
    if (after.empty()) return;
    try {
      store_.PutAll(after);
    } catch (const std::exception&) {
      return;  // nothing expired; each fails closed when it is next used
    }
    for (std::size_t i = 0; i < after.size(); ++i) changes[i].after = &after[i];
    const std::vector<bool> recorded = listener_.OnChanges(changes);
    std::vector<Approval> undo;
    for (std::size_t i = 0; i < after.size(); ++i) {
      if (i >= recorded.size() || !recorded[i]) undo.push_back(before[i]);
    }
    if (!undo.empty()) {
      try {
        store_.PutAll(undo);
      } catch (const std::exception&) {
        // As in CommitLocked: readiness is red while the audit fails.
      }
      return;
    }
    if (due.size() < kBatch) return;
  }
}

}  // namespace agni::policy
