#include "gateway/pipeline/pipeline.h"

#include "gateway/pipeline/request_context.h"

#include <exception>

#include <nlohmann/json.hpp>

#include "audit/fingerprint.h"
#include "base/ascii.h"
#include "base/crypto.h"
#include "gateway/approvals/approvals_api.h"
#include "gateway/pipeline/audit_api.h"
#include "gateway/pipeline/policy_tools.h"
#include "gateway/pipeline/rejection_ledger.h"
#include "gateway/pipeline/release_target.h"

namespace agni {
namespace {

constexpr std::string_view kWhoAmIPath = "/v1/whoami";
constexpr std::string_view kExplainPath = "/v1/policy/explain";
constexpr std::size_t kMaxAuditedPath = 256;

std::string_view AllowedMethod(Route route) {
  switch (route) {
    case Route::kRelease: return "DELETE";
    case Route::kExplain: return "POST";
    default: return "GET";
  }
}

// A client-supplied request id is kept only when it is a short token of safe
// characters; anything else (CR/LF, quotes, spaces) is replaced.
bool IsSaneRequestId(std::string_view id) {
  return IsAsciiWord(id, 128, "-_.:");
}

// The path as the audit records it: no query string (it may carry secrets a
// client put there by mistake), non-printable bytes escaped, length bounded.
std::string AuditedPath(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  std::string out;
  for (unsigned char c : path.substr(0, kMaxAuditedPath)) {
    if (c > 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  if (path.size() > kMaxAuditedPath) out += "...";
  return out;
}

// The target with every path segment that is some user's token replaced,
// so a client that put its token in the URL does not get it into the audit.
std::string RedactKnownTokens(std::string_view target,
                              const Authenticator& auth) {
  std::string out;
  const std::string_view path = target.substr(0, target.find('?'));
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    out += auth.IsKnownToken(segment) ? "[REDACTED]" : std::string(segment);
    if (end < path.size()) out.push_back('/');
    start = end + 1;
  }
  out += target.substr(path.size());
  return out;
}

// The principal's part of a record's detail (a JWT's iss and jti) and the
// stage's, in that order.
std::string JoinDetail(const std::string& principal_part,
                       const std::string& stage_part) {
  if (principal_part.empty()) return stage_part;
  if (stage_part.empty()) return principal_part;
  return principal_part + "; " + stage_part;
}

std::string_view MethodForAudit(std::string_view method) {
  static constexpr std::string_view kKnown[] = {"GET",     "HEAD",   "POST",
                                                "PUT",     "DELETE", "PATCH",
                                                "OPTIONS", "TRACE",  "CONNECT"};
  for (std::string_view m : kKnown) {
    if (method == m) return m;
  }
  return "OTHER";
}

// Reads `success` from an Agni envelope without trusting its shape.
bool UpstreamReportsFailure(const std::string& body) {
  // JSON can only say false with the literal `false`; without it there is
  // nothing to parse (the usual success body).
  if (body.find("false") == std::string::npos) return false;
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  auto it = j.find("success");
  return it != j.end() && it->is_boolean() && !it->get<bool>();
}

// An upstream call that brought no response: the reason the client gets and
// the `outcome` label of agni_gateway_upstream_requests_total.
struct UpstreamFailure {
  UpstreamResponse::Kind kind;
  Reason reason;
  std::string_view metric;
};
constexpr UpstreamFailure kUpstreamFailures[] = {
    {UpstreamResponse::Kind::kUnreachable, Reason::kUpstreamUnreachable,
     "unreachable"},
    {UpstreamResponse::Kind::kTls, Reason::kUpstreamTls, "tls"},
    {UpstreamResponse::Kind::kTimeout, Reason::kUpstreamTimeout, "timeout"},
    {UpstreamResponse::Kind::kBadResponse, Reason::kUpstreamBadResponse,
     "bad_response"},
};

// Rejections of callers without identity that the rejection ledger may count
// into summary records under a flood (gateway/pipeline/rejection_ledger.h):
// 401s, the 503 `overloaded` an unauthenticated caller gets when the
// listener is full, and the 400 `invalid_request` of an HTTP/1.1 request
// without one Host header sent without a valid credential. By code, so a reason
// added elsewhere joins without another edit.
bool SummarizedWithoutIdentity(Reason reason) {
  const std::string_view code = ReasonCode(reason);
  return code == "unauthenticated" || code == "overloaded" ||
         code == "invalid_request";
}

}  // namespace

RequestPipeline::RequestPipeline(std::shared_ptr<const AccessSnapshot> access,
                                 Collaborators with)
    : access_(std::move(access)),
      audit_(with.audit),
      upstream_(with.upstream),
      metrics_(with.metrics),
      log_(with.log),
      max_in_flight_(with.max_in_flight),
      approvals_(with.approvals),
      audit_api_(with.audit_api),
      rejections_(with.rejections),
      clock_(with.clock ? std::move(with.clock)
                        : [] { return std::chrono::system_clock::now(); }),
      console_(with.console),
      sign_in_(with.sign_in),
      reviews_(with.reviews) {}

std::shared_ptr<const AccessSnapshot> RequestPipeline::Access() const {
  std::lock_guard lock(access_mu_);
  return access_;
}

void RequestPipeline::ReplaceAccess(
    std::shared_ptr<const AccessSnapshot> access) {
  std::lock_guard lock(access_mu_);
  access_ = std::move(access);
}

namespace {

// The client's request id when it is sane, else a new one.
std::string RequestIdFor(const HttpRequest& request,
                         const AccessSnapshot& access) {
  const bool client_request_id = request.request_id.size() == 1 &&
                                 IsSaneRequestId(request.request_id.front());
  if (!client_request_id) return NewRequestId();
  // A token sent as the request id would be echoed, audited and forwarded.
  if (access.authenticator.IsKnownToken(request.request_id.front())) {
    return NewRequestId();
  }
  return request.request_id.front();
}

}  // namespace

HttpResponse RequestPipeline::Overloaded(const HttpRequest& request) {
  Context ctx(request, Access());
  ctx.request_id = RequestIdFor(request, *ctx.access);
  ctx.retry_after = std::chrono::seconds(1);
  // Who was turned away, when the credential says (a hash and compare; no
  // further stage runs).
  std::vector<std::string_view> authz(request.authorization.begin(),
                                      request.authorization.end());
  std::vector<std::string_view> keys(request.api_key.begin(),
                                     request.api_key.end());
  ctx.principal =
      ctx.access->authenticator.Authenticate({authz, keys}).principal;
  return Finish(ctx, {Reason::kOverloaded,
                      "the gateway is serving as many connections as it "
                      "may; retry shortly",
                      ""});
}

HttpResponse RequestPipeline::Handle(const HttpRequest& request) {
  Context ctx(request, Access());
  ctx.request_id = RequestIdFor(request, *ctx.access);

  const ReleaseTarget target = ParseReleaseTarget(request.target);
  const std::string_view path =
      std::string_view(request.target).substr(0, request.target.find('?'));
  if (target.kind != ReleaseTarget::Kind::kOtherRoute) {
    ctx.route = Route::kRelease;
  } else if (path == kWhoAmIPath) {
    ctx.route = Route::kWhoAmI;
  } else if (audit_api_ && AuditApi::Handles(path)) {
    ctx.route = Route::kAudit;
  } else if (path == "/v1/approvals" || path.starts_with("/v1/approvals/")) {
    ctx.route = Route::kApprovals;
  } else if (path == kExplainPath) {
    ctx.route = Route::kExplain;
  } else if (path == "/v1/reviews" || path.starts_with("/v1/reviews/")) {
    ctx.route = Route::kReviews;
  } else if (console_ != nullptr && path == "/v1/session") {
    ctx.route = Route::kSession;
  } else if (console_ != nullptr &&
             (path == "/ui" || path.starts_with("/ui/"))) {
    ctx.route = Route::kConsole;
  }
  if (ctx.route == Route::kConsole) return ConsolePage(ctx, path);
  if (ctx.route == Route::kSession && request.method == "POST") {
    return SignIn(ctx);
  }

  // Authenticate.
  std::vector<std::string_view> authz(request.authorization.begin(),
                                      request.authorization.end());
  std::vector<std::string_view> keys(request.api_key.begin(),
                                     request.api_key.end());
  const bool too_large = request.authorization_too_large;
  AuthResult auth = ctx.access->authenticator.Authenticate(
      {authz, keys, too_large}, clock_());
  if (!authz.empty() || !keys.empty() || too_large) {
    metrics_.CountAuth(auth.method, auth.result);
  }
  if (!auth.principal && authz.empty() && keys.empty() && !too_large &&
      !request.client_certificate_user.empty()) {
    auth.principal =
        ctx.access->authenticator.FindUser(request.client_certificate_user);
  }
  if (!auth.principal && authz.empty() && keys.empty() && !too_large &&
      request.client_certificate_user.empty() && console_ != nullptr) {
    AuthenticateSession(ctx, auth);
  }
  // RFC 9112 section 3.2: an HTTP/1.1 request with no Host header, or more
  // than one, is answered 400 whoever sends it (audited under the caller's
  // name when the credential is valid).
  if (request.version == "HTTP/1.1" && request.host.size() != 1) {
    ctx.principal = std::move(auth.principal);
    return Finish(ctx,
                  {Reason::kInvalidRequest,
                   "an HTTP/1.1 request needs exactly one Host header", ""});
  }
  if (!auth.principal) {
    ctx.credential_fingerprint = audit::CredentialFingerprint(
        ctx.access->fingerprint_key,
        audit::PresentedCredential(request.authorization, request.api_key));
    return Finish(ctx, {Reason::kUnauthenticated, auth.failure, ""});
  }
  ctx.principal = std::move(auth.principal);
  if (std::optional<HttpResponse> refused = CheckSessionCsrf(ctx)) {
    return std::move(*refused);
  }

  // Route.
  if (ctx.route == Route::kSession) return SessionRoute(ctx);
  if (ctx.route == Route::kOther ||
      (ctx.route == Route::kApprovals && approvals_ == nullptr)) {
    return Finish(ctx, {Reason::kNotFound, "no such route", ""});
  }
  if (ctx.route == Route::kApprovals) return Approvals(ctx);
  if (ctx.route == Route::kReviews) return Reviews(ctx);
  const std::string_view allowed = AllowedMethod(ctx.route);
  if (request.method != allowed) {
    return Finish(ctx,
                  {Reason::kMethodNotAllowed,
                   "this route accepts " + std::string(allowed) + " only", ""});
  }
  if (ctx.route == Route::kExplain) return ExplainPolicy(ctx);
  if (request.has_body) {
    return Finish(
        ctx, {Reason::kInvalidRequest, "this route takes no request body", ""});
  }
  if (ctx.route == Route::kWhoAmI) return WhoAmI(ctx);
  if (ctx.route == Route::kAudit) return AuditRead(ctx);
  if (target.kind == ReleaseTarget::Kind::kInvalidNumber) {
    return Finish(ctx, {Reason::kInvalidPhoneNumber, target.problem, ""});
  }
  return Release(ctx, target.phone_number, target.upstream_path);
}

HttpResponse RequestPipeline::Release(Context& ctx,
                                      const std::string& phone_number,
                                      const std::string& upstream_path) {
  ctx.phone_number = phone_number;

  // Policy.
  const auto now = clock_();
  const policy::Decision decision = policy::Evaluate(
      *ctx.access->policy,
      MakePolicyRequest(*ctx.access, *ctx.principal, phone_number, now,
                        ClientAddressOf(*ctx.access, ctx.request)));
  ctx.decision = decision.effect;
  ctx.rule_id = decision.rule_id;
  metrics_.CountDecision(policy::EffectName(decision.effect), "enforce");
  if (decision.shadow_matched) {
    ctx.shadow = std::string(policy::EffectName(decision.shadow_effect)) + ":" +
                 decision.shadow_rule_id;
    metrics_.CountDecision(policy::EffectName(decision.shadow_effect),
                           "shadow");
  }
  // A consumed approval is given back on every way out that did not (or
  // could not) reach the upstream, whatever refused the release.
  struct GiveBackApproval {
    RequestPipeline& p;
    Context& ctx;
    ~GiveBackApproval() {
      if (!ctx.approval_consumed || ctx.approval_may_be_sent) return;
      const std::string why =
          ctx.reason.empty() ? "not_sent" : std::string(ctx.reason);
      p.RestoreApproval(ctx, std::uncaught_exceptions() > 0 ? "error" : why);
    }
  } give_back{*this, ctx};
  if (decision.effect == policy::Effect::kRequireApproval) {
    if (std::optional<HttpResponse> early = ApprovalGate(ctx, decision)) {
      return std::move(*early);
    }
  } else if (decision.effect == policy::Effect::kBreakGlass) {
    if (std::optional<HttpResponse> early = BreakGlassGate(ctx, decision)) {
      return std::move(*early);
    }
  } else if (decision.effect != policy::Effect::kAllow) {
    return Finish(ctx, {Reason::kPolicyDenied,
                        "denied by policy rule \"" + decision.rule_id + "\"",
                        decision.rule_id});
  }

  if (draining_) {
    return Finish(ctx, {Reason::kShuttingDown,
                        "the gateway is shutting down; retry shortly", ""});
  }

  // Velocity limits: the release is counted from here, so concurrent
  // requests cannot overshoot together; it is uncounted below unless it was
  // (or may have been) released. Denials above never count.
  const policy::VelocityLimiter::Verdict verdict =
      limiter_.Admit(ctx.access->policy->limits, ctx.principal->name,
                     ctx.principal->groups, now);
  if (!verdict.admitted) {
    metrics_.CountRateLimited(verdict.limit_id);
    ctx.retry_after = verdict.retry_after;
    return Finish(ctx, {Reason::kRateLimited,
                        "velocity limit \"" + verdict.limit_id +
                            "\" reached; retry after " +
                            std::to_string(verdict.retry_after.count()) + "s",
                        ""});
  }
  ctx.limit_ticket = verdict.ticket;
  // Settled on every way out: kept for a release that went (or may have
  // gone) out, and when an exception leaves its fate unknown.
  struct SettleTicket {
    policy::VelocityLimiter& limiter;
    const Context& ctx;
    ~SettleTicket() {
      using audit::ReleaseOutcome;
      const std::optional<ReleaseOutcome> o = ctx.release_outcome;
      limiter.Settle(ctx.limit_ticket, o == ReleaseOutcome::kReleased ||
                                           o == ReleaseOutcome::kUnknown ||
                                           std::uncaught_exceptions() > 0);
    }
  } settle{limiter_, ctx};

  // Single flight: one release of a number at a time.
  SingleFlight::Lease lease = in_flight_.TryAcquire(phone_number);
  if (!lease) {
    return Finish(ctx, {Reason::kReleaseInFlight,
                        "another release of this number is in flight", ""});
  }

  // Bounded upstream concurrency: a slow upstream holds at most this many
  // releases; the rest are refused at once instead of piling up.
  if (upstream_calls_.fetch_add(1) >= max_in_flight_) {
    upstream_calls_.fetch_sub(1);
    ctx.retry_after = std::chrono::seconds(1);
    return Finish(ctx, {Reason::kOverloaded,
                        "the gateway is forwarding as many releases as it "
                        "may (upstream.max_in_flight); retry shortly",
                        ""});
  }
  metrics_.SetUpstreamInFlight(static_cast<double>(upstream_calls_.load()));
  struct UpstreamSlot {
    RequestPipeline& p;
    ~UpstreamSlot() {
      p.metrics_.SetUpstreamInFlight(
          static_cast<double>(p.upstream_calls_.fetch_sub(1) - 1));
    }
  } upstream_slot{*this};
  if (ctx.break_glass_rule != nullptr) {
    return ForwardBreakGlass(ctx, upstream_path);
  }
  return Forward(ctx, upstream_path);
}

HttpResponse RequestPipeline::Forward(Context& ctx,
                                      const std::string& upstream_path) {
  // Intent: durable before a single byte goes upstream (fail closed).
  audit::Record intent = BaseRecord(ctx, audit::Stage::kIntent);
  if (!ctx.release_reason.empty()) {
    intent.detail = std::string("release reason: ") + ctx.release_reason;
  }
  const audit::AppendResult committed = audit_.Append(std::move(intent));
  if (!committed.ok) {
    log_.Error("audit intent not committed; release refused",
               {{"request_id", ctx.request_id}, {"error", committed.error}});
    return Finish(ctx, {Reason::kAuditUnavailable,
                        "the audit log cannot record this release, so it "
                        "was not forwarded",
                        ""});
  }
  if (ctx.approval_consumed &&
      !approvals_->ConfirmExecuted(ctx.approval_id, *ctx.principal,
                                   ctx.request_id)) {
    // The intent stands without a release: close it as not sent.
    audit::Record not_sent = BaseRecord(ctx, audit::Stage::kOutcome);
    not_sent.intent_seq = committed.seq;
    not_sent.reason = ReasonCode(Reason::kAuditUnavailable);
    not_sent.response_status = ReasonStatus(Reason::kAuditUnavailable);
    not_sent.outcome = audit::OutcomeName(audit::ReleaseOutcome::kNotSent);
    audit_.Append(std::move(not_sent));
    return Finish(ctx, {Reason::kAuditUnavailable,
                        "the audit log cannot record the approval's "
                        "execution, so the release was not forwarded",
                        ""});
  }

  ctx.approval_may_be_sent = true;
  const UpstreamResponse up = upstream_.Release(upstream_path, ctx.request_id);
  ctx.approval_may_be_sent =
      up.request_sent || up.kind == UpstreamResponse::Kind::kResponse;

  audit::Record outcome = BaseRecord(ctx, audit::Stage::kOutcome);
  outcome.intent_seq = committed.seq;
  outcome.upstream_latency_us =
      std::chrono::duration_cast<std::chrono::microseconds>(up.latency).count();
  HttpResponse response;
  Reason reason = Reason::kNone;
  std::string_view metric_outcome;
  using Kind = UpstreamResponse::Kind;
  switch (up.kind) {
    case Kind::kResponse: {
      const bool ok = up.status >= 200 && up.status < 300 &&
                      !UpstreamReportsFailure(up.body);
      outcome.upstream_status = up.status;
      ctx.release_outcome = ok ? audit::ReleaseOutcome::kReleased
                               : audit::ReleaseOutcome::kRejectedByUpstream;
      metric_outcome = ok ? "success" : "rejected";
      response.status = up.status;
      response.content_type =
          up.content_type.empty() ? "application/json" : up.content_type;
      response.body = up.body;
      break;
    }
    default:
      // A kind missing from the table counts as a bad response (fail closed).
      reason = Reason::kUpstreamBadResponse;
      metric_outcome = "bad_response";
      for (const UpstreamFailure& f : kUpstreamFailures) {
        if (f.kind == up.kind) {
          reason = f.reason;
          metric_outcome = f.metric;
        }
      }
      break;
  }
  metrics_.ObserveUpstream(metric_outcome, up.latency);
  if (reason != Reason::kNone) {
    ctx.reason = ReasonCode(reason);
    ctx.release_outcome = up.request_sent ? audit::ReleaseOutcome::kUnknown
                                          : audit::ReleaseOutcome::kNotSent;
    outcome.reason = ReasonCode(reason);
    outcome.detail = JoinDetail(outcome.detail, up.error);
    std::string detail = up.request_sent
                             ? "the release was sent but no valid answer came "
                               "back; its outcome is unknown and it was not "
                               "retried"
                             : "the release was not sent to the upstream";
    response.status = ReasonStatus(reason);
    response.content_type = kProblemContentType;
    response.body =
        ProblemJson({reason, std::move(detail), ""}, ctx.request_id);
  }
  outcome.response_status = response.status;
  outcome.outcome = audit::OutcomeName(*ctx.release_outcome);

  // The answer does not depend on the outcome's commit, only waits for it:
  // the upstream has acted, and the client must learn what happened even if
  // the commit fails (the intent then stays open and is closed as "unknown"
  // at the next start).
  auto recorded = [this, request_id = ctx.request_id,
                   intent_seq = committed.seq](const audit::AppendResult& r) {
    if (r.ok) return;
    log_.Error("audit outcome not committed", {{"request_id", request_id},
                                               {"intent_seq", intent_seq},
                                               {"error", r.error}});
  };
  // Where the connection can hold the answer, whoever commits the outcome
  // sends it, and this thread goes back to its client instead of sleeping
  // until the commit is done (a sleep and a wake-up per release;
  // BENCHMARKS.md, issue 20). The request's metric and log line follow the
  // answer, as they do when this thread waits.
  AnswerRelease release;
  if (ctx.request.hold_answer) release = ctx.request.hold_answer();
  if (!release) {
    recorded(audit_.Append(std::move(outcome)));
    return Respond(ctx, std::move(response));
  }
  Decorate(ctx.request_id, response);
  audit_.AppendThen(
      std::move(outcome),
      [recorded, release,
       answered = Answered(ctx, response.status)](audit::AppendResult r) {
        recorded(r);
        release(std::nullopt);
        answered(std::nullopt);
      });
  return response;
}

std::optional<HttpResponse> RequestPipeline::ApprovalGate(
    Context& ctx, const policy::Decision& decision) {
  if (approvals_ == nullptr) {
    return Finish(ctx, {Reason::kPolicyDenied,
                        "rule \"" + decision.rule_id +
                            "\" requires approval and approvals are not "
                            "enabled on this gateway",
                        decision.rule_id});
  }
  const ApprovalCall call{*ctx.principal, ctx.request, ctx.request_id,
                          ctx.access->members, false};
  ReleaseGate gate =
      approvals_->OnRelease(call, ctx.phone_number, decision.approval_rules,
                            ctx.access->policy->hash);
  ctx.approval_id = gate.approval_id;
  ctx.release_reason = std::move(gate.release_reason);
  switch (gate.kind) {
    case ReleaseGate::Kind::kProceed:
      ctx.approval_consumed = true;
      return std::nullopt;
    case ReleaseGate::Kind::kProblem:
      return Finish(ctx, std::move(gate.problem));
    case ReleaseGate::Kind::kAccepted: break;
  }
  audit::Record record = BaseRecord(ctx, audit::Stage::kDecision);
  record.reason = "approval_required";
  record.response_status = gate.accepted.status;
  if (!ctx.release_reason.empty()) {
    record.detail = std::string("release reason: ") + ctx.release_reason;
  }
  return RespondRecorded(ctx, std::move(record), std::move(gate.accepted));
}

void RequestPipeline::RestoreApproval(Context& ctx, const std::string& why) {
  if (approvals_ != nullptr && !ctx.approval_id.empty()) {
    approvals_->RestoreUnsent(ctx.approval_id, *ctx.principal, ctx.request_id,
                              why);
  }
}

audit::Record RequestPipeline::BaseRecord(const Context& ctx,
                                          audit::Stage stage) const {
  audit::Record r;
  r.stage = stage;
  r.request_id = ctx.request_id;
  if (ctx.principal) {
    r.principal = ctx.principal->name;
    if (ctx.groups_json.empty()) {
      ctx.groups_json = nlohmann::json(ctx.principal->groups).dump();
    }
    r.groups = ctx.groups_json;
    r.auth_method = ctx.principal->auth_method;
    r.detail = ctx.principal->audit_detail;
  }
  r.peer = ctx.request.peer;
  r.method = MethodForAudit(ctx.request.method);
  if (ctx.audited_path.empty()) {
    ctx.audited_path = AuditedPath(
        RedactKnownTokens(ctx.request.target, ctx.access->authenticator));
  }
  r.path = ctx.audited_path;
  r.phone_number = ctx.phone_number;
  if (ctx.decision) r.decision = policy::EffectName(*ctx.decision);
  r.rule_id = ctx.rule_id;
  r.shadow = ctx.shadow;
  r.approval_id = ctx.approval_id;
  if (ctx.access->policy) r.policy_hash = ctx.access->policy->hash;
  return r;
}

HttpResponse RequestPipeline::Finish(Context& ctx, Problem problem) {
  // A caller without identity, past its burst: counted into a summary record.
  ctx.summarized =
      !ctx.principal && SummarizedWithoutIdentity(problem.reason) &&
      rejections_ != nullptr &&
      !rejections_->Admit(ctx.request.peer, ReasonCode(problem.reason),
                          ReasonStatus(problem.reason),
                          ctx.credential_fingerprint);
  std::optional<audit::Record> record;
  if (problem.reason != Reason::kAuditUnavailable && !ctx.summarized) {
    record = BaseRecord(ctx, audit::Stage::kDecision);
    if (!ctx.decision)
      record->decision = policy::EffectName(policy::Effect::kDeny);
    record->reason = ReasonCode(problem.reason);
    record->response_status = ReasonStatus(problem.reason);
    record->detail = JoinDetail(record->detail, problem.detail);
    if (!ctx.credential_fingerprint.empty()) {
      record->detail += "; credential " + ctx.credential_fingerprint;
    }
  }
  ctx.reason = ReasonCode(problem.reason);
  HttpResponse r;
  r.status = ReasonStatus(problem.reason);
  r.content_type = kProblemContentType;
  r.body = ProblemJson(problem, ctx.request_id);
  if (problem.reason == Reason::kUnauthenticated) {
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"agni-gateway\"");
  } else if (problem.reason == Reason::kMethodNotAllowed) {
    r.headers.emplace_back("Allow", std::string(AllowedMethod(ctx.route)));
  } else if (problem.reason == Reason::kRateLimited ||
             problem.reason == Reason::kOverloaded) {
    r.headers.emplace_back("Retry-After",
                           std::to_string(ctx.retry_after.count()));
  }
  if (record) return RespondRecorded(ctx, std::move(*record), std::move(r));
  return Respond(ctx, std::move(r));
}

HttpResponse RequestPipeline::Respond(Context& ctx, HttpResponse response) {
  Decorate(ctx.request_id, response);
  CountAnswer({RouteName(ctx.route), ctx.started, response.status,
               !ctx.summarized, ctx.request_id,
               MethodForAudit(ctx.request.method), ctx.reason,
               ctx.principal ? std::string_view(ctx.principal->name)
                             : std::string_view()});
  return response;
}

void RequestPipeline::Decorate(std::string_view request_id,
                               HttpResponse& response) {
  response.headers.emplace_back("X-Request-Id", request_id);
  response.headers.emplace_back("Cache-Control", "no-store");
}

void RequestPipeline::CountAnswer(const AnswerFacts& a) {
  const auto elapsed = std::chrono::steady_clock::now() - a.started;
  metrics_.ObserveRequest(a.route, a.status, elapsed);
  if (a.logged) {
    log_.Request(a.request_id, a.route, a.method, a.status, a.reason,
                 std::chrono::duration<double>(elapsed).count(), a.user);
  }
}

std::function<void(std::optional<Reason>)> RequestPipeline::Answered(
    const Context& ctx, int status) {
  // Copies: the closure outlives the request.
  return [this, route = RouteName(ctx.route), started = ctx.started, status,
          logged = !ctx.summarized, request_id = ctx.request_id,
          method = std::string(MethodForAudit(ctx.request.method)),
          reason = std::string(ctx.reason),
          user = ctx.principal ? ctx.principal->name
                               : std::string()](std::optional<Reason> instead) {
    if (instead) {
      CountAnswer({route, started, ReasonStatus(*instead), logged, request_id,
                   method, ReasonCode(*instead), user});
      return;
    }
    CountAnswer(
        {route, started, status, logged, request_id, method, reason, user});
  };
}

}  // namespace agni
