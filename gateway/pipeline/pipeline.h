// The request pipeline of the main listener, stage after stage:
//
//   request id -> authenticate -> route + parse -> policy -> single flight
//     -> audit intent (durable) -> forward -> audit outcome -> respond
//
// Every request ends in Finish(), which writes exactly one audit record for a
// request the gateway answered itself (or the intent/outcome pair for one it
// forwarded) and counts it once. Nothing is forwarded unless its intent record
// has committed.
//
// Thread-safe: the handler's collaborators are thread-safe and the snapshot of
// users and policy is immutable.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "audit/store.h"
#include "gateway/auth/authenticator.h"
#include "gateway/config/config.h"
#include "gateway/console/provider_sign_in.h"
#include "gateway/http/http_types.h"
#include "gateway/ops/log.h"
#include "gateway/ops/metrics.h"
#include "gateway/pipeline/problem.h"
#include "gateway/pipeline/single_flight.h"
#include "gateway/upstream/upstream_client.h"
#include "policies/approvals.h"
#include "policies/engine.h"
#include "policies/limits.h"

namespace agni {

class AuditApi;
struct ExplainQuery;
class ConsoleSessions;
class ApprovalsGateway;
class RejectionLedger;
class ReviewDesk;

// Users and policy as one immutable unit, so a request never sees a new
// policy with old users. Replaced whole on reload.
struct AccessSnapshot {
  // `identity`: the verifier of config.identity, built and started by the
  // embedder (null: Bearer JWTs are not accepted).
  explicit AccessSnapshot(
      const Config& config,
      std::shared_ptr<const IdentityVerifier> identity = nullptr)
      : authenticator(config.users, identity),
        policy(config.policy),
        auditors(config.auditors),
        fingerprint_key(config.audit.fingerprint_key),
        admins(config.admins),
        inventory(std::make_shared<const Inventory>(config.inventory)),
        trusted_proxies(config.trusted_proxies),
        users(config.users),
        identity_verifier(std::move(identity)),
        sign_in_providers(SignInProviders(config.identity)) {
    for (const User& u : config.users) members.push_back({u.name, u.groups});
    AddIdentityProviderMembers(config, members);
  }
  Authenticator authenticator;
  std::shared_ptr<const policy::Policy> policy;
  std::vector<std::string> auditors;
  std::vector<policy::Member> members;  // who may approve, for approvals
  std::string fingerprint_key;          // audit.fingerprint_key_file's bytes
  std::vector<std::string> admins;
  std::shared_ptr<const Inventory> inventory;
  std::vector<policy::Cidr> trusted_proxies;
  std::vector<User> users;  // for explaining a decision about another user
  // The console's sign-in at a provider verifies ID tokens with it (null
  // without identity.oidc).
  std::shared_ptr<const IdentityVerifier> identity_verifier;
  // identity.oidc entries with a client_id: "Sign in with <name>".
  std::vector<OidcIssuerConfig> sign_in_providers;
};

class RequestPipeline {
 public:
  // What the pipeline works with besides users and policy. The references
  // are required; each pointer is an optional feature, null when the
  // embedder leaves it out. Everything named must outlive the pipeline.
  struct Collaborators {
    audit::AuditSink& audit;
    UpstreamClient& upstream;
    Metrics& metrics;
    const Logger& log;
    // Releases forwarded at once (upstream.max_in_flight); past it a release
    // is answered 503 `overloaded` before anything is recorded as an intent.
    std::size_t max_in_flight = 256;
    // Audits 401s under a flood in bounded space
    // (gateway/pipeline/rejection_ledger.h). Null: every 401 gets a record
    // of its own.
    RejectionLedger* rejections = nullptr;
    // Serves GET /v1/audit and /v1/audit/head to auditors. Null: 404.
    AuditApi* audit_api = nullptr;
    // Enables require_approval rules and /v1/approvals. Null:
    // require_approval rules deny (fail closed) and /v1/approvals is 404.
    ApprovalsGateway* approvals = nullptr;
    // The wall clock for time windows and limits (tests move it). Empty: the
    // system clock.
    std::function<std::chrono::system_clock::time_point()> clock;
    // The web console: /ui/ and cookie sessions (/v1/session). Null: both
    // are 404 and a session cookie authenticates nothing.
    ConsoleSessions* console = nullptr;
    // The console's sign-in at an identity provider (/ui/login,
    // /ui/callback). Null: both are 404.
    ProviderSignIn* sign_in = nullptr;
    // Enables break_glass rules and /v1/reviews. Null: break_glass rules
    // deny (fail closed) and /v1/reviews is 404.
    ReviewDesk* reviews = nullptr;
  };

  RequestPipeline(std::shared_ptr<const AccessSnapshot> access,
                  Collaborators with);

  HttpResponse Handle(const HttpRequest& request);
  // The answer for a connection that came past the listener's queue: 503
  // `overloaded` with Retry-After, audited like any other refusal, without
  // running the pipeline's stages.
  HttpResponse Overloaded(const HttpRequest& request);

  // After this, new releases get 503 shutting_down.
  void StartDraining() { draining_ = true; }
  bool draining() const { return draining_; }

