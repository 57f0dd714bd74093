// People signed in at an identity provider (DESIGN.md §10) through the whole
// gateway: what the client gets, what the upstream received (or that it
// received nothing), the audit row, the metrics. The first tests verify
// tokens this test signs against a jwks_file; the others run a real OpenID
// provider (oidc-provider under node, tests/idp/) over https with a test CA.
#include <gtest/gtest.h>

#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "base/crypto.h"
#include "gateway/auth/provider_discovery.h"
#include "tests/support/harness.h"
#include "tests/support/jwt_signer.h"
#include "tests/support/pki.h"
#include "tests/support/process.h"
#include "tests/support/test_support.h"

namespace agni::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::system_clock;

constexpr const char* kNumber = "+14155550123";

std::int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             Clock::now().time_since_epoch())
      .count();
}

json Detail(const httplib::Result& res) {
  json body = json::parse(res->body, nullptr, false);
  return body.is_object() ? body.value("detail", json()) : json();
}

// The identity block for one issuer, merged into the harness's gateway.json.
json IdentityConfig(const json& issuer) {
  json oidc = {{"name", "corp"},
               {"audiences", {"agni-gateway"}},
               {"algorithms", {"RS256", "ES256"}},
               {"group_map", {{"okta-telecom-ops", "telecom-ops"}}},
               {"jwks_min_refresh", "1s"}};
  oidc.merge_patch(issuer);
  return {{"groups", {"support", "telecom-ops", "contractors", "compliance"}},
          {"identity", {{"oidc", {oidc}}}}};
}

// ---------------------------------------------------------------------------
// Tokens signed here, keys from a jwks_file.

constexpr const char* kFileIssuer = "https://login.example.com/realms/corp";

class IdentityFileTest : public ::testing::Test {
 protected:
  IdentityFileTest() {
    WriteJwks({rsa_.PublicJwk("rsa-1"), ec_.PublicJwk("ec-1")});
    GatewayHarness::Options o{.upstream_base_url = upstream_.url()};
    o.extra_config = IdentityConfig(
        {{"issuer", kFileIssuer}, {"jwks_file", jwks_dir_.File("jwks.json")}});
    gw_ = std::make_unique<GatewayHarness>(o);
  }

  void WriteJwks(const std::vector<json>& keys) {
    json doc = {{"keys", json::array()}};
    for (const json& k : keys) doc["keys"].push_back(k);
    std::ofstream(jwks_dir_.File("jwks.json")) << doc.dump();
  }

  // The same keys as another provider would serve them: indented, each
  // key's members in reverse order.
  void WriteJwksReformatted(const std::vector<json>& keys) {
    nlohmann::ordered_json doc = {{"keys", nlohmann::ordered_json::array()}};
    for (const json& k : keys) {
      nlohmann::ordered_json flipped = nlohmann::ordered_json::object();
      for (auto it = k.rbegin(); it != k.rend(); ++it) flipped[it.key()] = *it;
      doc["keys"].push_back(flipped);
    }
    std::ofstream(jwks_dir_.File("jwks.json")) << doc.dump(4) << "\n";
  }

  double KeyFetches() {
    return MetricValue(
               gw_->Metrics(),
               R"(agni_gateway_identity_jwks_refreshes_total{issuer="corp",result="success"})")
        .value_or(0);
  }

