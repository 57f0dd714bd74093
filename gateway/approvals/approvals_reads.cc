// The approvals API's list (paged, by index) and the release's justification
// header: the parts of the approvals gateway that read rather than decide.
#include <charconv>

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

// The parameters of GET /v1/approvals: status, limit, after.
struct ListParams {
  std::optional<policy::ApprovalStatus> status;
  std::size_t limit = kDefaultListLimit;
  std::optional<policy::ListCursor> after;
  std::string error;  // non-empty: the 400's detail
};

ListParams ParseListQuery(const std::string& query) {
  ListParams out;
  for (std::size_t pos = 0; pos < query.size();) {
    std::size_t amp = query.find('&', pos);
    if (amp == std::string::npos) amp = query.size();
    const std::string_view param =
        std::string_view(query).substr(pos, amp - pos);
    pos = amp + 1;
    if (param.empty()) continue;
    const std::size_t eq = param.find('=');
    const std::string_view key = param.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? "" : param.substr(eq + 1);
    if (key == "status") {
      out.status = policy::ParseStatus(value);
      if (!out.status) {
        out.error =
            "status must be one of pending, approved, denied, expired, "
            "cancelled, executed, revoked";
      }
    } else if (key == "limit") {
      std::size_t n = 0;
      const auto [end, ec] =
          std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 1 ||
          n > kMaxListLimit) {
        out.error =
            "limit must be a number from 1 to " + std::to_string(kMaxListLimit);
      }
      out.limit = n;
    } else if (key == "after") {
      out.after = policy::ParseCursor(value);
      if (!out.after) {
        out.error = "after must be the \"next\" of a previous page";
      }
    } else {
      out.error = "the query parameters are status, limit and after";
    }
    if (!out.error.empty()) return out;
  }
  return out;
}

}  // namespace

ApprovalReply ApprovalsGateway::ListApi(const ApprovalCall& call,
                                        const std::string& query) {
  const ListParams params = ParseListQuery(query);
  if (!params.error.empty()) return BadQuery(params.error);
  policy::ApprovalPageQuery q;
  q.status = params.status;
  q.viewer = call.principal.name;
  q.viewer_groups = call.principal.groups;
  q.everyone = call.auditor;
  q.after = params.after;
  q.limit = params.limit;
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
    items.push_back(View(a, call.members));
    if (call.inventory != nullptr) {
      const auto labels = call.inventory->find(a.phone_number);
      items.back()["labels"] = labels == call.inventory->end()
                                   ? json::object()
                                   : json(labels->second);
    }
  }
  const json next =
      page->next ? json(policy::FormatCursor(*page->next)) : json(nullptr);
  ApprovalReply reply;
  reply.response.status = 200;
  reply.response.content_type = "application/json";
  reply.response.body = json{{"approvals", items}, {"next", next}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
  reply.read_detail = "listed approvals";
  if (params.status) {
    reply.read_detail += " status=";
    reply.read_detail += policy::StatusName(*params.status);
  }
  if (params.after) {
    reply.read_detail += " after=" + policy::FormatCursor(*params.after);
  }
  reply.read_detail += " limit=" + std::to_string(params.limit) + ": " +
                       std::to_string(page->items.size()) + " shown";
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
