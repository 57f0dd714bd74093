// The web console's cookie sessions (DESIGN.md §11) over HTTP against the
// real servers: sign-in, the cookie as a credential, CSRF, sign-out, expiry,
// restart, and the headers of the console's pages.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "base/crypto.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/harness.h"

namespace agni::testing {
namespace {

using nlohmann::json;

constexpr const char* kSandbox = "+15550001234";  // alice may release it

json Body(const httplib::Result& res) {
  return json::parse(res->body, nullptr, false);
}

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

class ConsoleSessionTest : public ::testing::Test {
 protected:
  static GatewayHarness::Options Options(const FakeUpstream& upstream,
                                         const FakeClock& clock) {
    GatewayHarness::Options o;
    o.upstream_base_url = upstream.url();
    o.clock = clock.Function();
    return o;
  }

  struct Session {
    std::string cookie;  // "__Host-agni_session=..."
    std::string csrf;
  };
  // Signs `user` in and returns the cookie and CSRF token.
  Session SignIn(const std::string& user) {
    auto res = gw_.Client().Post("/v1/session",
                                 json{{"token", gw_.User(user).token}}.dump(),
                                 "application/json");
    EXPECT_TRUE(res);
    if (!res) return {};
    EXPECT_EQ(res->status, 200) << res->body;
    const std::string set_cookie = res->get_header_value("Set-Cookie");
    return {set_cookie.substr(0, set_cookie.find(';')),
            Body(res).value("csrf_token", "")};
  }
  httplib::Headers With(const Session& s, bool csrf = true) {
    httplib::Headers h{{"Cookie", s.cookie}};
    if (csrf) h.emplace("X-CSRF-Token", s.csrf);
    return h;
  }
  httplib::Result Release(const httplib::Headers& headers) {
    return gw_.Client().Delete(ReleasePath(kSandbox), headers);
  }
  json LastRow() { return gw_.AuditRows().back(); }