  // Makes the gateway read the jwks_file again the way a rotation at the
  // provider does: a token with an unknown kid, retried (bounded) until
  // jwks_min_refresh (1 s) has passed and a fetch has succeeded.
  void RefetchKeys() {
    const double before = KeyFetches();
    const std::string unknown = SignJwt(rsa_, "RS256", "not-a-kid", Claims());
    for (int i = 0; i < 100 && KeyFetches() == before; ++i) {
      auto res = Release(unknown);
      ASSERT_TRUE(res);
      ASSERT_EQ(res->status, 401);
      if (KeyFetches() == before) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    ASSERT_EQ(KeyFetches(), before + 1);
  }

  json Claims(const std::vector<std::string>& groups = {"okta-telecom-ops"}) {
    return {{"iss", kFileIssuer},
            {"aud", "agni-gateway"},
            {"email", "pia@example.com"},
            {"groups", groups},
            {"jti", "jti-42"},
            {"iat", NowSeconds() - 5},
            {"exp", NowSeconds() + 300}};
  }

  httplib::Result Release(const std::string& token) {
    return gw_->Client().Delete(ReleasePath(kNumber), Bearer(token));
  }

  TempDir jwks_dir_;
  TestSigningKey rsa_{TestSigningKey::Type::kRsa};
  TestSigningKey ec_{TestSigningKey::Type::kEc256};
  FakeUpstream upstream_;
  std::unique_ptr<GatewayHarness> gw_;
};

TEST_F(IdentityFileTest,
       ReleaseByAProviderGroupReachesTheUpstreamWithTheRealKey) {
  const std::string token = SignJwt(ec_, "ES256", "ec-1", Claims());
  auto res = Release(token);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  const auto received = upstream_.Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].headers.count("Authorization"), 0u);
  ASSERT_EQ(received[0].headers.count("X-Api-Key"), 1u);
  EXPECT_EQ(received[0].headers.find("X-Api-Key")->second, kApiKey);
  for (const auto& [name, value] : received[0].headers) {
    EXPECT_EQ(value.find(token.substr(token.rfind('.') + 1)), std::string::npos)
        << name;
  }

  bool intent_seen = false;
  for (const json& row : gw_->AuditRows()) {
    EXPECT_EQ(row.dump().find(token.substr(token.rfind('.') + 1)),
              std::string::npos);
    if (row.value("stage", "") != "intent") continue;
    intent_seen = true;
    EXPECT_EQ(row.value("principal", ""), "pia@example.com");
    EXPECT_EQ(row.value("auth_method", ""), "oidc");
    EXPECT_EQ(row.value("groups", ""), R"(["telecom-ops"])");
    EXPECT_NE(row.value("detail", "").find(std::string("iss=") + kFileIssuer),
              std::string::npos);
    EXPECT_NE(row.value("detail", "").find("jti=jti-42"), std::string::npos);
  }
  EXPECT_TRUE(intent_seen);
  EXPECT_EQ(
      MetricValue(gw_->Metrics(),
                  R"(agni_gateway_auth_total{method="oidc",result="success"})"),
      1.0);
}

TEST_F(IdentityFileTest, ATokenSentAgainIsAnsweredFromTheCacheAndAuditedAlike) {
  const std::string token = SignJwt(rsa_, "RS256", "rsa-1", Claims());
  for (int i = 0; i < 2; ++i) {
    auto res = Release(token);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
  }
  EXPECT_EQ(upstream_.Received().size(), 2u);
  const std::string metrics = gw_->Metrics();
  EXPECT_EQ(
      MetricValue(metrics, R"(agni_gateway_jwt_cache_total{result="miss"})"),
      1.0);
  EXPECT_EQ(
      MetricValue(metrics, R"(agni_gateway_jwt_cache_total{result="hit"})"),
      1.0);
  int intents = 0;
  for (const json& row : gw_->AuditRows()) {
    if (row.value("stage", "") != "intent") continue;
    ++intents;
    EXPECT_EQ(row.value("principal", ""), "pia@example.com");
    EXPECT_EQ(row.value("groups", ""), R"(["telecom-ops"])");
    EXPECT_NE(row.value("detail", "").find("jti=jti-42"), std::string::npos);
  }
  EXPECT_EQ(intents, 2);
}

TEST_F(IdentityFileTest, AnUnchangedKeySetKeepsTokensCachedAcrossARefetch) {
  const std::string token = SignJwt(rsa_, "RS256", "rsa-1", Claims());
  auto first = Release(token);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;

  WriteJwksReformatted({rsa_.PublicJwk("rsa-1"), ec_.PublicJwk("ec-1")});
  RefetchKeys();

  auto again = Release(token);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(MetricValue(gw_->Metrics(),
                        R"(agni_gateway_jwt_cache_total{result="hit"})"),
            1.0);
  EXPECT_EQ(upstream_.Received().size(), 2u);
}

TEST_F(IdentityFileTest, AKeyReplacedUnderItsKidRefusesItsCachedTokensAtOnce) {
  const std::string token = SignJwt(rsa_, "RS256", "rsa-1", Claims());
  for (int i = 0; i < 2; ++i) {
    auto res = Release(token);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
  }
  ASSERT_EQ(MetricValue(gw_->Metrics(),
                        R"(agni_gateway_jwt_cache_total{result="hit"})"),
            1.0);

  const TestSigningKey replacement(TestSigningKey::Type::kRsa);
  WriteJwks({replacement.PublicJwk("rsa-1"), ec_.PublicJwk("ec-1")});
  RefetchKeys();

  auto old = Release(token);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->status, 401);
  EXPECT_EQ(Detail(old), "signature");
  EXPECT_EQ(MetricValue(gw_->Metrics(),
                        R"(agni_gateway_jwt_cache_total{result="hit"})"),
            1.0);
  auto fresh = Release(SignJwt(replacement, "RS256", "rsa-1", Claims()));
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->status, 200) << fresh->body;
  EXPECT_EQ(upstream_.Received().size(), 3u);
}

