// The console's sign-in at an identity provider (DESIGN.md §11): GET
// /ui/login, the provider's answer at GET /ui/callback, and every refusal of
// the callback with its status and audit row. The provider is a small
// OpenID provider in this test (discovery and a token endpoint over loopback
// http, ID tokens signed by a test key whose JWK the gateway reads from a
// jwks_file), so each test decides exactly what the provider answers.
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <thread>

#include "base/crypto.h"
#include "gateway/console/provider_sign_in.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/harness.h"
#include "tests/support/jwt_signer.h"

namespace agni::testing {
namespace {

using nlohmann::json;

constexpr const char* kClientSecret = "console-secret-5f1d0c";
constexpr const char* kCode = "code-from-the-provider-93e1";
constexpr std::int64_t kStartUs = 1'800'000'000'000'000;

// Discovery and a token endpoint. The ID token it hands out is made by
// `id_token` (set by the test) from the nonce the gateway sent. Thread-safe.
class FakeProvider {
 public:
  FakeProvider() {
    server_.Get(
        "/.well-known/openid-configuration",
        [this](const httplib::Request&, httplib::Response& res) {
          std::lock_guard lock(mu_);
          res.set_content(
              json{{"issuer",
                    document_issuer_.empty() ? issuer() : document_issuer_},
                   {"authorization_endpoint", issuer() + "/authorize"},
                   {"token_endpoint", token_endpoint_},
                   {"jwks_uri", issuer() + "/jwks"}}
                  .dump(),
              "application/json");
        });
    server_.Post(
        "/token", [this](const httplib::Request& req, httplib::Response& res) {
          std::lock_guard lock(mu_);
          token_requests_.push_back(req);
          if (req.get_param_value("code") != kCode) {
            res.status = 400;
            res.set_content(R"({"error":"invalid_grant"})", "application/json");
            return;
          }
          res.set_content(json{{"access_token", "opaque-access-token"},
                               {"token_type", "Bearer"},
                               {"id_token", id_token_}}
                              .dump(),
                          "application/json");
        });
    port_ = server_.bind_to_any_port("127.0.0.1");
    token_endpoint_ = issuer() + "/token";
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 10000 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~FakeProvider() {
    server_.stop();
    thread_.join();
  }

  std::string issuer() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }
  void SetIdToken(std::string token) {
    std::lock_guard lock(mu_);
    id_token_ = std::move(token);
  }
  // The issuer the discovery document names (empty: this provider's own).
  void SetDocumentIssuer(std::string issuer) {
    std::lock_guard lock(mu_);
    document_issuer_ = std::move(issuer);
  }
  void SetTokenEndpoint(std::string url) {
    std::lock_guard lock(mu_);
    token_endpoint_ = std::move(url);
  }
  std::vector<httplib::Request> TokenRequests() const {
    std::lock_guard lock(mu_);
    return token_requests_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::string token_endpoint_;
  std::string document_issuer_;
  std::string id_token_;
  std::vector<httplib::Request> token_requests_;
};

// A port nothing listens on (bound, then closed).
int ClosedPort() {
  httplib::Server s;
  const int port = s.bind_to_any_port("127.0.0.1");
  s.stop();
  return port;
}

class ConsoleSignInTest : public ::testing::Test {
 protected:
  ConsoleSignInTest() {
    std::ofstream(keys_.File("jwks.json"))
        << json{{"keys", {key_.PublicJwk("k1")}}}.dump();
    std::ofstream(keys_.File("client-secret")) << kClientSecret << "\n";
    GatewayHarness::Options o = GatewayHarness::ForApprovals(upstream_.url());
    o.clock = clock_.Function();
    o.extra_config = {
        {"groups", {"support", "telecom-ops", "contractors"}},
        {"identity",
         {{"oidc",
           {{{"name", "corp"},
             {"issuer", provider_.issuer()},
             {"audiences", {"agni-gateway"}},
             {"group_map", {{"okta-telecom-ops", "telecom-ops"}}},
             {"jwks_file", keys_.File("jwks.json")},
             {"client_id", "agni-console"},
             {"client_secret_file", keys_.File("client-secret")},
             {"redirect_url", "http://localhost/ui/callback"}}}}}}};
    gw_ = std::make_unique<GatewayHarness>(o);
  }

  std::int64_t NowSeconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(
               clock_.now().time_since_epoch())
        .count();
  }

