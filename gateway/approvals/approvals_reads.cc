// The approvals API's list (paged, by index) and the release's justification
// header: the parts of the approvals gateway that read rather than decide.
#include "gateway/approvals/approvals_api.h"
#include "policies/reason_pattern.h"

namespace agni {
namespace {

using nlohmann::json;

ApprovalReply BadQuery(std::string detail) {
  ApprovalReply r;
  r.problem = Problem{Reason::kInvalidRequest, std::move(detail), ""};
  return r;
}

using ListParams = PageParams<policy::ApprovalStatus, policy::ListCursor>;

ListParams ParseListQuery(std::string_view query) {
  return ParsePageParams<policy::ApprovalStatus, policy::ListCursor>(
      query, policy::ParseStatus,
      "pending, approved, denied, expired, cancelled, executed, revoked",
      policy::ParseCursor);
}

}  // namespace

json ApprovalsGateway::ViewFor(const policy::Approval& a,
                               const ApprovalCall& call) const {
  json view = View(a, call.members);
  if (call.inventory != nullptr) {
    const auto labels = call.inventory->find(a.phone_number);
    view["labels"] =
        labels == call.inventory->end() ? json::object() : json(labels->second);
  }
  return view;
}

ApprovalReply ApprovalsGateway::ListApi(const ApprovalCall& call,
                                        const std::string& query) {
  const ListParams params = ParseListQuery(query);
  if (!params.error.empty()) return BadQuery(params.error);
  const policy::ApprovalPageQuery q = PageQueryFor<policy::ApprovalPageQuery>(
      call.principal, call.auditor, params);
  const std::optional<policy::ApprovalPage> page = service_.ListPage(q);
  if (!page) {
    ApprovalReply r;
    r.problem = Problem{Reason::kAuditUnavailable,
                        "the approvals store cannot be read", ""};
    return r;
  }
  json items = json::array();
  for (const policy::Approval& a : page->items) {
    // Already recounted against the current rules and people.
    items.push_back(ViewFor(a, call));
  }
  const json next =
      page->next ? json(policy::FormatCursor(*page->next)) : json(nullptr);
  ApprovalReply reply;
  reply.response.status = 200;
  reply.response.content_type = "application/json";
  reply.response.body = json{{"approvals", items}, {"next", next}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
  reply.read_detail = PageReadDetail(
      "approvals", params.status ? policy::StatusName(*params.status) : "",
      params.after ? policy::FormatCursor(*params.after) : "", params.limit,
      page->items.size());
  return reply;
}

ReleaseReasonCheck CheckReleaseReason(
    const std::vector<std::string>& headers,
    const std::vector<const policy::Rule*>& rules) {
  const policy::Rule* requiring = nullptr;
  for (const policy::Rule* r : rules) {
    if (r->approval.reason_required && requiring == nullptr) requiring = r;
  }
  const Reason refusal =
      requiring != nullptr ? Reason::kReasonRequired : Reason::kInvalidRequest;
  ReleaseReasonCheck out;
  if (headers.size() > 1) {
    out.problem = Problem{refusal, "send at most one X-Release-Reason header",
                          requiring ? requiring->id : ""};
    return out;
  }
  if (headers.empty() || headers.front().empty()) {
    if (requiring != nullptr) {
      out.problem = Problem{Reason::kReasonRequired,
                            "rule \"" + requiring->id +
                                "\" needs a justification: send it in the "
                                "X-Release-Reason header",
                            requiring->id};
    }
    return out;
  }
  const std::string& reason = headers.front();
  if (!policy::IsPrintableReason(reason)) {
    out.problem = Problem{refusal,
                          "X-Release-Reason must be 1 to " +
                              std::to_string(policy::kMaxReleaseReason) +
                              " printable ASCII characters",
                          requiring ? requiring->id : ""};
    return out;
  }
  for (const policy::Rule* r : rules) {
    if (r->approval.reason_regex &&
        !policy::ReasonMatches(*r->approval.reason_regex, reason)) {
      out.problem =
          Problem{Reason::kReasonRequired,
                  "rule \"" + r->id + "\" needs an X-Release-Reason matching " +
                      r->approval.reason_pattern,
                  r->id};
      return out;
    }
  }
  out.reason = reason;
  return out;
}

}  // namespace agni