TEST_F(IdentityFileTest, AGroupOutsideThePolicyIsDenied) {
  auto res = Release(SignJwt(ec_, "ES256", "ec-1", Claims({"contractors"})));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_TRUE(upstream_.Received().empty());
}

TEST_F(IdentityFileTest,
       EveryHostileTokenIs401NamingTheCheckAndNothingIsForwarded) {
  auto with = [&](const std::string& key, json value) {
    return WithClaim(Claims(), key, std::move(value));
  };
  const std::string good = SignJwt(rsa_, "RS256", "rsa-1", Claims());
  json mallory = Claims();
  mallory["email"] = "mallory@example.com";
  const std::string tampered = good.substr(0, good.find('.') + 1) +
                               Base64UrlEncode(mallory.dump()) +
                               good.substr(good.rfind('.'));
  struct Case {
    const char* name;
    std::string token;
    const char* check;
  } cases[] = {
      {"expired",
       SignJwt(rsa_, "RS256", "rsa-1", with("exp", NowSeconds() - 3600)),
       "expired"},
      {"not yet valid",
       SignJwt(rsa_, "RS256", "rsa-1", with("nbf", NowSeconds() + 3600)),
       "not_yet_valid"},
      {"wrong audience",
       SignJwt(rsa_, "RS256", "rsa-1", with("aud", "another-app")), "audience"},
      {"wrong issuer",
       SignJwt(rsa_, "RS256", "rsa-1", with("iss", "https://evil.example")),
       "issuer"},
      {"alg none",
       CompactJws(R"({"alg":"none","kid":"rsa-1"})", Claims().dump(), ""),
       "algorithm"},
      {"HS256 keyed with the RSA public key",
       SignHs256(R"({"alg":"HS256","kid":"rsa-1"})", Claims().dump(),
                 rsa_.PublicPem()),
       "algorithm"},
      {"tampered payload", tampered, "signature"},
      {"unknown kid", SignJwt(rsa_, "RS256", "who-knows", Claims()),
       "unknown_key"},
      {"garbage segments", "eyJhbGciOi.@@@.###", "malformed"},
      {"duplicate keys in the header JSON",
       CompactJws(R"({"alg":"RS256","kid":"rsa-1","kid":"ec-1"})",
                  Claims().dump(), "sig"),
       "malformed"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto res = Release(c.token);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    EXPECT_EQ(Detail(res), c.check);
    EXPECT_EQ(res->body.find(c.token), std::string::npos);
  }
  const std::string metrics = gw_->Metrics();
  EXPECT_EQ(MetricValue(
                metrics,
                R"(agni_gateway_auth_total{method="oidc",result="algorithm"})"),
            2.0);
  EXPECT_EQ(
      MetricValue(metrics,
                  R"(agni_gateway_auth_total{method="oidc",result="expired"})"),
      1.0);
  int unauthenticated = 0;
  for (const json& row : gw_->AuditRows()) {
    if (row.value("reason", "") != "unauthenticated") continue;
    ++unauthenticated;
    for (const Case& c : cases) {
      EXPECT_EQ(row.dump().find(c.token), std::string::npos);
    }
  }
  EXPECT_EQ(unauthenticated, static_cast<int>(std::size(cases)));
}

TEST_F(IdentityFileTest, AnOversizedTokenIs401TooLargeAuditedNothingForwarded) {
  auto pad = [&](std::size_t n) {
    json c = Claims();
    c["pad"] = std::string(n, 'x');
    return c;
  };
  // Over 8 KiB, past the listener's header line limit, yet within its
  // credential limit: refused by the token check like the others.
  const std::string oversized_token =
      SignJwt(rsa_, "RS256", "rsa-1", pad(9000));
  auto oversized = Release(oversized_token);
  ASSERT_TRUE(oversized);
  EXPECT_EQ(oversized->status, 401);
  EXPECT_EQ(Detail(oversized), "too_large");
  // Past the credential limit too: the listener refuses the request.
  auto huge = Release(SignJwt(rsa_, "RS256", "rsa-1", pad(20000)));
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 400);
  // On one connection: after an oversized token, the next request is served.
  httplib::Client client = gw_->Client();
  auto big = client.Delete(ReleasePath(kNumber), Bearer(oversized_token));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 401);
  auto whoami = client.Get("/v1/whoami",
                           Bearer(SignJwt(rsa_, "RS256", "rsa-1", Claims())));
  ASSERT_TRUE(whoami);
  EXPECT_EQ(whoami->status, 200);
  EXPECT_TRUE(upstream_.Received().empty());
  EXPECT_EQ(MetricValue(
                gw_->Metrics(),
                R"(agni_gateway_auth_total{method="oidc",result="too_large"})"),
            2.0);
  int too_large = 0;
  for (const json& row : gw_->AuditRows()) {
    if (row.value("reason", "") != "unauthenticated") continue;
    EXPECT_EQ(row.value("response_status", 0), 401);
    too_large += row.value("detail", "").starts_with("too_large") ? 1 : 0;
    EXPECT_EQ(row.dump().find(oversized_token.substr(0, 40)),
              std::string::npos);
  }
  EXPECT_EQ(too_large, 2);
}

