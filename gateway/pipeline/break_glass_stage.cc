// The release pipeline's break-glass stage (DESIGN.md §13), kept apart from
// the straight line in pipeline.cc: after policy said break_glass, the
// release needs its reason; before it is forwarded, its review is stored
// (no review, no release); once it went out, it is counted and announced.
// Fail closed stays: the intent must commit as for any release (Forward()).
// Also /v1/reviews, answered like the approvals API.
#include "gateway/pipeline/request_context.h"
#include "gateway/reviews/review_desk.h"

namespace agni {

std::optional<HttpResponse> RequestPipeline::BreakGlassGate(
    Context& ctx, const policy::Decision& decision) {
  if (reviews_ == nullptr || decision.break_glass_rule == nullptr) {
    return Finish(ctx, {Reason::kPolicyDenied,
                        "rule \"" + decision.rule_id +
                            "\" is a break-glass rule and reviews are not "
                            "enabled on this gateway",
                        decision.rule_id});
  }
  BreakGlassReason reason = CheckBreakGlassReason(ctx.request.release_reason,
                                                  *decision.break_glass_rule);
  if (reason.problem) return Finish(ctx, std::move(*reason.problem));
  ctx.release_reason = std::move(reason.reason);
  ctx.break_glass_rule = decision.break_glass_rule;
  return std::nullopt;
}

HttpResponse RequestPipeline::ForwardBreakGlass(
    Context& ctx, const std::string& upstream_path) {
  const std::optional<policy::Review> review =
      reviews_->Open(*ctx.principal, ctx.request_id, ctx.phone_number,
                     *ctx.break_glass_rule, ctx.release_reason);
  if (!review) {
    return Finish(ctx, {Reason::kAuditUnavailable,
                        "the break-glass review cannot be stored, so the "
                        "release was not forwarded",
                        ""});
  }
  // The release's records name its review.
  ctx.approval_id = review->id;
  HttpResponse response = Forward(ctx, upstream_path);
  const std::optional<audit::ReleaseOutcome> sent = ctx.release_outcome;
  if (!sent || *sent == audit::ReleaseOutcome::kNotSent) {
    reviews_->Withdraw(review->id);
  } else {
    reviews_->Announce(*review);
  }
  return response;
}

HttpResponse RequestPipeline::Reviews(Context& ctx) {
  if (reviews_ == nullptr) {
    return Finish(ctx, {Reason::kNotFound, "no such route", ""});
  }
  const Principal& p = *ctx.principal;
  ReviewReply reply = reviews_->HandleApi(
      {p, ctx.request, ctx.request_id, p.InAnyGroup(ctx.access->auditors)});
  ctx.approval_id = reply.id;
  if (!reply.problem && !reply.read_detail.empty()) {
    // Reading reviews is audited like every other read.
    return RespondRecorded(ctx, ServedRecord(ctx, std::move(reply.read_detail)),
                           std::move(reply.response));
  }
  if (!reply.problem) return Respond(ctx, std::move(reply.response));
  const bool action = ctx.request.target.find("/ack") != std::string::npos;
  const Reason reason = reply.problem->reason;
  HttpResponse r = Finish(ctx, std::move(*reply.problem));
  if (reason == Reason::kMethodNotAllowed) {
    // Finish() names the release route's method; this route has its own.
    for (auto& [name, value] : r.headers) {
      if (name == "Allow") value = action ? "POST" : "GET";
    }
  }
  return r;
}

}  // namespace agni
