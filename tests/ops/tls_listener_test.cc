// TLS on the main listener, and mTLS mapping client certificates to users,
// against the real binary. The test generates its own CAs and certificates
// with the openssl CLI.
#include <gtest/gtest.h>

#include "gateway/config/config.h"
#include "tests/ops/ops_gateway.h"
#include "tests/support/pki.h"

namespace agni::testing {
namespace {

std::unique_ptr<httplib::SSLClient> TlsClient(int port, const Pki& pki,
                                              const std::string& client = "",
                                              const Pki* client_pki = nullptr) {
  const Pki& cp = client_pki ? *client_pki : pki;
  auto c = client.empty()
               ? std::make_unique<httplib::SSLClient>("127.0.0.1", port)
               : std::make_unique<httplib::SSLClient>("127.0.0.1", port,
                                                      cp.File(client + ".pem"),
                                                      cp.File(client + ".key"));
  c->set_ca_cert_path(pki.File("ca.pem").c_str());
  c->enable_server_certificate_verification(true);
  c->set_read_timeout(10, 0);
  c->set_connection_timeout(5, 0);
  return c;
}

// The operations gateway serving HTTPS with `pki`'s server certificate;
// with `client_auth`, mapping client certificates to olga and alice.
GatewayProcess::Options TlsGateway(const FakeUpstream& upstream, const Pki& pki,
                                   const std::string& client_auth) {
  nlohmann::json tls = {{"cert_file", pki.File("server.pem")},
                        {"key_file", pki.File("server.key")}};
  if (!client_auth.empty()) {
    tls["client_ca_file"] = pki.File("ca.pem");
    tls["client_auth"] = client_auth;
    tls["client_certificates"] = {
        {{"user", "olga"}, {"subject", "CN=ops-bot,O=Example"}},
        {{"user", "alice"}, {"san", "DNS:alice-svc.internal"}}};
  }
  return OpsGateway(
      {.upstream_base_url = upstream.url(), .extra_config = {{"tls", tls}}});
}

TEST(TlsListenerTest, ServesHttpsAndTokensStillAuthenticate) {
  Pki pki;
  FakeUpstream upstream;
  GatewayProcess gw(TlsGateway(upstream, pki, ""));
  auto res =
      TlsClient(gw.port(), pki)->Get("/v1/whoami", Bearer(gw.alice().token));
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(nlohmann::json::parse(res->body)["auth_method"], "bearer");

  // Plain HTTP on the TLS port gets no answer.
  auto plain = gw.Client().Get("/v1/whoami", Bearer(gw.alice().token));
  EXPECT_FALSE(plain && plain->status == 200);

  // A client that does not trust the gateway's CA refuses the handshake.
  Pki other;
  auto wrong_ca = TlsClient(gw.port(), other)->Get("/v1/whoami");
  EXPECT_FALSE(wrong_ca);
}

TEST(TlsListenerTest, ClientCertificatesMapToConfiguredUsers) {
  Pki pki;
  pki.Issue("opsbot", "/O=Example/CN=ops-bot", "");
  pki.Issue("alicesvc", "/CN=whatever", "DNS:alice-svc.internal");
  pki.Issue("stranger", "/CN=stranger", "DNS:stranger.internal");
  Pki rogue;
  rogue.Issue("opsbot", "/O=Example/CN=ops-bot", "");
  FakeUpstream upstream;
  GatewayProcess gw(TlsGateway(upstream, pki, "optional"));

  auto whoami = [&](std::unique_ptr<httplib::SSLClient> c,
                    httplib::Headers h = {}) {
    return c->Get("/v1/whoami", h);
  };

  auto ops = whoami(TlsClient(gw.port(), pki, "opsbot"));
  ASSERT_TRUE(ops) << httplib::to_string(ops.error()) << gw.process().Log();
  ASSERT_EQ(ops->status, 200) << ops->body;
  EXPECT_EQ(nlohmann::json::parse(ops->body)["user"], "olga");
  EXPECT_EQ(nlohmann::json::parse(ops->body)["auth_method"], "mtls");

  auto alice = whoami(TlsClient(gw.port(), pki, "alicesvc"));
  ASSERT_TRUE(alice);
  EXPECT_EQ(nlohmann::json::parse(alice->body)["user"], "alice");

  // A verified certificate that maps to no user is not a credential.
  auto stranger = whoami(TlsClient(gw.port(), pki, "stranger"));
  ASSERT_TRUE(stranger);
  EXPECT_EQ(stranger->status, 401);

  // "optional": no certificate, a token authenticates as usual; a token
  // wins over a certificate.
  auto token = whoami(TlsClient(gw.port(), pki), Bearer(gw.alice().token));
  ASSERT_TRUE(token);
  EXPECT_EQ(nlohmann::json::parse(token->body)["user"], "alice");
  auto both =
      whoami(TlsClient(gw.port(), pki, "opsbot"), Bearer(gw.alice().token));
  ASSERT_TRUE(both);
  EXPECT_EQ(nlohmann::json::parse(both->body)["user"], "alice");

  // Same subject, signed by another CA: the handshake fails.
  auto forged = whoami(TlsClient(gw.port(), pki, "opsbot", &rogue));
  EXPECT_FALSE(forged && forged->status == 200);

  // A release authenticated by certificate is audited as mtls.
  auto release =
      TlsClient(gw.port(), pki, "opsbot")->Delete(ReleasePath("+15551234567"));
  ASSERT_TRUE(release);
  EXPECT_EQ(release->status, 200) << release->body;
  bool audited = false;
  for (const auto& row : ReadAuditRows(gw.audit_path())) {
    if (row.value("stage", "") == "outcome" &&
        row.value("principal", "") == "olga" &&
        row.value("auth_method", "") == "mtls") {
      audited = true;
    }
  }
  EXPECT_TRUE(audited);
}

TEST(TlsListenerTest, RequireModeRefusesClientsWithoutCertificate) {
  Pki pki;
  pki.Issue("opsbot", "/O=Example/CN=ops-bot", "");
  FakeUpstream upstream;
  GatewayProcess gw(TlsGateway(upstream, pki, "require"));
  auto none =
      TlsClient(gw.port(), pki)->Get("/v1/whoami", Bearer(gw.alice().token));
  EXPECT_FALSE(none && none->status == 200);
  auto ops = TlsClient(gw.port(), pki, "opsbot")->Get("/v1/whoami");
  ASSERT_TRUE(ops);
  EXPECT_EQ(ops->status, 200);
}

// The routes that read a body (approve, deny, cancel, explain) authenticate
// the client certificate's user like every other route.
TEST(TlsListenerTest, ClientCertificateUserMayApproveDenyAndExplain) {
  Pki pki;
  pki.Issue("opsbot", "/O=Example/CN=ops-bot", "");
  FakeUpstream upstream;
  GatewayProcess::Options options = TlsGateway(upstream, pki, "optional");
  options.config.policy_json = R"({"rules":[
    {"id":"prod-needs-one","effect":"require_approval","groups":["support"],
     "numbers":["+1415*"],
     "approval":{"approvals":1,"from_groups":["telecom-ops"],"ttl":"1h",
                 "execute_within":"1h"}},
    {"id":"ops-anything","effect":"allow","groups":["telecom-ops"]}]})";
  options.config.patch["auditors"] = {"compliance", "telecom-ops"};
  GatewayProcess gw(options);
  const auto request = [&](const std::string& number) {
    auto res = TlsClient(gw.port(), pki)
                   ->Delete(ReleasePath(number), Bearer(gw.alice().token));
    EXPECT_TRUE(res && res->status == 202) << (res ? res->body : "");
    return res ? nlohmann::json::parse(res->body)["approval"]["id"]
                     .get<std::string>()
               : std::string();
  };
  const std::string approve_id = request("+14155550101");
  const std::string deny_id = request("+14155550102");

  auto approved =
      TlsClient(gw.port(), pki, "opsbot")
          ->Post("/v1/approvals/" + approve_id + "/approve",
                 R"({"reason":"ticket OPS-7"})", "application/json");
  ASSERT_TRUE(approved) << httplib::to_string(approved.error());
  EXPECT_EQ(approved->status, 200) << approved->body;
  EXPECT_EQ(nlohmann::json::parse(approved->body)["status"], "approved");

  auto denied = TlsClient(gw.port(), pki, "opsbot")
                    ->Post("/v1/approvals/" + deny_id + "/deny",
                           R"({"reason":"not this one"})", "application/json");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 200) << denied->body;

  auto explained =
      TlsClient(gw.port(), pki, "opsbot")
          ->Post("/v1/policy/explain",
                 R"({"user":"alice","phone_number":"+14155550101"})",
                 "application/json");
  ASSERT_TRUE(explained);
  EXPECT_EQ(explained->status, 200) << explained->body;

  // The votes are olga's, authenticated by certificate.
  int mtls_votes = 0;
  for (const auto& row : ReadAuditRows(gw.audit_path())) {
    if (row.value("stage", "") == "approval" &&
        row.value("principal", "") == "olga" &&
        (row.value("outcome", "") == "approved" ||
         row.value("outcome", "") == "denied")) {
      ++mtls_votes;
    }
  }
  EXPECT_EQ(mtls_votes, 2);
}