TEST_F(IdentityFileTest, ReadsByAProviderPersonAreAuditedWithIssAndJti) {
  const std::string token =
      SignJwt(ec_, "ES256", "ec-1", Claims({"compliance"}));
  httplib::Client c = gw_->Client();
  auto whoami = c.Get("/v1/whoami", Bearer(token));
  ASSERT_TRUE(whoami);
  EXPECT_EQ(whoami->status, 200) << whoami->body;
  auto audit = c.Get("/v1/audit?user=pia%40example.com", Bearer(token));
  ASSERT_TRUE(audit);
  EXPECT_EQ(audit->status, 200) << audit->body;

  int reads = 0;
  for (const json& row : gw_->AuditRows()) {
    const std::string path = row.value("path", "");
    if (!path.starts_with("/v1/whoami") && !path.starts_with("/v1/audit")) {
      continue;
    }
    SCOPED_TRACE(path);
    ++reads;
    EXPECT_EQ(row.value("auth_method", ""), "oidc");
    const std::string detail = row.value("detail", "");
    EXPECT_TRUE(
        detail.starts_with(std::string("iss=") + kFileIssuer + "; jti=jti-42"))
        << detail;
    EXPECT_EQ(row.dump().find(token.substr(token.rfind('.') + 1)),
              std::string::npos);
  }
  EXPECT_EQ(reads, 2);
}

TEST_F(IdentityFileTest, ReloadReadsTheKeysAgain) {
  TestSigningKey rotated(TestSigningKey::Type::kRsa);
  const std::string token = SignJwt(rotated, "RS256", "rsa-2", Claims());
  auto before = Release(token);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 401);
  EXPECT_EQ(Detail(before), "unknown_key");
  WriteJwks({rotated.PublicJwk("rsa-2")});
  gw_->Reload({}, kDefaultPolicy);
  auto after = Release(token);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200) << after->body;
  auto old = Release(SignJwt(rsa_, "RS256", "rsa-1", Claims()));
  ASSERT_TRUE(old);
  EXPECT_EQ(old->status, 401);
  EXPECT_EQ(upstream_.Received().size(), 1u);
}