  FakeUpstream upstream_;
  FakeClock clock_{
      FakeClock::TimePoint(std::chrono::microseconds(1'800'000'000'000'000))};
  GatewayHarness gw_{Options(upstream_, clock_)};
};

TEST_F(ConsoleSessionTest, SignInSetsAHardenedCookieAndIsAudited) {
  auto res = gw_.Client().Post("/v1/session",
                               json{{"token", gw_.alice().token}}.dump(),
                               "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json body = Body(res);
  EXPECT_EQ(body["user"], "alice");
  EXPECT_EQ(body["groups"], json({"support"}));
  EXPECT_EQ(body["csrf_token"].get<std::string>().size(), 64u);
  EXPECT_EQ(body["expires_at"], "2027-01-15T16:00:00.000000Z");
  const std::string cookie = res->get_header_value("Set-Cookie");
  EXPECT_TRUE(cookie.starts_with("__Host-agni_session=")) << cookie;
  for (const char* attribute :
       {"; Path=/", "; Secure", "; HttpOnly", "; SameSite=Strict"}) {
    EXPECT_NE(cookie.find(attribute), std::string::npos) << attribute;
  }
  EXPECT_EQ(res->body.find(gw_.alice().token), std::string::npos);

  const json row = LastRow();
  EXPECT_EQ(row["principal"], "alice");
  EXPECT_EQ(row["auth_method"], "bearer");
  EXPECT_EQ(row["path"], "/v1/session");
  EXPECT_EQ(row["response_status"], 200);
  EXPECT_EQ(row["detail"], "signed in to the console");

  // Only the cookie's hash is kept.
  const std::string value = cookie.substr(20, cookie.find(';') - 20);
  const std::string path = gw_.config().console.sessions_path;
  const std::string db = FileBytes(path) + FileBytes(path + "-wal");
  EXPECT_EQ(db.find(value), std::string::npos);
  EXPECT_NE(db.find(Sha256Hex(value)), std::string::npos);
}

TEST_F(ConsoleSessionTest, AWrongTokenGets401AuditedAndNoCookie) {
  auto res = gw_.Client().Post("/v1/session",
                               json{{"token", "agt_not-a-token"}}.dump(),
                               "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(Body(res)["reason"], "unauthenticated");
  EXPECT_FALSE(res->has_header("Set-Cookie"));
  const json row = LastRow();
  EXPECT_EQ(row["reason"], "unauthenticated");
  EXPECT_EQ(row["path"], "/v1/session");
  EXPECT_EQ(row.dump().find("agt_not-a-token"), std::string::npos);
}

TEST_F(ConsoleSessionTest, TheCookieAuthenticatesAsTheSignedInUser) {
  const Session s = SignIn("alice");
  auto res = gw_.Client().Get("/v1/whoami", With(s, false));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(Body(res)["user"], "alice");
  EXPECT_EQ(Body(res)["auth_method"], "bearer");
  EXPECT_EQ(LastRow()["principal"], "alice");

  auto session = gw_.Client().Get("/v1/session", With(s, false));
  ASSERT_TRUE(session);
  ASSERT_EQ(session->status, 200);
  EXPECT_EQ(Body(session)["csrf_token"], s.csrf);

  auto forged = gw_.Client().Get(
      "/v1/whoami",
      {{"Cookie", "__Host-agni_session=" + std::string(64, 'a')}});
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 401);
}

TEST_F(ConsoleSessionTest, AStateChangeWithoutCsrfIs403AuditedAndNotForwarded) {
  const Session s = SignIn("alice");
  struct Case {
    const char* name;
    httplib::Headers headers;
  };
  const std::vector<Case> refused = {
      {"no token", With(s, false)},
      {"wrong token",
       {{"Cookie", s.cookie}, {"X-CSRF-Token", std::string(64, '0')}}},
      {"other origin",
       {{"Cookie", s.cookie},
        {"X-CSRF-Token", s.csrf},
        {"Origin", "https://evil.example"}}},
  };
  for (const Case& c : refused) {
    auto res = Release(c.headers);
    ASSERT_TRUE(res) << c.name;
    EXPECT_EQ(res->status, 403) << c.name;
    EXPECT_EQ(Body(res)["reason"], "csrf") << c.name;
    const json row = LastRow();
    EXPECT_EQ(row["reason"], "csrf") << c.name;
    EXPECT_EQ(row["principal"], "alice") << c.name;
    EXPECT_EQ(row["response_status"], 403) << c.name;
  }
  EXPECT_TRUE(upstream_.Received().empty());

  httplib::Headers ok = With(s);
  ok.emplace("Origin", "http://127.0.0.1:" + std::to_string(gw_.port()));
  auto res = Release(ok);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  ASSERT_EQ(upstream_.Received().size(), 1u);
  EXPECT_EQ(upstream_.Received()[0].method, "DELETE");
  EXPECT_EQ(upstream_.Received()[0].headers.count("Cookie"), 0u);
  EXPECT_EQ(LastRow()["principal"], "alice");
}

TEST_F(ConsoleSessionTest, BearerCallsNeedNoCsrf) {
  auto res = Release(Bearer(gw_.alice().token));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_F(ConsoleSessionTest, SignInFromAnotherOriginIsRefused) {
  auto res = gw_.Client().Post(
      "/v1/session", {{"Origin", "https://evil.example"}},
      json{{"token", gw_.alice().token}}.dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_EQ(Body(res)["reason"], "csrf");
  EXPECT_FALSE(res->has_header("Set-Cookie"));
  EXPECT_EQ(LastRow()["reason"], "csrf");
}

TEST_F(ConsoleSessionTest, SignOutEndsTheSessionAndIsAudited) {
  const Session s = SignIn("alice");
  auto refused = gw_.Client().Delete("/v1/session", With(s, false));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);

  auto res = gw_.Client().Delete("/v1/session", With(s));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_NE(res->get_header_value("Set-Cookie").find("Max-Age=0"),
            std::string::npos);
  EXPECT_EQ(LastRow()["detail"], "signed out of the console");

  auto after = gw_.Client().Get("/v1/whoami", With(s, false));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 401);
  EXPECT_EQ(LastRow()["reason"], "unauthenticated");
}

TEST_F(ConsoleSessionTest, ASessionSurvivesARestart) {
  const Session s = SignIn("alice");
  gw_.Stop();
  gw_.Start();
  auto res = gw_.Client().Get("/v1/whoami", With(s, false));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(Body(res)["user"], "alice");
}

TEST_F(ConsoleSessionTest, AnIdleSessionExpiresAfterFifteenMinutes) {
  const Session s = SignIn("alice");
  clock_.Advance(std::chrono::minutes(14));
  auto res = gw_.Client().Get("/v1/whoami", With(s, false));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  clock_.Advance(std::chrono::minutes(15) + std::chrono::seconds(1));
  res = gw_.Client().Get("/v1/whoami", With(s, false));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_NE(Body(res)["detail"].get<std::string>().find("expired"),
            std::string::npos);
}

TEST_F(ConsoleSessionTest, AnActiveSessionEndsAfterEightHours) {
  const Session s = SignIn("alice");
  for (int i = 0; i < 47; ++i) {  // 47 x 10 min = 7h50m, never idle
    clock_.Advance(std::chrono::minutes(10));
    auto res = gw_.Client().Get("/v1/whoami", With(s, false));
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << i;
  }
  clock_.Advance(std::chrono::minutes(10) + std::chrono::seconds(1));
  auto res = gw_.Client().Get("/v1/whoami", With(s, false));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
}

TEST_F(ConsoleSessionTest, ConsolePagesCarryTheSecurityHeaders) {
  for (const char* path : {"/ui/", "/ui/app.js", "/ui/style.css"}) {
    auto res = gw_.Client().Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
    EXPECT_EQ(res->get_header_value("Content-Security-Policy")
                  .find("default-src 'self'"),
              0u)
        << path;
    EXPECT_EQ(res->get_header_value("X-Frame-Options"), "DENY");
    EXPECT_EQ(res->get_header_value("Referrer-Policy"), "no-referrer");
    EXPECT_EQ(res->get_header_value("Cache-Control"), "no-store");
    EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
  }
  EXPECT_EQ(gw_.Client().Get("/ui/")->get_header_value("Content-Type"),
            "text/html; charset=utf-8");
  EXPECT_EQ(gw_.Client().Get("/ui/app.js")->get_header_value("Content-Type"),
            "text/javascript; charset=utf-8");
  EXPECT_EQ(gw_.Client().Get("/ui/none.js")->status, 404);
  // No inline script or style: the page only names files.
  const std::string page = gw_.Client().Get("/ui/")->body;
  EXPECT_EQ(page.find("<script>"), std::string::npos);
  EXPECT_EQ(page.find("<style"), std::string::npos);
  EXPECT_EQ(page.find(" style="), std::string::npos);
}

TEST(ConsoleListenerTest, NoSessionOverPlainHttpOffLoopback) {
  FakeUpstream upstream;
  GatewayHarness::Options o;
  o.upstream_base_url = upstream.url();
  o.extra_config = {{"listen", "0.0.0.0:0"}};
  GatewayHarness gw(o);
  auto res =
      gw.Client().Post("/v1/session", json{{"token", gw.alice().token}}.dump(),
                       "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_FALSE(res->has_header("Set-Cookie"));
  EXPECT_EQ(Body(res)["reason"], "forbidden");
}

TEST(ConsoleListenerTest, DisabledConsoleServesNothing) {
  FakeUpstream upstream;
  GatewayHarness::Options o;
  o.upstream_base_url = upstream.url();
  o.extra_config = {{"console", {{"enabled", false}}}};
  GatewayHarness gw(o);
  auto page = gw.Client().Get("/ui/");
  ASSERT_TRUE(page);
  EXPECT_NE(page->status, 200);
  auto res =
      gw.Client().Post("/v1/session", json{{"token", gw.alice().token}}.dump(),
                       "application/json");
  ASSERT_TRUE(res);
  EXPECT_NE(res->status, 200);
  EXPECT_FALSE(res->has_header("Set-Cookie"));
}

TEST_F(ConsoleSessionTest, AnswersAreNeverCompressed) {
  // A browser offers brotli; compressing a 250 KB approvals page took
  // seconds, and compression next to the CSRF token invites BREACH.
  const Session s = SignIn("alice");
  httplib::Headers h = With(s, false);
  h.emplace("Accept-Encoding", "br, gzip, deflate");
  for (const char* path : {"/v1/session", "/ui/app.js", "/ui/"}) {
    SCOPED_TRACE(path);
    auto res = gw_.Client().Get(path, h);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    EXPECT_FALSE(res->has_header("Content-Encoding"));
  }
  auto session = gw_.Client().Get("/v1/session", h);
  ASSERT_TRUE(session);
  EXPECT_EQ(Body(session)["csrf_token"], s.csrf);
}

}  // namespace
}  // namespace agni::testing