TEST(TlsConfigTest, EveryProblemIsReportedWithItsPath) {
  TempDir dir;
  dir.Write("policy.json", R"({"rules":[]})");
  dir.Write("gateway.json", R"({
    "audit": {"path": "audit.db"},
    "users": [{"name": "alice", "token_sha256": ")" +
                                std::string(64, 'a') + R"("}],
    "policy_file": "policy.json",
    "tls": {"cert_file": "missing.pem", "client_auth": "sometimes",
            "client_certificates": [{"user": "bob", "subject": "CN=x"},
                                    {"user": "alice", "san": "x.internal"},
                                    {"user": "alice"}]}})");
  const ConfigLoad load = LoadConfig(dir.File("gateway.json"));
  std::vector<std::string> paths;
  for (const auto& e : load.errors) paths.push_back(e.path);
  auto has = [&](const std::string& p) {
    return std::find(paths.begin(), paths.end(), p) != paths.end();
  };
  EXPECT_TRUE(has("$.tls.cert_file"));
  EXPECT_TRUE(has("$.tls.key_file"));
  EXPECT_TRUE(has("$.tls.client_auth"));
  EXPECT_TRUE(has("$.tls.client_certificates"));  // no client_ca_file
  EXPECT_TRUE(has("$.tls.client_certificates[0].user"));
  EXPECT_TRUE(has("$.tls.client_certificates[1].san"));
  EXPECT_TRUE(has("$.tls.client_certificates[2]"));
}

}  // namespace
}  // namespace agni::testing