// A JWKS server on loopback that answers its first request and holds every
// later one until released (or its own generous bound passes).
class HangingJwksServer {
 public:
  explicit HangingJwksServer(std::string jwks) : jwks_(std::move(jwks)) {
    server_.Get("/jwks", [this](const httplib::Request&,
                                httplib::Response& res) {
      if (requests_++ > 0) {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::chrono::seconds(60), [&] { return released_; });
      }
      res.set_content(jwks_, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~HangingJwksServer() {
    Release();
    server_.stop();
    thread_.join();
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/jwks";
  }
  int requests() const { return requests_; }

 private:
  std::string jwks_;
  httplib::Server server_;
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int port_ = 0;
  std::thread thread_;
};

TEST(IdentityHangingProviderTest,
     UnknownKidsAreRefusedWhileTheProviderHangsAndOthersAreServed) {
  TestSigningKey rsa(TestSigningKey::Type::kRsa);
  HangingJwksServer jwks(
      json{{"keys", json::array({rsa.PublicJwk("rsa-1")})}}.dump());
  FakeUpstream upstream;
  GatewayHarness::Options o{.upstream_base_url = upstream.url()};
  o.extra_config = IdentityConfig({{"issuer", kFileIssuer},
                                   {"jwks_url", jwks.url()},
                                   {"jwks_min_refresh", "1s"}});
  o.extra_config["server"] = {{"threads", 4}};
  GatewayHarness gw(o);
  ASSERT_EQ(jwks.requests(), 1);
  // Past jwks_min_refresh since the start-up fetch, so an unknown kid may
  // refetch.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  json claims = {{"iss", kFileIssuer},
                 {"aud", "agni-gateway"},
                 {"email", "pia@example.com"},
                 {"groups", {"okta-telecom-ops"}},
                 {"exp", NowSeconds() + 300}};

  // More requests with unknown kids at once than the listener has threads.
  std::vector<std::future<httplib::Result>> unknown;
  for (int i = 0; i < 12; ++i) {
    unknown.push_back(std::async(std::launch::async, [&, i] {
      return gw.Client().Delete(
          ReleasePath(kNumber),
          Bearer(SignJwt(rsa, "RS256", Numbered("rotated-", i), claims)));
    }));
  }
  for (auto& f : unknown) {
    httplib::Result res = f.get();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    EXPECT_EQ(Detail(res), "unknown_key");
  }
  // The refetch still hangs; the listener serves everyone else.
  auto good = gw.Client().Delete(
      ReleasePath(kNumber), Bearer(SignJwt(rsa, "RS256", "rsa-1", claims)));
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200) << good->body;
  auto whoami = gw.Client().Get("/v1/whoami", Bearer(gw.olga().token));
  ASSERT_TRUE(whoami);
  EXPECT_EQ(whoami->status, 200);
  // They asked for a refetch, which hangs (one at a time, and at most once
  // per second: tests/unit/jwt_test.cc counts them exactly).
  EXPECT_GE(jwks.requests(), 2);
  EXPECT_EQ(upstream.Received().size(), 1u);
  jwks.Release();
}

// A provider on loopback http that answers discovery with what the test
// sets, and serves a JWKS at the jwks_uri it names (counting the requests).
// Thread-safe.
class DiscoveryServer {
 public:
  explicit DiscoveryServer(std::string jwks) : jwks_(std::move(jwks)) {
    server_.Get("/.well-known/openid-configuration",
                [this](const httplib::Request&, httplib::Response& res) {
                  std::lock_guard lock(mu_);
                  res.status = status_;
                  res.set_content(document_, "application/json");
                });
    server_.Get("/jwks",
                [this](const httplib::Request&, httplib::Response& res) {
                  ++jwks_requests_;
                  res.set_content(jwks_, "application/json");
                });
    port_ = server_.bind_to_any_port("127.0.0.1");
    Serve(200, json{{"issuer", issuer()}, {"jwks_uri", issuer() + "/jwks"}});
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 10000 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~DiscoveryServer() {
    server_.stop();
    thread_.join();
  }
  std::string issuer() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }
  void Serve(int status, const json& document) {
    ServeText(status, document.dump());
  }
  void ServeText(int status, std::string text) {
    std::lock_guard lock(mu_);
    status_ = status;
    document_ = std::move(text);
  }
  int jwks_requests() const { return jwks_requests_; }

