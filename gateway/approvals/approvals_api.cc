#include "gateway/approvals/approvals_api.h"

#include <algorithm>

#include "audit/read/intents.h"
#include "audit/record.h"
#include "base/ascii.h"
#include "base/crypto.h"

namespace agni {
namespace {

using nlohmann::json;
using policy::ApprovalError;

constexpr std::string_view kCollection = "/v1/approvals";
constexpr std::size_t kMaxReason = 1000;

bool IsApprovalId(std::string_view id) { return IsAsciiWord(id, 64, "_-"); }

std::string Time(std::int64_t us) {
  return us == 0 ? std::string() : audit::FormatTime(us);
}

json OrNull(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

json Votes(const std::vector<policy::Vote>& votes) {
  json out = json::array();
  for (const policy::Vote& v : votes) {
    out.push_back({{"user", v.user},
                   {"reason", OrNull(v.reason)},
                   {"at", audit::FormatTime(v.time_us)}});
  }
  return out;
}

HttpResponse JsonResponse(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

ApprovalReply ProblemReply(Reason reason, std::string detail,
                           std::string approval_id = "") {
  ApprovalReply r;
  r.problem = Problem{reason, std::move(detail), ""};
  r.id = std::move(approval_id);
  return r;
}

// The caller as the approval service sees them. A person from an identity
// provider votes with the groups of their token (they are no configured
// user the service could look up again).
policy::Actor ActorOf(const ApprovalCall& call) {
  const Principal& p = call.principal;
  return {p.name,          p.groups,
          call.request_id, p.auth_method == "oidc",
          p.auth_method,   p.audit_detail};
}

}  // namespace

std::string ParseDecisionBody(const std::string& body, std::string& reason) {
  if (body.empty()) return "";
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return "the body must be a JSON object: {\"reason\": \"...\"}";
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "reason") return "unknown key \"" + key + "\" in the body";
    if (!value.is_string()) return "\"reason\" must be a string";
    reason = value.get<std::string>();
  }
  if (reason.size() > kMaxReason) {
    return "\"reason\" must be at most " + std::to_string(kMaxReason) +
           " bytes";
  }
  return "";
}

Reason ApprovalReason(ApprovalError error) {
  switch (error) {
    case ApprovalError::kNone: return Reason::kNone;
    case ApprovalError::kNotFound: return Reason::kNotFound;
    case ApprovalError::kForbidden: return Reason::kForbidden;
    case ApprovalError::kSelfApproval: return Reason::kSelfApproval;
    case ApprovalError::kNotEligible: return Reason::kNotEligible;
    case ApprovalError::kDuplicateVote: return Reason::kDuplicateApproval;
    case ApprovalError::kNotPending: return Reason::kApprovalNotPending;
    case ApprovalError::kReasonRequired: return Reason::kInvalidRequest;
    case ApprovalError::kNotRequester: return Reason::kForbidden;
    case ApprovalError::kPending: return Reason::kApprovalPending;
    case ApprovalError::kDenied: return Reason::kApprovalDenied;
    case ApprovalError::kExpired: return Reason::kApprovalExpired;
    case ApprovalError::kCancelled: return Reason::kApprovalCancelled;
    case ApprovalError::kUsed: return Reason::kApprovalUsed;
    case ApprovalError::kMismatch: return Reason::kApprovalMismatch;
    case ApprovalError::kUnmeetable: return Reason::kApprovalUnmeetable;
    case ApprovalError::kUnavailable: return Reason::kAuditUnavailable;
    case ApprovalError::kTooManyOpen: return Reason::kTooManyOpenApprovals;
    case ApprovalError::kRevoked: return Reason::kApprovalRevoked;
  }
  return Reason::kInternalError;
}

ApprovalsGateway::ApprovalsGateway(audit::SqliteApprovalStore& store,
                                   audit::AuditSink& audit, Metrics& metrics,
                                   Notifier* notifier, const Logger& log,
                                   std::function<std::int64_t()> now_us,
                                   std::size_t max_open_per_user)
    : store_(store),
      audit_(audit),
      metrics_(metrics),
      notifier_(notifier),
      log_(log),
      now_us_(std::move(now_us)),
      service_(
          store, *this, now_us_, [] { return "apr_" + NewRequestId(); },
          max_open_per_user) {
  metrics_.SetApprovalsPending(static_cast<double>(store_.CountPending()));
}

json ApprovalsGateway::View(const policy::Approval& a,
                            const std::vector<policy::Member>& members) const {
  json required = json::array();
  std::vector<std::string> everyone;
  for (const policy::RequiredApproval& r : a.required) {
    const std::vector<std::string> eligible =
        policy::EligibleApprovers(r, a.requester, members);
    for (const std::string& name : eligible) {
      if (std::find(everyone.begin(), everyone.end(), name) == everyone.end()) {
        everyone.push_back(name);
      }
    }
    required.push_back({{"rule_id", r.rule_id},
                        {"approvals", r.approvals},
                        {"from_groups", r.from_groups},
                        {"eligible_approvers", eligible}});
  }
  return {{"id", a.id},
          {"status", policy::StatusName(a.status)},
          {"requester", a.requester},
          {"phone_number", a.phone_number},
          {"rule_id", a.rule_id},
          {"required", required},
          {"approvals", Votes(a.approvals)},
          {"denials", Votes(a.denials)},
          {"created_at", Time(a.created_us)},
          {"expires_at", Time(a.expires_us)},
          {"execute_before", OrNull(Time(a.execute_before_us))},
          {"closed_at", OrNull(Time(a.closed_us))},
          {"closed_by", OrNull(a.closed_by)},
          {"closed_reason", OrNull(a.closed_reason)},
          {"eligible_approvers", everyone},
          {"release_reason", OrNull(a.release_reason)}};
}

audit::Record ApprovalsGateway::ChangeRecord(const policy::Approval& after,
                                             policy::ApprovalEvent event,
                                             const policy::Actor& actor,
                                             const std::string& reason) const {
  audit::Record r;
  r.stage = audit::Stage::kApproval;
  r.request_id = actor.request_id;
  r.principal = actor.user;
  if (!actor.user.empty()) r.groups = json(actor.groups).dump();
  r.phone_number = after.phone_number;
  r.decision = std::string(policy::StatusName(after.status));
  r.rule_id = after.rule_key;
  r.approval_id = after.id;
  r.policy_hash = after.policy_hash;
  r.outcome = std::string(policy::EventName(event));
  r.auth_method = actor.auth_method;
  r.detail = actor.audit_detail;
  if (!r.detail.empty() && !reason.empty()) r.detail += "; ";
  r.detail += reason;
  return r;
}

bool ApprovalsGateway::OnChange(const policy::Approval& after,
                                policy::ApprovalEvent event,
                                const policy::Actor& actor,
                                const std::string& reason) {
  const audit::AppendResult committed =
      audit_.Append(ChangeRecord(after, event, actor, reason));
  if (!Recorded(committed, after, event)) return false;
  CountPending();
  Announce(after, event, actor, reason, committed.seq);
  return true;
}

std::vector<bool> ApprovalsGateway::OnChanges(
    const std::vector<Change>& changes) {
  std::vector<audit::Record> records;
  records.reserve(changes.size());
  for (const Change& c : changes) {
    records.push_back(ChangeRecord(*c.after, c.event, {}, c.reason));
  }
  const std::vector<audit::AppendResult> committed =
      audit_.AppendAll(std::move(records));
  std::vector<bool> out(changes.size(), false);
  for (std::size_t i = 0; i < changes.size() && i < committed.size(); ++i) {
    out[i] = Recorded(committed[i], *changes[i].after, changes[i].event);
    if (out[i]) {
      Announce(*changes[i].after, changes[i].event, {}, changes[i].reason,
               committed[i].seq);
    }
  }
  CountPending();
  return out;
}

bool ApprovalsGateway::Recorded(const audit::AppendResult& committed,
                                const policy::Approval& after,
                                policy::ApprovalEvent event) {
  const std::string_view name = policy::EventName(event);
  if (!committed.ok) {
    log_.Error("approval change not recorded; undone",
               {{"approval_id", after.id},
                {"event", name},
                {"error", committed.error}});
    return false;
  }
  metrics_.CountApprovalEvent(name);
  return true;
}

void ApprovalsGateway::CountPending() {
  try {
    metrics_.SetApprovalsPending(static_cast<double>(store_.CountPending()));
  } catch (const std::exception&) {
  }
}

void ApprovalsGateway::Announce(const policy::Approval& after,
                                policy::ApprovalEvent event,
                                const policy::Actor& actor,
                                const std::string& reason, std::int64_t seq) {
  const std::string_view name = policy::EventName(event);
  if (notifier_ != nullptr) {
    const json event_body = {{"type", "approval." + std::string(name)},
                             {"event_id", NewRequestId()},
                             {"time", audit::FormatTime(now_us_())},
                             {"actor", OrNull(actor.user)},
                             {"reason", OrNull(reason)},
                             {"audit_seq", seq},
                             {"approval", View(after, {})}};
    notifier_->Publish(event_body);
  }
}

ReleaseGate ApprovalsGateway::OnRelease(
    const ApprovalCall& call, const std::string& number,
    const std::vector<const policy::Rule*>& rules,
    const std::string& policy_hash) {
  ReleaseGate gate;
  const policy::Actor actor = ActorOf(call);
  const auto& ids = call.request.approval_id;
  if (ids.size() > 1) {
    gate.problem = {Reason::kInvalidRequest,
                    "send at most one X-Approval-Id header", ""};
    return gate;
  }
  if (ids.size() == 1) {
    policy::ApprovalResult r =
        service_.Consume(ids.front(), actor, number, policy::RuleKey(rules));
    if (!r.ok()) {
      gate.problem = {ApprovalReason(r.error), r.detail, ""};
      if (r.approval) gate.approval_id = r.approval->id;
      return gate;
    }
    gate.kind = ReleaseGate::Kind::kProceed;
    gate.approval_id = r.approval->id;
    gate.release_reason = r.approval->release_reason;
    return gate;
  }
  // A new request must carry the justification its rules ask for; nothing
  // is created without it.
  ReleaseReasonCheck justification =
      CheckReleaseReason(call.request.release_reason, rules);
  if (justification.problem) {
    gate.problem = std::move(*justification.problem);
    return gate;
  }
  gate.release_reason = justification.reason;
  policy::ApprovalResult r = service_.Request(
      actor, number, rules, call.members, policy_hash, justification.reason);
  if (!r.ok()) {
    gate.problem = {ApprovalReason(r.error), r.detail,
                    rules.empty() ? "" : rules.front()->id};
    return gate;
  }
  const policy::Approval a = service_.Effective(std::move(*r.approval));
  gate.kind = ReleaseGate::Kind::kAccepted;
  gate.approval_id = a.id;
  std::string message =
      a.status == policy::ApprovalStatus::kApproved
          ? "approved: re-send this DELETE with X-Approval-Id: " + a.id +
                " before " + Time(a.execute_before_us)
          : "this release needs approval; it is pending as " + a.id +
                ". Once approved, re-send it with X-Approval-Id: " + a.id;
  gate.accepted = JsonResponse(202, {{"success", true},
                                     {"message", message},
                                     {"reason", "approval_required"},
                                     {"approval", View(a, call.members)}});
  gate.accepted.headers.emplace_back("Location",
                                     std::string(kCollection) + "/" + a.id);
  return gate;
}

void ApprovalsGateway::Sweep() { service_.Sweep(); }

bool ApprovalsGateway::ConfirmExecuted(const std::string& approval_id,
                                       const Principal& requester,
                                       const std::string& request_id) {
  const policy::ApprovalResult r = service_.ConfirmExecuted(
      approval_id, {requester.name, requester.groups, request_id});
  if (!r.ok()) {
    log_.Error("a consumed approval could not be recorded executed",
               {{"approval_id", approval_id}, {"error", r.detail}});
  }
  return r.ok();
}

void ApprovalsGateway::UseConfig(std::shared_ptr<const policy::Policy> policy,
                                 std::vector<policy::Member> members) {
  const std::size_t promoted =
      service_.SetCurrent({std::move(policy), std::move(members), true});
  if (promoted > 0) {
    log_.Info(
        "pending approvals the current config needs no more votes for "
        "are approved",
        {{"count", promoted}});
  }
}

void ApprovalsGateway::RecoverUnconfirmed(const std::string& audit_path) {
  const std::size_t restored =
      service_.RecoverUnconfirmed([&](const std::string& request_id) {
        return audit::HasIntent(audit_path, request_id);
      });
  if (restored > 0) {
    log_.Warn(
        "approvals consumed by releases that never got an audit intent are "
        "approved again",
        {{"count", restored}});
  }
}

void ApprovalsGateway::RestoreUnsent(const std::string& approval_id,
                                     const Principal& requester,
                                     const std::string& request_id,
                                     const std::string& why) {
  policy::ApprovalResult r = service_.Restore(
      approval_id, {requester.name, requester.groups, request_id}, why);
  if (!r.ok()) {
    log_.Warn("a consumed approval could not be restored",
              {{"approval_id", approval_id}, {"error", r.detail}});
  }
}

ApprovalReply ApprovalsGateway::HandleApi(const ApprovalCall& call) {
  const std::string& target = call.request.target;
  const std::size_t q = target.find('?');
  const std::string path = target.substr(0, q);
  const std::string query = q == std::string::npos ? "" : target.substr(q + 1);
  const policy::Actor actor = ActorOf(call);
  const std::string& method = call.request.method;

  if (path == kCollection || path == std::string(kCollection) + "/") {
    if (method != "GET") {
      return ProblemReply(Reason::kMethodNotAllowed,
                          "this route accepts GET only");
    }
    return ListApi(call, query);
  }

  // /v1/approvals/{id}[/action]
  std::string rest = path.substr(kCollection.size() + 1);
  std::string action;
  if (const std::size_t slash = rest.find('/'); slash != std::string::npos) {
    action = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  const std::string& id = rest;
  if (!IsApprovalId(id) || action.find('/') != std::string::npos) {
    return ProblemReply(Reason::kNotFound, "no such approval");
  }
  policy::ApprovalResult result;
  if (action.empty()) {
    if (method != "GET") {
      return ProblemReply(Reason::kMethodNotAllowed,
                          "this route accepts GET only");
    }
    if (call.request.has_body) {
      return ProblemReply(Reason::kInvalidRequest,
                          "this route takes no request body");
    }
    result = service_.Get(id, actor, call.auditor);
  } else if (action == "approve" || action == "deny" || action == "cancel" ||
             action == "revoke") {
    if (method != "POST") {
      return ProblemReply(Reason::kMethodNotAllowed,
                          "this route accepts POST only");
    }
    std::string reason;
    if (std::string bad = ParseDecisionBody(call.request.body, reason);
        !bad.empty()) {
      return ProblemReply(Reason::kInvalidRequest, std::move(bad), id);
    }
    if (action == "approve") {
      result = service_.Approve(id, actor, reason);
    } else if (action == "deny") {
      result = service_.Deny(id, actor, reason);
    } else if (action == "revoke") {
      result = service_.Revoke(id, actor, call.admin || call.auditor, reason);
    } else {
      result = service_.Cancel(id, actor, reason);
    }
  } else {
    return ProblemReply(Reason::kNotFound, "no such approval action");
  }
  if (!result.ok()) {
    return ProblemReply(ApprovalReason(result.error), result.detail, id);
  }
  ApprovalReply reply;
  reply.response = JsonResponse(
      200, ViewFor(service_.Effective(std::move(*result.approval)), call));
  reply.id = id;
  if (action.empty()) reply.read_detail = "read approval " + id;
  return reply;
}

}  // namespace agni