  void ReplaceAccess(std::shared_ptr<const AccessSnapshot> access);
  // False while an identity provider's keys have not loaded (/readyz).
  bool IdentityReady() const { return Access()->authenticator.IdentityReady(); }

  // Release counts for the velocity limits; outlives every reload. Seeded at
  // start-up from the audit log.
  policy::VelocityLimiter& limiter() { return limiter_; }

 private:
  struct Context;

  HttpResponse Release(Context& ctx, const std::string& phone_number,
                       const std::string& upstream_path);
  HttpResponse WhoAmI(Context& ctx);
  HttpResponse AuditRead(Context& ctx);
  HttpResponse Approvals(Context& ctx);
  // require_approval: a response to send now, or nullopt to go on and forward
  // (the approval was consumed).
  std::optional<HttpResponse> ApprovalGate(Context& ctx,
                                           const policy::Decision& decision);
  // A consumed approval whose release is not sent becomes usable again.
  void RestoreApproval(Context& ctx, const std::string& why);
  HttpResponse ExplainPolicy(Context& ctx);
  // POST /v1/policy/explain {"approval_id"}: the approval's requester and
  // number when the caller is `privileged` (auditor or admin) or may decide
  // it (pending, not theirs, their groups meet one of its requirements);
  // else nullopt and `why_not`.
  std::optional<ExplainQuery> ApprovalToExplain(Context& ctx,
                                                const std::string& approval_id,
                                                bool privileged,
                                                std::string& why_not);
  // The web console (session_routes.cc): its pages, sign-in, the session
  // behind a cookie, sign-out.
  HttpResponse ConsolePage(Context& ctx, std::string_view path);
  HttpResponse SignIn(Context& ctx);
  // The principal of the request's session cookie into `auth` (or why
  // not into its failure); for a request with no other credential.
  void AuthenticateSession(Context& ctx, AuthResult& auth);
  // 403 csrf for a state change made with the cookie without its proof.
  std::optional<HttpResponse> CheckSessionCsrf(Context& ctx);
  HttpResponse SessionRoute(Context& ctx);
  // session_routes.cc: the providers offered, and the sign-in's two legs.
  HttpResponse SignInProviderList(Context& ctx);
  HttpResponse StartProviderSignIn(Context& ctx);
  HttpResponse ProviderCallback(Context& ctx);
  HttpResponse Forward(Context& ctx, const std::string& upstream_path);
  // Break-glass (break_glass_stage.cc): the reason check after policy, the
  // review opened before forwarding and announced after, /v1/reviews.
  std::optional<HttpResponse> BreakGlassGate(Context& ctx,
                                             const policy::Decision& decision);
  HttpResponse ForwardBreakGlass(Context& ctx,
                                 const std::string& upstream_path);
  HttpResponse Reviews(Context& ctx);
  // The one exit for answers the gateway generates itself.
  HttpResponse Finish(Context& ctx, Problem problem);
  HttpResponse Respond(Context& ctx, HttpResponse response);
  // The headers every answer carries.
  static void Decorate(std::string_view request_id, HttpResponse& response);
  // What the request metric and log line of an answered request say.
  struct AnswerFacts {
    std::string_view route;
    std::chrono::steady_clock::time_point started;
    int status;
    bool logged;  // false: counted by the rejection ledger instead
    std::string_view request_id, method, reason, user;
  };
  // Observes the request's duration up to now and writes its log line.
  void CountAnswer(const AnswerFacts& answer);
  // CountAnswer() for the request answered with `status`, with what `ctx`
  // says now, when called (once, from any thread): a held answer's, once
  // it is sent. Given a reason, for the answer of that reason instead.
  std::function<void(std::optional<Reason> instead)> Answered(
      const Context& ctx, int status);
  // The one exit for an answer that may leave only once its audit record
  // has committed; else 503 audit_unavailable. Where the connection can
  // hold the answer, whoever commits the record sends it, and this thread
  // goes back to its client instead of sleeping until the commit is done (a
  // sleep and a wake-up per request; BENCHMARKS.md, issue 20).
  HttpResponse RespondRecorded(Context& ctx, audit::Record record,
                               HttpResponse response);
  audit::Record BaseRecord(const Context& ctx, audit::Stage stage) const;
  // The record of a read that was served (whoami, audit, explain).
  audit::Record ServedRecord(Context& ctx, std::string detail) const;
  std::shared_ptr<const AccessSnapshot> Access() const;

  mutable std::mutex access_mu_;
  std::shared_ptr<const AccessSnapshot> access_;
  audit::AuditSink& audit_;
  UpstreamClient& upstream_;
  Metrics& metrics_;
  const Logger& log_;
  SingleFlight in_flight_;
  const std::size_t max_in_flight_;
  std::atomic<std::size_t> upstream_calls_{0};
  ApprovalsGateway* const approvals_;
  std::atomic<bool> draining_{false};
  AuditApi* const audit_api_;
  RejectionLedger* const rejections_;
  policy::VelocityLimiter limiter_;
  const std::function<std::chrono::system_clock::time_point()> clock_;
  ConsoleSessions* const console_;
  ProviderSignIn* const sign_in_;
  ReviewDesk* const reviews_;
};

}  // namespace agni