 private:
  const std::string jwks_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  int status_ = 200;
  std::string document_;
  std::atomic<int> jwks_requests_{0};
};

TEST(ProviderDiscoveryTest, TheDocumentMustNameItsIssuerExactly) {
  DiscoveryServer idp("{}");
  const std::string url = idp.issuer() + "/.well-known/openid-configuration";
  const auto fetch = [&](const std::string& issuer) {
    return FetchDiscovery(issuer, "", std::chrono::seconds(5));
  };

  DiscoveryDocument good = fetch(idp.issuer());
  EXPECT_EQ(good.error, "");
  EXPECT_EQ(good.url, url);
  EXPECT_EQ(good.document.value("jwks_uri", ""), idp.issuer() + "/jwks");

  // Configured with a trailing slash: the same document URL, but the
  // document names the issuer without it.
  DiscoveryDocument slash = fetch(idp.issuer() + "/");
  EXPECT_EQ(slash.url, url);
  EXPECT_EQ(slash.error, url + " names a different issuer");
  EXPECT_TRUE(slash.document.is_null());

  const std::vector<std::pair<json, std::string>> wrong = {
      {{{"issuer", "https://evil.example.com"}}, "names a different issuer"},
      {{{"issuer", idp.issuer() + "/"}}, "names a different issuer"},
      {{{"jwks_uri", idp.issuer() + "/jwks"}}, "names a different issuer"},
      {{{"issuer", 42}}, "names a different issuer"},
      {json::array({idp.issuer()}), "is not a JSON object"},
  };
  for (const auto& [document, error] : wrong) {
    idp.Serve(200, document);
    DiscoveryDocument d = fetch(idp.issuer());
    EXPECT_EQ(d.error, url + " " + error) << document.dump();
    EXPECT_TRUE(d.document.is_null()) << document.dump();
  }
  idp.ServeText(200, "<html>not json</html>");
  EXPECT_EQ(fetch(idp.issuer()).error, url + " is not a JSON object");
  idp.Serve(404, {{"issuer", idp.issuer()}});
  EXPECT_EQ(fetch(idp.issuer()).error, url + " answered 404");
  // Plain http only to loopback: the document is never asked for.
  EXPECT_NE(fetch("http://login.example.com").error.find("refusing to call"),
            std::string::npos);
}

TEST(IdentityDiscoveryTest, NoKeysAreTakenFromADocumentNamingAnotherIssuer) {
  TestSigningKey rsa(TestSigningKey::Type::kRsa);
  DiscoveryServer idp(
      json{{"keys", json::array({rsa.PublicJwk("rsa-1")})}}.dump());
  idp.Serve(200, {{"issuer", "https://login.example.com/realms/corp"},
                  {"jwks_uri", idp.issuer() + "/jwks"}});
  FakeUpstream upstream;
  GatewayHarness::Options o{.upstream_base_url = upstream.url()};
  o.extra_config = IdentityConfig({{"issuer", idp.issuer()}});
  GatewayHarness gw(o);

  auto ready = gw.AdminClient().Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_NE(ready->body.find("identity keys"), std::string::npos);
  EXPECT_EQ(
      MetricValue(
          gw.Metrics(),
          R"(agni_gateway_identity_jwks_refreshes_total{issuer="corp",result="failure"})"),
      1.0);
  EXPECT_EQ(idp.jwks_requests(), 0);
  const json claims = {{"iss", idp.issuer()},
                       {"aud", "agni-gateway"},
                       {"email", "pia@example.com"},
                       {"groups", {"okta-telecom-ops"}},
                       {"exp", NowSeconds() + 300}};
  auto res = gw.Client().Delete(ReleasePath(kNumber),
                                Bearer(SignJwt(rsa, "RS256", "rsa-1", claims)));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(Detail(res), "unknown_key");
  EXPECT_EQ(idp.jwks_requests(), 0);
  EXPECT_TRUE(upstream.Received().empty());
}

TEST(IdentityReadinessTest, ReadyzSaysIdentityKeysUntilTheyLoad) {
  FakeUpstream upstream;
  GatewayHarness::Options o{.upstream_base_url = upstream.url()};
  o.extra_config = IdentityConfig(
      {{"issuer", "https://login.example.com"},
       {"jwks_url",
        "http://127.0.0.1:" + std::to_string(FreePort()) + "/jwks"}});
  GatewayHarness gw(o);
  auto res = gw.AdminClient().Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_NE(res->body.find("identity keys"), std::string::npos);
  EXPECT_EQ(
      MetricValue(
          gw.Metrics(),
          R"(agni_gateway_identity_jwks_refreshes_total{issuer="corp",result="failure"})"),
      1.0);
  // Static tokens keep working meanwhile.
  auto release =
      gw.Client().Delete(ReleasePath(kNumber), Bearer(gw.olga().token));
  ASSERT_TRUE(release);
  EXPECT_EQ(release->status, 200);
}

// ---------------------------------------------------------------------------
// A real OpenID provider.

// tests/idp/provider.js under node: https on 127.0.0.1 with the Pki's server
// certificate, JWT access tokens by client credentials. Not thread-safe.
class TestProvider {
 public:
  TestProvider(const Pki& pki, const std::string& signing_key_file,
               int port = 0) {
    const std::string log = pki.File("provider.log");
    std::ofstream(log, std::ios::trunc).close();
    process_ = std::make_unique<Process>(Process::Options{
        .argv = {"node", Script("provider.js"), "--cert",
                 pki.File("server.pem"), "--key", pki.File("server.key"),
                 "--signing-key", signing_key_file, "--port",
                 std::to_string(port)},
        .log_file = log});
    const bool up = WaitFor(
        [&] {
          const std::string out = process_->Log();
          const auto at = out.find("listening ");
          if (at == std::string::npos) return false;
          port_ = std::stoi(out.substr(at + 10));
          return true;
        },
        std::chrono::seconds(60));
    if (!up) {
      throw std::runtime_error("the test provider did not start:\n" +
                               process_->Log());
    }
    ca_ = pki.File("ca.pem");
  }
  ~TestProvider() { Stop(); }

  static std::string Script(const std::string& name) {
    return std::string(AGNI_SOURCE_DIR) + "/tests/idp/" + name;
  }

  void Stop() {
    if (process_ && process_->Running()) {
      process_->Signal(SIGTERM);
      if (!process_->Wait(std::chrono::seconds(10))) process_->Kill();
    }
  }

  int port() const { return port_; }
  std::string issuer() const {
    return "https://127.0.0.1:" + std::to_string(port_);
  }

  std::unique_ptr<httplib::SSLClient> Client() const {
    auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", port_);
    c->set_ca_cert_path(ca_.c_str());
    c->enable_server_certificate_verification(true);
    c->set_read_timeout(10, 0);
    return c;
  }