  // What /ui/login handed the browser.
  struct Started {
    std::string state, nonce, challenge;
    std::string login_cookie;  // "__Host-agni_login=..."
    std::string location;
  };
  Started Login(const std::string& extra_query = "") {
    auto res =
        gw_->Client().Get(std::string("/ui/login?provider=corp") + extra_query);
    Started s;
    EXPECT_TRUE(res);
    if (!res) return s;
    EXPECT_EQ(res->status, 303) << res->body;
    s.location = res->get_header_value("Location");
    const std::string cookie = res->get_header_value("Set-Cookie");
    s.login_cookie = cookie.substr(0, cookie.find(';'));
    s.state = Param(s.location, "state");
    s.nonce = Param(s.location, "nonce");
    s.challenge = Param(s.location, "code_challenge");
    return s;
  }
  static std::string Param(const std::string& url, const std::string& name) {
    return QueryParam(url, name).value_or("");
  }

  // An ID token from the provider for olga, with `changes` merged in.
  std::string IdToken(const std::string& nonce, const json& changes = {}) {
    json claims = {{"iss", provider_.issuer()},
                   {"aud", "agni-console"},
                   {"sub", "olga"},
                   {"email", "olga@example.com"},
                   {"groups", {"okta-telecom-ops"}},
                   {"nonce", nonce},
                   {"iat", NowSeconds()},
                   {"exp", NowSeconds() + 300}};
    if (changes.is_object()) claims.merge_patch(changes);
    return SignJwt(key_, "RS256", "k1", claims);
  }

  httplib::Result Callback(const std::string& query,
                           const std::string& cookie) {
    httplib::Headers h;
    if (!cookie.empty()) h.emplace("Cookie", cookie);
    return gw_->Client().Get("/ui/callback?" + query, h);
  }

  // The refusal as the browser and the audit log see it; nothing secret in
  // either.
  void ExpectRefused(const httplib::Result& res, int status,
                     const std::string& reason,
                     const std::string& detail_part) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << res->body;
    const json body = json::parse(res->body, nullptr, false);
    EXPECT_EQ(body.value("reason", ""), reason) << res->body;
    EXPECT_NE(body.value("detail", "").find(detail_part), std::string::npos)
        << res->body;
    EXPECT_EQ(res->get_header_value("Set-Cookie").find("__Host-agni_session"),
              std::string::npos);
    const json row = gw_->AuditRows().back();
    EXPECT_EQ(row["path"], "/ui/callback");
    EXPECT_EQ(row["reason"], reason);
    EXPECT_EQ(row["response_status"], status);
    EXPECT_NE(row["detail"].get<std::string>().find(detail_part),
              std::string::npos)
        << row.dump();
    ExpectNoSecrets(res->body + row.dump());
  }
  void ExpectNoSecrets(const std::string& text) {
    for (const std::string& secret :
         {std::string(kCode), std::string(kClientSecret), last_token_}) {
      if (secret.empty()) continue;
      EXPECT_EQ(text.find(secret), std::string::npos) << secret;
    }
  }
  void Serve(const std::string& id_token) {
    last_token_ = id_token;
    provider_.SetIdToken(id_token);
  }

  TempDir keys_;
  TestSigningKey key_{TestSigningKey::Type::kRsa};
  FakeProvider provider_;
  FakeUpstream upstream_;
  FakeClock clock_{FakeClock::TimePoint(std::chrono::microseconds(kStartUs))};
  std::unique_ptr<GatewayHarness> gw_;
  std::string last_token_;
};

TEST_F(ConsoleSignInTest, LoginRedirectsToTheProviderWithPkceStateAndNonce) {
  const Started s = Login();
  EXPECT_TRUE(s.location.starts_with(provider_.issuer() + "/authorize?"))
      << s.location;
  EXPECT_EQ(Param(s.location, "response_type"), "code");
  EXPECT_EQ(Param(s.location, "client_id"), "agni-console");
  EXPECT_EQ(Param(s.location, "redirect_uri"), "http://localhost/ui/callback");
  EXPECT_EQ(Param(s.location, "code_challenge_method"), "S256");
  EXPECT_EQ(s.challenge.size(), 43u);
  EXPECT_GE(s.state.size(), 43u);
  EXPECT_GE(s.nonce.size(), 43u);
  EXPECT_NE(s.state, s.nonce);
  EXPECT_TRUE(s.login_cookie.starts_with("__Host-agni_login="))
      << s.login_cookie;

  auto providers = gw_->Client().Get("/ui/providers");
  ASSERT_TRUE(providers);
  EXPECT_EQ(
      json::parse(providers->body)["providers"],
      json::parse(R"([{"name":"corp","login":"/ui/login?provider=corp"}])"));
}

TEST_F(ConsoleSignInTest, TheCallbackSignsThePersonInWithTheirMappedGroups) {
  const Started s = Login();
  Serve(IdToken(s.nonce, {{"jti", "id-1"}}));
  auto res = Callback("code=" + std::string(kCode) + "&state=" + s.state,
                      s.login_cookie);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 303) << res->body;
  EXPECT_EQ(res->get_header_value("Location"), "/ui/#signed-in");
  std::string session;
  for (std::size_t i = 0; i < res->get_header_value_count("Set-Cookie"); ++i) {
    const std::string c = res->get_header_value("Set-Cookie", i);
    if (c.starts_with("__Host-agni_session="))
      session = c.substr(0, c.find(';'));
  }
  ASSERT_FALSE(session.empty());

