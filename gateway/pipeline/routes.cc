// The main listener's routes other than the release: whoami, the audit log's
// read API, the approvals API and policy explain. Each authenticates through
// Handle() (pipeline.cc) and ends in Finish() or RespondRecorded(), so every
// answer has its audit record before it leaves.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "gateway/approvals/approvals_api.h"
#include "gateway/pipeline/audit_api.h"
#include "gateway/pipeline/policy_tools.h"
#include "gateway/pipeline/request_context.h"

namespace agni {
namespace {

HttpResponse JsonOk(std::string body) {
  HttpResponse r;
  r.status = 200;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

}  // namespace

std::string_view RouteName(Route route) {
  switch (route) {
    case Route::kRelease: return "release";
    case Route::kWhoAmI: return "whoami";
    case Route::kAudit: return "audit";
    case Route::kApprovals: return "approvals";
    case Route::kExplain: return "explain";
    case Route::kOther: return "other";
    case Route::kSession: return "session";
    case Route::kConsole: return "console";
    case Route::kReviews: return "reviews";
  }
  return "other";
}

audit::Record RequestPipeline::ServedRecord(Context& ctx,
                                            std::string detail) const {
  ctx.decision = policy::Effect::kAllow;
  audit::Record record = BaseRecord(ctx, audit::Stage::kDecision);
  record.response_status = 200;
  // After the principal's part (a JWT's iss and jti), as on release records.
  if (record.detail.empty()) {
    record.detail = std::move(detail);
  } else if (!detail.empty()) {
    record.detail += "; ";
    record.detail += detail;
  }
  return record;
}

HttpResponse RequestPipeline::RespondRecorded(Context& ctx,
                                              audit::Record record,
                                              HttpResponse response) {
  AnswerRelease release;
  if (ctx.request.hold_answer) release = ctx.request.hold_answer();
  if (!release) {
    if (const audit::AppendResult committed = audit_.Append(std::move(record));
        !committed.ok) {
      log_.Error("audit record not committed",
                 {{"request_id", ctx.request_id}, {"error", committed.error}});
      return Finish(ctx, AuditUnavailable());
    }
    return Respond(ctx, std::move(response));
  }
  Decorate(ctx.request_id, response);
  audit_.AppendThen(
      std::move(record),
      [this, release, request_id = ctx.request_id,
       answered = Answered(ctx, response.status)](audit::AppendResult r) {
        if (r.ok) {
          release(std::nullopt);
          answered(std::nullopt);
          return;
        }
        log_.Error("audit record not committed",
                   {{"request_id", request_id}, {"error", r.error}});
        // The held answer never goes: this one does, and ends the connection.
        HttpResponse unavailable;
        unavailable.status = ReasonStatus(Reason::kAuditUnavailable);
        unavailable.content_type = kProblemContentType;
        unavailable.body = ProblemJson(AuditUnavailable(), request_id);
        Decorate(request_id, unavailable);
        release(std::move(unavailable));
        answered(Reason::kAuditUnavailable);
      });
  return response;
}

HttpResponse RequestPipeline::Approvals(Context& ctx) {
  const Principal& p = *ctx.principal;
  ApprovalReply reply = approvals_->HandleApi(
      {p, ctx.request, ctx.request_id, ctx.access->members,
       p.InAnyGroup(ctx.access->auditors), p.InAnyGroup(ctx.access->admins),
       ctx.access->inventory.get()});
  ctx.approval_id = reply.id;
  if (!reply.problem && !reply.read_detail.empty()) {
    // Reading approvals is audited like every other read.
    return RespondRecorded(ctx, ServedRecord(ctx, std::move(reply.read_detail)),
                           std::move(reply.response));
  }
  if (!reply.problem) return Respond(ctx, std::move(reply.response));
  Problem problem = std::move(*reply.problem);
  if (problem.reason != Reason::kMethodNotAllowed) {
    return Finish(ctx, std::move(problem));
  }
  // Finish() names the release/whoami methods; this route has its own.
  HttpResponse r = Finish(ctx, problem);
  const std::string& target = ctx.request.target;
  const bool action = target.find("/approve") != std::string::npos ||
                      target.find("/deny") != std::string::npos ||
                      target.find("/cancel") != std::string::npos ||
                      target.find("/revoke") != std::string::npos;
  for (auto& [name, value] : r.headers) {
    if (name == "Allow") value = action ? "POST" : "GET";
  }
  return r;
}

HttpResponse RequestPipeline::WhoAmI(Context& ctx) {
  const Principal& p = *ctx.principal;
  return RespondRecorded(
      ctx, ServedRecord(ctx, ""),
      JsonOk(nlohmann::json{{"user", p.name},
                            {"groups", p.groups},
                            {"auth_method", p.auth_method},
                            {"auditor", p.InAnyGroup(ctx.access->auditors)}}
                 .dump()));
}

HttpResponse RequestPipeline::AuditRead(Context& ctx) {
  if (!ctx.principal->InAnyGroup(ctx.access->auditors)) {
    return Finish(ctx, {Reason::kForbidden,
                        "only members of the auditors groups may read the "
                        "audit log",
                        ""});
  }
  AuditApi::Result result = audit_api_->Handle(ctx.request.target);
  if (!result.bad_request.empty()) {
    return Finish(ctx, {Reason::kInvalidRequest, result.bad_request, ""});
  }
  // Reading the audit log is itself audited, with the query searched for.
  return RespondRecorded(
      ctx, ServedRecord(ctx, AuditApi::DescribeQuery(ctx.request.target)),
      std::move(result.response));
}

std::optional<ExplainQuery> RequestPipeline::ApprovalToExplain(
    Context& ctx, const std::string& approval_id, bool privileged,
    std::string& why_not) {
  why_not =
      "explain of an approval is open to the auditor and admin groups and to "
      "the people who may decide it while it is pending";
  if (approvals_ == nullptr) return std::nullopt;
  const Principal& p = *ctx.principal;
  policy::ApprovalResult found = approvals_->service().Get(
      approval_id, {p.name, p.groups, ctx.request_id, p.auth_method == "oidc"},
      privileged);
  if (!found.ok() || !found.approval) return std::nullopt;
  const policy::Approval a =
      approvals_->service().Effective(std::move(*found.approval));
  bool may_decide = false;
  for (const policy::RequiredApproval& r : a.required) {
    for (const std::string& g : r.from_groups) {
      may_decide = may_decide || std::find(p.groups.begin(), p.groups.end(),
                                           g) != p.groups.end();
    }
  }
  may_decide = may_decide && a.status == policy::ApprovalStatus::kPending &&
               a.requester != p.name;
  if (!privileged && !may_decide) return std::nullopt;
  ctx.approval_id = a.id;
  ExplainQuery query{a.requester, a.phone_number, std::nullopt, std::nullopt,
                     std::nullopt};
  const bool configured =
      std::any_of(ctx.access->users.begin(), ctx.access->users.end(),
                  [&](const User& u) { return u.name == a.requester; });
  if (!configured && a.requester_groups) {
    // A person from the provider, judged with the groups their token held
    // when they asked, less any the config no longer declares (a token's
    // undeclared groups count for nothing either).
    const std::vector<std::string> declared =
        DeclaredProviderGroups(*ctx.access);
    query.groups.emplace();
    for (const std::string& g : *a.requester_groups) {
      if (std::binary_search(declared.begin(), declared.end(), g)) {
        query.groups->push_back(g);
      }
    }
  }
  return query;
}

HttpResponse RequestPipeline::ExplainPolicy(Context& ctx) {
  const bool privileged = MayUsePolicyTools(*ctx.access, *ctx.principal);
  const nlohmann::json body =
      nlohmann::json::parse(ctx.request.body, nullptr, false);
  const auto approval_id =
      body.is_object() ? body.find("approval_id") : body.end();
  ExplainResult result;
  if (body.is_object() && approval_id != body.end() &&
      approval_id->is_string()) {
    // An approver may see the trace of a request they may decide, and of no
    // other: the approval names the requester and the number.
    std::string why_not;
    const std::optional<ExplainQuery> query = ApprovalToExplain(
        ctx, approval_id->get<std::string>(), privileged, why_not);
    if (!query) {
      return Finish(ctx, {Reason::kForbidden, std::move(why_not), ""});
    }
    result = ExplainQueryAgainst(*ctx.access, *query, clock_());
  } else if (privileged) {
    result = ExplainFromJson(*ctx.access, ctx.request.body, clock_());
  } else {
    return Finish(ctx,
                  {Reason::kForbidden,
                   "explain is open to the auditor and admin groups only; an "
                   "approver may explain a request they may decide with "
                   "{\"approval_id\": \"...\"}",
                   ""});
  }
  if (!result.error.empty()) {
    return Finish(ctx, {Reason::kInvalidRequest, result.error, ""});
  }
  return RespondRecorded(
      ctx,
      ServedRecord(ctx, "explained the decision for user \"" + result.user +
                            "\" and number " + result.phone_number),
      JsonOk(result.body));
}

}  // namespace agni