  // An access token for client `who` (a person: olga, alice, mallory).
  std::string Token(const std::string& who) const {
    auto c = Client();
    c->set_basic_auth(who.c_str(), (who + "-secret").c_str());
    auto res = c->Post("/token",
                       "grant_type=client_credentials&resource=urn%3Aagni-"
                       "gateway&scope=release",
                       "application/x-www-form-urlencoded");
    if (!res || res->status != 200) {
      throw std::runtime_error("no token from the provider: " +
                               (res ? res->body : std::string("no answer")));
    }
    return json::parse(res->body).at("access_token").get<std::string>();
  }

  int JwksRequests() const {
    auto res = Client()->Get("/test/jwks-requests");
    return res && res->status == 200 ? std::stoi(res->body) : -1;
  }

 private:
  std::unique_ptr<Process> process_;
  int port_ = 0;
  std::string ca_;
};

class ProviderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (RunCommand({"node", "--version"}, std::chrono::seconds(30)).exit_code !=
        0) {
      skip_ = "node is not installed (deploy/install-deps.sh installs it)";
      return;
    }
    CommandResult install = RunCommand(
        {"bash", TestProvider::Script("install.sh")}, std::chrono::minutes(5));
    if (install.exit_code != 0) {
      throw std::runtime_error("tests/idp/install.sh failed:\n" +
                               install.output);
    }
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  // A fresh private signing key (RS256) for the provider, in a file.
  std::string NewSigningKey(const std::string& kid) {
    CommandResult r = RunCommand({"node", TestProvider::Script("keygen.js"),
                                  "--alg", "RS256", "--kid", kid},
                                 std::chrono::seconds(60));
    if (r.exit_code != 0) throw std::runtime_error("keygen: " + r.output);
    const std::string file = pki_.File(kid + ".jwk.json");
    std::ofstream(file) << r.output;
    return file;
  }

  std::unique_ptr<GatewayHarness> GatewayFor(const TestProvider& idp,
                                             const std::string& min_refresh) {
    GatewayHarness::Options o{.upstream_base_url = upstream_.url()};
    o.extra_config = IdentityConfig({{"issuer", idp.issuer()},
                                     {"ca_file", pki_.File("ca.pem")},
                                     {"jwks_min_refresh", min_refresh}});
    return std::make_unique<GatewayHarness>(o);
  }

  httplib::Result Release(GatewayHarness& gw, const std::string& token) {
    return gw.Client().Delete(ReleasePath(kNumber), Bearer(token));
  }

  static inline std::string skip_;
  Pki pki_;
  FakeUpstream upstream_;
};

TEST_F(ProviderTest, DiscoveryKeysAndAReleaseAllowedByTheTokensGroup) {
  TestProvider idp(pki_, NewSigningKey("k1"));
  auto gw = GatewayFor(idp, "1s");
  auto ready = gw->AdminClient().Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;

  auto res = Release(*gw, idp.Token("olga"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  const auto received = upstream_.Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].headers.find("X-Api-Key")->second, kApiKey);
  EXPECT_EQ(received[0].headers.count("Authorization"), 0u);
  bool outcome_seen = false;
  for (const json& row : gw->AuditRows()) {
    if (row.value("stage", "") != "outcome") continue;
    outcome_seen = true;
    EXPECT_EQ(row.value("principal", ""), "olga@example.com");
    EXPECT_EQ(row.value("auth_method", ""), "oidc");
    EXPECT_NE(row.value("detail", "").find("iss=" + idp.issuer()),
              std::string::npos);
  }
  EXPECT_TRUE(outcome_seen);

  // alice's token carries "support", which may release only +1555 numbers.
  auto denied = Release(*gw, idp.Token("alice"));
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);
  EXPECT_EQ(upstream_.Received().size(), 1u);
}

TEST_F(ProviderTest, KeyRotationWithoutRestartingTheGateway) {
  auto idp = std::make_unique<TestProvider>(pki_, NewSigningKey("k1"));
  const int port = idp->port();
  auto gw = GatewayFor(*idp, "1s");
  const std::string old_token = idp->Token("olga");
  auto first = Release(*gw, old_token);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;

  // The provider comes back on the same address with only a new key.
  idp->Stop();
  idp = std::make_unique<TestProvider>(pki_, NewSigningKey("k2"), port);
  const std::string new_token = idp->Token("olga");
  // Its kid is unknown until the gateway refetches, at most once per
  // jwks_min_refresh (1 s): bounded retries.
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    auto res = Release(*gw, new_token);
    ASSERT_TRUE(res);
    status = res->status;
    if (status != 200) {
      EXPECT_EQ(Detail(res), "unknown_key");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_EQ(status, 200);
  // The refetch dropped the removed key: its tokens are refused now.
  auto old = Release(*gw, old_token);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->status, 401);
  EXPECT_EQ(Detail(old), "unknown_key");
  EXPECT_EQ(upstream_.Received().size(), 2u);
  EXPECT_GE(
      MetricValue(
          gw->Metrics(),
          R"(agni_gateway_identity_jwks_refreshes_total{issuer="corp",result="success"})")
          .value_or(0),
      2.0);
}

