// The main listener's routes other than the release: whoami, the audit log's
// read API, the approvals API and policy explain. Each authenticates through
// Handle() (pipeline.cc) and ends in Finish() or RespondRecorded(), so every
// answer has its audit record before it leaves.
#include <nlohmann/json.hpp>

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
  if (const audit::AppendResult committed = audit_.Append(std::move(record));
      !committed.ok) {
    log_.Error("audit record not committed",
               {{"request_id", ctx.request_id}, {"error", committed.error}});
    return Finish(ctx, {Reason::kAuditUnavailable,
                        "the audit log cannot record this request", ""});
  }
  return Respond(ctx, std::move(response));
}

HttpResponse RequestPipeline::Approvals(Context& ctx) {
  const Principal& p = *ctx.principal;
  ApprovalReply reply = approvals_->HandleApi(
      {p, ctx.request, ctx.request_id, ctx.access->members,
       p.InAnyGroup(ctx.access->auditors), p.InAnyGroup(ctx.access->admins)});
  ctx.approval_id = reply.approval_id;
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

HttpResponse RequestPipeline::ExplainPolicy(Context& ctx) {
  if (!MayUsePolicyTools(*ctx.access, *ctx.principal)) {
    return Finish(ctx,
                  {Reason::kForbidden,
                   "explain is open to the auditor and admin groups only", ""});
  }
  const ExplainResult result =
      ExplainFromJson(*ctx.access, ctx.request.body, clock_());
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