  // The code went to the token endpoint with the PKCE verifier of this
  // sign-in and the client's own credentials.
  const auto exchanged = provider_.TokenRequests();
  ASSERT_EQ(exchanged.size(), 1u);
  EXPECT_EQ(exchanged[0].get_param_value("grant_type"), "authorization_code");
  EXPECT_EQ(exchanged[0].get_param_value("redirect_uri"),
            "http://localhost/ui/callback");
  EXPECT_EQ(
      Base64UrlEncode(Sha256Raw(exchanged[0].get_param_value("code_verifier"))),
      s.challenge);
  // base64("agni-console:" + kClientSecret)
  EXPECT_EQ(exchanged[0].get_header_value("Authorization"),
            "Basic YWduaS1jb25zb2xlOmNvbnNvbGUtc2VjcmV0LTVmMWQwYw==");

  const json row = gw_->AuditRows().back();
  EXPECT_EQ(row["principal"], "olga@example.com");
  EXPECT_EQ(row["auth_method"], "oidc");
  EXPECT_EQ(row["path"], "/ui/callback");
  EXPECT_EQ(row["response_status"], 200);
  EXPECT_NE(row["detail"].get<std::string>().find("corp"), std::string::npos);
  ExpectNoSecrets(row.dump() + res->body);

  // The session is the person's, with the provider's group renamed.
  auto me = gw_->Client().Get("/v1/session", {{"Cookie", session}});
  ASSERT_TRUE(me);
  ASSERT_EQ(me->status, 200) << me->body;
  const json body = json::parse(me->body);
  EXPECT_EQ(body["user"], "olga@example.com");
  EXPECT_EQ(body["groups"], json({"telecom-ops"}));
  EXPECT_EQ(body["auth_method"], "oidc");
}

TEST_F(ConsoleSignInTest, APersonSignedInAtTheProviderApprovesWithTheirGroups) {
  const std::string number = "+14156660100";
  auto requested = gw_->Client().Delete(ReleasePath(number),
                                        Bearer(gw_->User("alice").token));
  ASSERT_TRUE(requested);
  ASSERT_EQ(requested->status, 202) << requested->body;
  const std::string id = json::parse(requested->body)["approval"]["id"];
  auto first =
      gw_->Client().Post("/v1/approvals/" + id + "/approve",
                         Bearer(gw_->olga().token), "{}", "application/json");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;

  const Started s = Login();
  Serve(IdToken(s.nonce, {{"email", "pia@example.com"}}));
  auto res = Callback("code=" + std::string(kCode) + "&state=" + s.state,
                      s.login_cookie);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 303) << res->body;
  std::string cookie;
  for (std::size_t i = 0; i < res->get_header_value_count("Set-Cookie"); ++i) {
    const std::string c = res->get_header_value("Set-Cookie", i);
    if (c.starts_with("__Host-agni_session="))
      cookie = c.substr(0, c.find(';'));
  }
  auto me = gw_->Client().Get("/v1/session", {{"Cookie", cookie}});
  ASSERT_TRUE(me);
  ASSERT_EQ(me->status, 200) << me->body;
  const std::string csrf = json::parse(me->body)["csrf_token"];

  // pia exists only at the provider; her vote counts with the groups of her
  // sign-in, so the request is approved.
  auto second = gw_->Client().Post("/v1/approvals/" + id + "/approve",
                                   {{"Cookie", cookie}, {"X-CSRF-Token", csrf}},
                                   "{}", "application/json");
  ASSERT_TRUE(second);
  ASSERT_EQ(second->status, 200) << second->body;
  EXPECT_EQ(json::parse(second->body)["status"], "approved") << second->body;
  auto released = gw_->Client().Delete(
      ReleasePath(number),
      {{"Authorization", "Bearer " + gw_->User("alice").token},
       {"X-Approval-Id", id}});
  ASSERT_TRUE(released);
  EXPECT_EQ(released->status, 200) << released->body;
  EXPECT_EQ(upstream_.Received().size(), 1u);
}