TEST_F(ProviderTest,
       AnApproverSignedInAtTheProviderLetsAStaticUsersReleaseThrough) {
  TestProvider idp(pki_, NewSigningKey("k1"));
  GatewayHarness::Options o = GatewayHarness::ForApprovals(upstream_.url());
  o.policy_json = R"({"rules":[
    {"id":"prod-needs-one","effect":"require_approval","groups":["support"],
     "numbers":["+1415*"],
     "approval":{"approvals":1,"from_groups":["telecom-ops"],"ttl":"24h",
                 "execute_within":"1h"}},
    {"id":"support-prod","effect":"allow","groups":["support"],
     "numbers":["+1415*"]}]})";
  o.extra_config = IdentityConfig({{"issuer", idp.issuer()},
                                   {"ca_file", pki_.File("ca.pem")},
                                   {"jwks_min_refresh", "1s"}});
  GatewayHarness gw(o);
  httplib::Client c = gw.Client();
  const httplib::Headers alice = Bearer(gw.alice().token);

  auto created = c.Delete(ReleasePath(kNumber), alice);
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 202) << created->body;
  const std::string id =
      json::parse(created->body)["approval"]["id"].get<std::string>();
  EXPECT_TRUE(upstream_.Received().empty());

  // olga exists only at the provider; her token's group makes her eligible.
  const std::string token = idp.Token("olga");
  auto listed = c.Get("/v1/approvals", Bearer(token));
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->status, 200) << listed->body;
  auto approved = c.Post("/v1/approvals/" + id + "/approve", Bearer(token), "",
                         "application/json");
  ASSERT_TRUE(approved);
  ASSERT_EQ(approved->status, 200) << approved->body;

  httplib::Headers execute = alice;
  execute.emplace("X-Approval-Id", id);
  auto released = c.Delete(ReleasePath(kNumber), execute);
  ASSERT_TRUE(released);
  EXPECT_EQ(released->status, 200) << released->body;
  const auto received = upstream_.Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].method, "DELETE");
  EXPECT_EQ(received[0].headers.count("Authorization"), 0u);

  // Every record of olga's names her provider; none holds her token.
  const std::string signature = token.substr(token.rfind('.') + 1);
  int olga_rows = 0;
  bool approval_row = false, read_row = false;
  for (const json& row : gw.AuditRows()) {
    EXPECT_EQ(row.dump().find(signature), std::string::npos);
    if (row.value("principal", "") != "olga@example.com") continue;
    ++olga_rows;
    EXPECT_EQ(row.value("auth_method", ""), "oidc");
    const std::string detail = row.value("detail", "");
    EXPECT_TRUE(detail.starts_with("iss=" + idp.issuer() + "; jti=")) << detail;
    approval_row |= row.value("stage", "") == "approval";
    read_row |= row.value("path", "") == "/v1/approvals";
  }
  EXPECT_GE(olga_rows, 2);
  EXPECT_TRUE(approval_row);
  EXPECT_TRUE(read_row);
}

TEST_F(ProviderTest, RandomKidsCannotMakeTheGatewayHammerTheProvider) {
  TestProvider idp(pki_, NewSigningKey("k1"));
  auto gw = GatewayFor(idp, "30s");
  const int at_start = idp.JwksRequests();
  EXPECT_EQ(at_start, 1);
  TestSigningKey forger(TestSigningKey::Type::kRsa);
  std::mt19937_64 random(std::random_device{}());
  for (int i = 0; i < 100; ++i) {
    json claims = {{"iss", idp.issuer()},
                   {"aud", "agni-gateway"},
                   {"email", "olga@example.com"},
                   {"groups", {"okta-telecom-ops"}},
                   {"exp", NowSeconds() + 300}};
    auto res = Release(
        *gw, SignJwt(forger, "RS256",
                     Numbered("kid-", static_cast<long long>(random() >> 1)),
                     claims));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    EXPECT_EQ(Detail(res), "unknown_key");
  }
  EXPECT_LE(idp.JwksRequests(), 2);
  EXPECT_TRUE(upstream_.Received().empty());
}

}  // namespace
}  // namespace agni::testing
