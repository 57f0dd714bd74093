// The web console's routes (DESIGN.md §11): its pages under /ui/, sign-in
// with a gateway token, the session behind the cookie and sign-out. Sign-in,
// sign-out and every refusal are audited like any other request; the pages
// themselves are static files with no data and no identity, so fetching them
// writes no audit record.
#include <nlohmann/json.hpp>

#include "audit/fingerprint.h"
#include "audit/record.h"
#include "gateway/console/assets.h"
#include "gateway/console/provider_sign_in.h"
#include "gateway/console/sessions.h"
#include "gateway/pipeline/request_context.h"

namespace agni {
namespace {

// Every console answer: no framing, no referrer, scripts and styles from
// this origin only (no inline script or style).
void AddConsoleHeaders(HttpResponse& r) {
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; frame-ancestors 'none'; "
                         "base-uri 'none'; form-action 'self'");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
}

HttpResponse Json(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump();
  AddConsoleHeaders(r);
  return r;
}

HttpResponse Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  AddConsoleHeaders(r);
  return r;
}

}  // namespace

HttpResponse RequestPipeline::ConsolePage(Context& ctx, std::string_view path) {
  if (ctx.request.method != "GET" && ctx.request.method != "HEAD") {
    HttpResponse r = Text(405, "the console's pages accept GET only\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return Respond(ctx, std::move(r));
  }
  if (path == "/ui") {
    HttpResponse r = Text(308, "");
    r.headers.emplace_back("Location", "/ui/");
    return Respond(ctx, std::move(r));
  }
  std::string_view name = path.substr(4);  // after "/ui/"
  if (name.empty()) name = "index.html";
  if (name == "providers") return SignInProviderList(ctx);
  if (sign_in_ != nullptr && (name == "login" || name == "callback")) {
    if (ctx.request.method != "GET") {
      HttpResponse r = Text(405, "the sign-in accepts GET only\n");
      r.headers.emplace_back("Allow", "GET");
      return Respond(ctx, std::move(r));
    }
    if (!console_->cookies_allowed()) {
      return Finish(ctx, {Reason::kForbidden,
                          "console sessions need TLS on the main listener (or "
                          "a loopback listener)",
                          ""});
    }
    return name == "login" ? StartProviderSignIn(ctx) : ProviderCallback(ctx);
  }
  const std::optional<ConsoleAsset> asset = FindConsoleAsset(name);
  if (!asset) return Respond(ctx, Text(404, "no such console page\n"));
  HttpResponse r;
  r.status = 200;
  r.content_type = std::string(asset->content_type);
  if (ctx.request.method == "GET") r.body = std::string(asset->body);
  AddConsoleHeaders(r);
  return Respond(ctx, std::move(r));
}

HttpResponse RequestPipeline::SignIn(Context& ctx) {
  const HttpRequest& request = ctx.request;
  if (request.version == "HTTP/1.1" && request.host.size() != 1) {
    return Finish(ctx,
                  {Reason::kInvalidRequest,
                   "an HTTP/1.1 request needs exactly one Host header", ""});
  }
  if (!console_->cookies_allowed()) {
    return Finish(ctx, {Reason::kForbidden,
                        "console sessions need TLS on the main listener (or "
                        "a loopback listener): the cookie would cross the "
                        "network in clear",
                        ""});
  }
  if (std::string bad = console_->CheckOrigin(request); !bad.empty()) {
    return Finish(ctx, {Reason::kCsrf, std::move(bad), ""});
  }
  const nlohmann::json body =
      nlohmann::json::parse(request.body, nullptr, false);
  const auto token = body.is_object() ? body.find("token") : body.end();
  if (!body.is_object() || token == body.end() || !token->is_string() ||
      token->get_ref<const std::string&>().empty()) {
    return Finish(ctx,
                  {Reason::kInvalidRequest,
                   "the body must be {\"token\": \"<gateway token>\"}", ""});
  }
  const std::vector<std::string> presented = {"Bearer " +
                                              token->get<std::string>()};
  const std::vector<std::string_view> authz(presented.begin(), presented.end());
  AuthResult auth = ctx.access->authenticator.Authenticate({authz, {}});
  if (!auth.principal) {
    ctx.credential_fingerprint = audit::CredentialFingerprint(
        ctx.access->fingerprint_key, audit::PresentedCredential(presented, {}));
    return Finish(ctx, {Reason::kUnauthenticated,
                        "the token is not a valid gateway token", ""});
  }
  ctx.principal = std::move(auth.principal);
  const ConsoleSessions::SignedIn session = console_->Create(*ctx.principal);
  HttpResponse r =
      Json(200, {{"user", ctx.principal->name},
                 {"groups", ctx.principal->groups},
                 {"auth_method", ctx.principal->auth_method},
                 {"csrf_token", session.csrf_token},
                 {"expires_at", audit::FormatTime(session.expires_us)}});
  r.headers.emplace_back("Set-Cookie", session.set_cookie);
  return RespondRecorded(ctx, ServedRecord(ctx, "signed in to the console"),
                         std::move(r));
}

void RequestPipeline::AuthenticateSession(Context& ctx, AuthResult& auth) {
  ConsoleSessions::Lookup found = console_->Resolve(ctx.request);
  using State = ConsoleSessions::Lookup::State;
  if (found.state == State::kNoCookie) return;
  if (found.state == State::kInvalid) {
    auth.failure =
        "the console session has expired or was signed out; sign in again";
    return;
  }
  // The user as configured now: a removed user's sessions end, and group
  // changes apply at once. A person from an identity provider exists only
  // there: the session keeps the groups their ID token or JWT carried at
  // sign-in (for at most session_max), while an identity provider is
  // configured at all.
  std::optional<Principal> principal;
  if (found.session.auth_method == "oidc") {
    if (ctx.access->identity_verifier != nullptr) {
      principal.emplace();
      principal->name = found.session.user;
      const nlohmann::json groups =
          nlohmann::json::parse(found.session.groups_json, nullptr, false);
      if (groups.is_array()) {
        for (const nlohmann::json& g : groups) {
          if (g.is_string()) principal->groups.push_back(g.get<std::string>());
        }
      }
    }
  } else {
    principal = ctx.access->authenticator.FindUser(found.session.user);
  }
  if (!principal) {
    console_->Remove(found.cookie_hash);
    auth.failure = "the console session's user no longer exists";
    return;
  }
  principal->auth_method = found.session.auth_method;
  auth.principal = std::move(principal);
  ctx.session_cookie_hash = std::move(found.cookie_hash);
  ctx.session_csrf_token = std::move(found.session.csrf_token);
  ctx.session_expires_us = found.expires_us;
}

std::optional<HttpResponse> RequestPipeline::CheckSessionCsrf(Context& ctx) {
  const std::string& method = ctx.request.method;
  if (ctx.session_cookie_hash.empty() || method == "GET" || method == "HEAD") {
    return std::nullopt;
  }
  std::string bad = console_->CheckCsrf(ctx.request, ctx.session_csrf_token);
  if (bad.empty()) return std::nullopt;
  return Finish(ctx, {Reason::kCsrf, std::move(bad), ""});
}

HttpResponse RequestPipeline::SessionRoute(Context& ctx) {
  const std::string& method = ctx.request.method;
  if (method != "GET" && method != "DELETE") {
    HttpResponse r =
        Finish(ctx, {Reason::kMethodNotAllowed,
                     "this route accepts GET, POST and DELETE", ""});
    for (auto& [name, value] : r.headers) {
      if (name == "Allow") value = "GET, POST, DELETE";
    }
    return r;
  }
  if (ctx.session_cookie_hash.empty()) {
    return Finish(ctx,
                  {Reason::kNotFound,
                   "no console session: sign in with POST /v1/session", ""});
  }
  if (method == "DELETE") {
    console_->Remove(ctx.session_cookie_hash);
    HttpResponse r = Json(200, {{"signed_out", true}});
    r.headers.emplace_back("Set-Cookie", ConsoleSessions::ClearCookie());
    return RespondRecorded(ctx, ServedRecord(ctx, "signed out of the console"),
                           std::move(r));
  }
  const Principal& p = *ctx.principal;
  return RespondRecorded(
      ctx, ServedRecord(ctx, "read the console session"),
      Json(200, {{"user", p.name},
                 {"groups", p.groups},
                 {"auth_method", p.auth_method},
                 {"csrf_token", ctx.session_csrf_token},
                 {"expires_at", audit::FormatTime(ctx.session_expires_us)},
                 {"auditor", p.InAnyGroup(ctx.access->auditors)},
                 {"admin", p.InAnyGroup(ctx.access->admins)}}));
}

HttpResponse RequestPipeline::SignInProviderList(Context& ctx) {
  nlohmann::json list = nlohmann::json::array();
  if (sign_in_ != nullptr && console_->cookies_allowed()) {
    for (const OidcIssuerConfig& p : ctx.access->sign_in_providers) {
      list.push_back({{"name", p.name},
                      {"login", "/ui/login?provider=" + FormEncode(p.name)}});
    }
  }
  return Respond(ctx, Json(200, {{"providers", list}}));
}

// The two steps below are reached only through ConsolePage, which checked
// the method and that cookies may be set.
HttpResponse RequestPipeline::StartProviderSignIn(Context& ctx) {
  const std::vector<OidcIssuerConfig>& providers =
      ctx.access->sign_in_providers;
  const std::optional<std::string> wanted =
      QueryParam(ctx.request.target, "provider");
  const OidcIssuerConfig* provider = nullptr;
  for (const OidcIssuerConfig& p : providers) {
    if (wanted ? p.name == *wanted : providers.size() == 1) provider = &p;
  }
  if (provider == nullptr) {
    return Finish(ctx, {Reason::kNotFound,
                        wanted ? "no identity provider of that name offers "
                                 "the console sign-in"
                               : "name the identity provider: "
                                 "/ui/login?provider=<name>",
                        ""});
  }
  // Where to land once signed in (a deep link from a notification); an
  // unsafe one is ignored and the browser lands on the start page.
  const std::string return_path =
      SafeReturnPath(QueryParam(ctx.request.target, "return").value_or(""))
          .value_or("");
  ProviderSignIn::Started started = sign_in_->Start(*provider, return_path);
  if (started.failure != ProviderSignIn::Failure::kNone) {
    return Finish(ctx, {Reason::kIdentityProviderUnavailable,
                        std::move(started.detail), ""});
  }
  HttpResponse r = Text(303, "");
  r.headers.emplace_back("Location", std::move(started.location));
  r.headers.emplace_back("Set-Cookie", std::move(started.set_cookie));
  return Respond(ctx, std::move(r));
}

HttpResponse RequestPipeline::ProviderCallback(Context& ctx) {
  ProviderSignIn::Finished done =
      sign_in_->Finish(ctx.request, ctx.access->sign_in_providers,
                       ctx.access->identity_verifier.get());
  if (!done.principal) {
    using Failure = ProviderSignIn::Failure;
    const Reason reason = done.failure == Failure::kProviderUnavailable
                              ? Reason::kIdentityProviderUnavailable
                          : done.failure == Failure::kBadRequest
                              ? Reason::kInvalidRequest
                              : Reason::kUnauthenticated;
    if (reason == Reason::kUnauthenticated) {
      metrics_.CountAuth("oidc", done.metric_result);
    }
    HttpResponse r = Finish(ctx, {reason, std::move(done.detail), ""});
    // The flow is over either way; the browser drops its login cookie.
    r.headers.emplace_back("Set-Cookie", ProviderSignIn::ClearCookie());
    return r;
  }
  metrics_.CountAuth("oidc", "success");
  ctx.principal = std::move(done.principal);
  const ConsoleSessions::SignedIn session = console_->Create(*ctx.principal);
  // 303 to the console, which finds its session with the cookie: the
  // fragment tells the page it signed in (the cookie itself is HttpOnly).
  HttpResponse r = Text(303, "");
  r.headers.emplace_back("Location", done.return_path + "#signed-in");
  r.headers.emplace_back("Set-Cookie", session.set_cookie);
  r.headers.emplace_back("Set-Cookie", ProviderSignIn::ClearCookie());
  return RespondRecorded(
      ctx,
      ServedRecord(ctx, "signed in to the console at identity provider \"" +
                            done.provider + "\""),
      std::move(r));
}

}  // namespace agni