// A notification's link survives the sign-in: /ui/login?return=<console
// path> lands there after the callback.
TEST_F(ConsoleSignInTest, TheCallbackReturnsToTheConsolePageTheSignInCameFrom) {
  const Started s =
      Login(std::string("&return=") + FormEncode("/ui/?approval=apr_42"));
  Serve(IdToken(s.nonce));
  auto res = Callback(std::string("code=") + kCode + "&state=" + s.state,
                      s.login_cookie);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 303) << res->body;
  EXPECT_EQ(res->get_header_value("Location"),
            "/ui/?approval=apr_42#signed-in");
}

// Never an open redirect: anything but a path under /ui/ lands on the
// console's start page.
TEST_F(ConsoleSignInTest, AReturnOutsideTheConsoleLandsOnItsStartPage) {
  for (const std::string& hostile :
       {std::string("https://evil.example"), std::string("//evil.example"),
        std::string("/\\evil.example"), std::string("/ui//evil.example"),
        std::string("/ui/../v1/session"), std::string("/ui/%2e%2e/v1/session"),
        std::string("/uix"), std::string("/v1/approvals"),
        std::string("javascript:alert(1)"), std::string("/ui/?approval=1#x"),
        std::string("/ui/?a=<b>"), std::string("/ui/\r\nSet-Cookie: x=1"),
        std::string(600, '/')}) {
    SCOPED_TRACE(hostile);
    const Started s = Login(std::string("&return=") + FormEncode(hostile));
    Serve(IdToken(s.nonce));
    auto res = Callback(std::string("code=") + kCode + "&state=" + s.state,
                        s.login_cookie);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 303) << res->body;
    EXPECT_EQ(res->get_header_value("Location"), "/ui/#signed-in");
  }
}

// The return path rides in the login cookie, whose hash the flow keeps: a
// cookie changed on the way to point elsewhere is another browser's.
TEST_F(ConsoleSignInTest, AReturnPathChangedInTheLoginCookieIsRefused) {
  const Started s =
      Login(std::string("&return=") + FormEncode("/ui/?review=rev_1"));
  const std::size_t dot = s.login_cookie.find('.');
  ASSERT_NE(dot, std::string::npos) << s.login_cookie;
  Serve(IdToken(s.nonce));
  ExpectRefused(Callback(std::string("code=") + kCode + "&state=" + s.state,
                         s.login_cookie.substr(0, dot + 1) +
                             HexEncode("/ui/?review=rev_2")),
                401, "unauthenticated", "another browser");
}

TEST(ConsoleReturnPath, OnlyPathsUnderUiWithAPlainQueryAreSafe) {
  for (const char* ok : {"/ui/", "/ui/?approval=apr_1", "/ui/?review=rev_ab-1",
                         "/ui/index.html", "/ui/?a=%2F&b=c+d"}) {
    EXPECT_EQ(SafeReturnPath(ok).value_or("(refused)"), ok);
  }
  for (const char* bad :
       {"", "/", "/ui", "ui/", "https://evil.example/ui/", "//evil.example",
        "/ui//evil.example", "/ui/./x", "/ui/../x", "/ui/x/..", "/ui/%2e%2e/",
        "/ui/\\x", "/ui/?a=b#c", "/ui/?a=<b>", "/ui/?a=b c", "/ui/?a?b",
        "/ui/\n"}) {
    EXPECT_FALSE(SafeReturnPath(bad).has_value()) << bad;
  }
  EXPECT_FALSE(SafeReturnPath(std::string("/ui/?a=") + std::string(600, 'x'))
                   .has_value());
}

TEST_F(ConsoleSignInTest, AnUnknownStateIsRefusedAndAudited) {
  const Started s = Login();
  Serve(IdToken(s.nonce));
  ExpectRefused(Callback(std::string("code=") + kCode +
                             "&state=not-a-state-this-gateway-made",
                         s.login_cookie),
                401, "unauthenticated", "state is unknown");
  EXPECT_TRUE(provider_.TokenRequests().empty());
}

