#include "gateway/pipeline/problem.h"

#include "base/json_object_writer.h"

namespace agni {
namespace {

struct ReasonInfo {
  std::string_view code;
  int status;
  std::string_view title;
};

ReasonInfo Info(Reason reason) {
  switch (reason) {
    case Reason::kNone: return {"", 200, "OK"};
    case Reason::kUnauthenticated:
      return {"unauthenticated", 401, "Unauthenticated"};
    case Reason::kInvalidPhoneNumber:
      return {"invalid_phone_number", 400, "Invalid phone number"};
    case Reason::kInvalidRequest:
      return {"invalid_request", 400, "Invalid request"};
    case Reason::kPolicyDenied:
      return {"policy_denied", 403, "Denied by policy"};
    case Reason::kReleaseInFlight:
      return {"release_in_flight", 409, "Release already in flight"};
    case Reason::kAuditUnavailable:
      return {"audit_unavailable", 503, "Audit log unavailable"};
    case Reason::kShuttingDown:
      return {"shutting_down", 503, "Gateway shutting down"};
    case Reason::kOverloaded: return {"overloaded", 503, "Gateway overloaded"};
    case Reason::kUpstreamUnreachable:
      return {"upstream_unreachable", 502, "Upstream unreachable"};
    case Reason::kUpstreamTimeout:
      return {"upstream_timeout", 504, "Upstream timed out"};
    case Reason::kUpstreamTls:
      return {"upstream_tls", 502, "Upstream TLS verification failed"};
    case Reason::kUpstreamBadResponse:
      return {"upstream_bad_response", 502, "Bad response from upstream"};
    case Reason::kNotFound: return {"not_found", 404, "Not found"};
    case Reason::kMethodNotAllowed:
      return {"method_not_allowed", 405, "Method not allowed"};
    case Reason::kPayloadTooLarge:
      return {"payload_too_large", 413, "Payload too large"};
    case Reason::kInternalError:
      return {"internal_error", 500, "Internal error"};
    case Reason::kApprovalPending:
      return {"approval_pending", 409, "Approval still pending"};
    case Reason::kApprovalDenied:
      return {"approval_denied", 403, "Approval denied"};
    case Reason::kApprovalExpired:
      return {"approval_expired", 409, "Approval expired"};
    case Reason::kApprovalCancelled:
      return {"approval_cancelled", 409, "Approval cancelled"};
    case Reason::kApprovalMismatch:
      return {"approval_mismatch", 409, "Approval does not match"};
    case Reason::kApprovalUsed:
      return {"approval_used", 409, "Approval already used"};
    case Reason::kApprovalNotPending:
      return {"approval_not_pending", 409, "Approval no longer pending"};
    case Reason::kApprovalUnmeetable:
      return {"approval_unsatisfiable", 422, "Approval cannot be satisfied"};
    case Reason::kSelfApproval:
      return {"self_approval", 403, "Self-approval not allowed"};
    case Reason::kNotEligible:
      return {"not_eligible", 403, "Not eligible to decide"};
    case Reason::kDuplicateApproval:
      return {"duplicate_approval", 409, "Already approved by this person"};
    case Reason::kRateLimited:
      return {"rate_limited", 429, "Too many releases"};
    case Reason::kForbidden: return {"forbidden", 403, "Forbidden"};
    case Reason::kTooManyOpenApprovals:
      return {"too_many_open_approvals", 429, "Too many open approvals"};
    case Reason::kReasonRequired:
      return {"reason_required", 400, "Release reason required"};
    case Reason::kCsrf: return {"csrf", 403, "Cross-site request refused"};
    case Reason::kIdentityProviderUnavailable:
      return {"identity_provider_unavailable", 502,
              "Identity provider unavailable"};
    case Reason::kSelfReview:
      return {"self_review", 403, "Self-review not allowed"};
    case Reason::kReviewNotPending:
      return {"review_not_pending", 409, "Review already acknowledged"};
    case Reason::kApprovalRevoked:
      return {"approval_revoked", 409, "Approval revoked"};
  }
  return {"internal_error", 500, "Internal error"};
}

}  // namespace

std::string_view ReasonCode(Reason reason) { return Info(reason).code; }
int ReasonStatus(Reason reason) { return Info(reason).status; }
std::string_view ReasonTitle(Reason reason) { return Info(reason).title; }

std::string ProblemJson(const Problem& problem, std::string_view request_id) {
  // Written by hand (every denial sends one): the keys in the byte order
  // nlohmann's object would sort them into, the same escaping (invalid UTF-8
  // replaced rather than thrown on: detail may quote client input).
  const ReasonInfo info = Info(problem.reason);
  std::string out;
  out.reserve(320 + 2 * problem.detail.size());
  JsonObjectWriter json(out);
  json.Text("detail", problem.detail);
  json.Text("instance", "urn:agni-gateway:request:" + std::string(request_id));
  json.Text("message", problem.detail.empty()
                           ? info.title
                           : std::string_view(problem.detail));
  json.Text("reason", info.code);
  json.Text("request_id", request_id);
  if (!problem.rule_id.empty()) json.Text("rule_id", problem.rule_id);
  json.Raw("status", std::to_string(info.status));
  json.Raw("success", "false");
  json.Text("title", info.title);
  json.Text("type", "urn:agni-gateway:problem:" + std::string(info.code));
  json.Close();
  return out;
}

}  // namespace agni