TEST_F(ConsoleSignInTest, AReplayedStateIsRefused) {
  const Started s = Login();
  Serve(IdToken(s.nonce));
  const std::string query = std::string("code=") + kCode + "&state=" + s.state;
  auto first = Callback(query, s.login_cookie);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 303) << first->body;
  ExpectRefused(Callback(query, s.login_cookie), 401, "unauthenticated",
                "already used");
  EXPECT_EQ(provider_.TokenRequests().size(), 1u);
}

TEST_F(ConsoleSignInTest, ACallbackFromAnotherBrowserIsRefused) {
  const Started s = Login();
  Serve(IdToken(s.nonce));
  ExpectRefused(Callback(std::string("code=") + kCode + "&state=" + s.state,
                         "__Host-agni_login=" + std::string(64, 'a')),
                401, "unauthenticated", "another browser");
  EXPECT_TRUE(provider_.TokenRequests().empty());
}

TEST_F(ConsoleSignInTest, AStaleStateIsRefused) {
  const Started s = Login();
  Serve(IdToken(s.nonce));
  clock_.Advance(std::chrono::minutes(11));
  ExpectRefused(Callback(std::string("code=") + kCode + "&state=" + s.state,
                         s.login_cookie),
                401, "unauthenticated", "longer than 10 minutes");
}

TEST_F(ConsoleSignInTest, AnIdTokenWithAnotherNonceIsRefused) {
  const Started s = Login();
  Serve(IdToken("a-nonce-of-another-sign-in"));
  ExpectRefused(Callback(std::string("code=") + kCode + "&state=" + s.state,
                         s.login_cookie),
                401, "unauthenticated", "nonce");
  EXPECT_EQ(provider_.TokenRequests().size(), 1u);
}

TEST_F(ConsoleSignInTest, AnIdTokenForAnotherClientIsRefused) {
  const Started s = Login();
  Serve(IdToken(s.nonce, {{"aud", "agni-gateway"}}));
  ExpectRefused(Callback(std::string("code=") + kCode + "&state=" + s.state,
                         s.login_cookie),
                401, "unauthenticated", "audience");
}

TEST_F(ConsoleSignInTest, TheProvidersErrorIsRefusedWithItsCode) {
  const Started s = Login();
  ExpectRefused(Callback("error=access_denied&error_description=%3Cb%3Eno%3C"
                         "%2Fb%3E&state=" +
                             s.state,
                         s.login_cookie),
                401, "unauthenticated", "refused the sign-in: access_denied");
  EXPECT_TRUE(provider_.TokenRequests().empty());
  // The flow is used up by the error.
  ExpectRefused(Callback(std::string("code=") + kCode + "&state=" + s.state,
                         s.login_cookie),
                401, "unauthenticated", "already used");
}

TEST_F(ConsoleSignInTest, ATokenEndpointThatIsDownIs502) {
  const Started s = Login();
  provider_.SetTokenEndpoint(
      "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/token");
  ExpectRefused(Callback(std::string("code=") + kCode + "&state=" + s.state,
                         s.login_cookie),
                502, "identity_provider_unavailable", "did not answer");
}

TEST_F(ConsoleSignInTest,
       ADiscoveryDocumentNamingAnotherIssuerGetsNeitherTheBrowserNorTheCode) {
  const Started s = Login();
  Serve(IdToken(s.nonce));
  // Discovery §4.3: the issuer must match exactly, a trailing slash included.
  provider_.SetDocumentIssuer(provider_.issuer() + "/");
  ExpectRefused(Callback(std::string("code=") + kCode + "&state=" + s.state,
                         s.login_cookie),
                502, "identity_provider_unavailable",
                provider_.issuer() +
                    "/.well-known/openid-configuration names a different "
                    "issuer");
  EXPECT_TRUE(provider_.TokenRequests().empty());

  auto login = gw_->Client().Get("/ui/login?provider=corp");
  ASSERT_TRUE(login);
  EXPECT_EQ(login->status, 502) << login->body;
  EXPECT_EQ(login->get_header_value("Location"), "");
  EXPECT_NE(json::parse(login->body, nullptr, false)
                .value("detail", "")
                .find("names a different issuer"),
            std::string::npos)
      << login->body;
}

TEST_F(ConsoleSignInTest, ACodeTheProviderRefusesIs401) {
  const Started s = Login();
  Serve(IdToken(s.nonce));
  ExpectRefused(
      Callback("code=some-other-code&state=" + s.state, s.login_cookie), 401,
      "unauthenticated", "refused the code (HTTP 400 invalid_grant)");
}

}  // namespace
}  // namespace agni::testing
