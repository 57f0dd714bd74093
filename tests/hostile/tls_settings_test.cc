// TLS settings towards the upstream, proven against the real binary:
// - TLS 1.2 is the minimum even when the system OpenSSL policy would allow
//   TLS 1.0/1.1 (the binary runs with a permissive OPENSSL_CONF, so only the
//   gateway's own setting can refuse), and the key is never sent;
// - no config key switches certificate or host-name verification off.
// (Certificate and host-name failures themselves: tests/integration/
// tls_upstream_test.cc and tests/hostile/secret_leak_test.cc.)
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <set>

#include "gateway/config/config.h"
#include "tests/hostile/hostile_gateway.h"
#include "tests/support/pki.h"

namespace agni::testing {
namespace {

// A TLS server limited to [min, max] protocol versions that answers every
// request with a 200 and records the decrypted bytes it received.
class VersionedTlsServer {
 public:
  VersionedTlsServer(const Pki& pki, int min_version, int max_version) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_security_level(ctx_, 0);
    SSL_CTX_set_cipher_list(ctx_, "ALL:@SECLEVEL=0");
    SSL_CTX_set_min_proto_version(ctx_, min_version);
    SSL_CTX_set_max_proto_version(ctx_, max_version);
    if (SSL_CTX_use_certificate_chain_file(
            ctx_, pki.File("server.pem").c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, pki.File("server.key").c_str(),
                                    SSL_FILETYPE_PEM) != 1) {
      throw std::runtime_error("cannot load the test certificate");
    }
    // Listens only once the context is complete.
    listener_ = std::make_unique<LoopbackListener>([this](int c) { Serve(c); });
  }
  ~VersionedTlsServer() {
    listener_.reset();
    SSL_CTX_free(ctx_);
  }
  int port() const { return listener_->port(); }
  int handshakes() const { return handshakes_; }
  int failed_handshakes() const { return failed_; }
  std::string received() const {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  void Serve(int c) {
    timeval tv{5, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
      ++handshakes_;
      char buf[4096];
      const int n = SSL_read(ssl, buf, sizeof buf);
      if (n > 0) {
        std::lock_guard lock(mu_);
        received_.append(buf, static_cast<std::size_t>(n));
      }
      static constexpr char kReply[] =
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
          "Connection: close\r\nContent-Length: 16\r\n\r\n{\"success\":true}";
      SSL_write(ssl, kReply, sizeof kReply - 1);
      SSL_shutdown(ssl);
    } else {
      ++failed_;
      ERR_clear_error();
    }
    SSL_free(ssl);
  }

  SSL_CTX* ctx_ = nullptr;
  std::atomic<int> handshakes_{0};
  std::atomic<int> failed_{0};
  mutable std::mutex mu_;
  std::string received_;
  std::unique_ptr<LoopbackListener> listener_;
};

int Release(const GatewayProcess& gw, std::string* reason) {
  httplib::Client c("127.0.0.1", gw.port());
  c.set_read_timeout(10, 0);
  auto res = c.Delete(ReleasePath("%2B15551230000"), Bearer(gw.alice().token));
  if (!res) return 0;
  const auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (reason && j.is_object() && j.contains("reason")) *reason = j["reason"];
  return res->status;
}

TEST(TlsSettingsTest, Tls12UpstreamWorksUnderThePermissiveSystemPolicy) {
  // Control for the test below: same PKI, same OPENSSL_CONF, TLS 1.2 allowed.
  Pki pki;
  VersionedTlsServer server(pki, TLS1_2_VERSION, TLS1_2_VERSION);
  GatewayProcess gw(
      HostileGateway({.upstream_base_url =
                          "https://127.0.0.1:" + std::to_string(server.port()),
                      .ca_file = pki.File("ca.pem"),
                      .env = {{"OPENSSL_CONF", pki.File("permissive.cnf")}}}));
  EXPECT_EQ(Release(gw, nullptr), 200) << gw.Log();
  EXPECT_EQ(server.handshakes(), 1);
  EXPECT_NE(server.received().find(kLeakApiKey), std::string::npos);
  EXPECT_EQ(gw.Stop(), std::optional<int>(0));
}

TEST(TlsSettingsTest, UpstreamOfferingOnlyTls11IsRefusedAndGetsNoKey) {
  Pki pki;
  // The system policy really allows TLS 1.1 here: openssl s_client gets
  // through, so a refusal below comes from the gateway's own minimum.
  VersionedTlsServer server(pki, TLS1_VERSION, TLS1_1_VERSION);
  const std::string probe =
      "OPENSSL_CONF='" + pki.File("permissive.cnf") +
      "' openssl s_client -connect 127.0.0.1:" + std::to_string(server.port()) +
      " -tls1_1 -CAfile '" + pki.File("ca.pem") +
      "' -verify_return_error </dev/null >/dev/null 2>&1";
  ASSERT_EQ(std::system(probe.c_str()), 0) << "TLS 1.1 not possible here";
  ASSERT_EQ(server.handshakes(), 1);

  GatewayProcess gw(
      HostileGateway({.upstream_base_url =
                          "https://127.0.0.1:" + std::to_string(server.port()),
                      .ca_file = pki.File("ca.pem"),
                      .env = {{"OPENSSL_CONF", pki.File("permissive.cnf")}}}));
  std::string reason;
  EXPECT_EQ(Release(gw, &reason), 502) << gw.Log();
  EXPECT_EQ(reason, "upstream_tls");
  EXPECT_EQ(server.handshakes(), 1)
      << "the gateway completed a TLS 1.1 handshake";
  EXPECT_GE(server.failed_handshakes(), 1);
  EXPECT_EQ(server.received().find(kLeakApiKey), std::string::npos);
  EXPECT_EQ(gw.Stop(), std::optional<int>(0));
}

TEST(TlsSettingsTest, NoConfigKeyTurnsVerificationOff) {
  TempDir dir;
  dir.Write("policy.json", R"({"rules":[]})");
  for (const char* key :
       {"verify", "tls_verify", "insecure", "insecure_skip_verify",
        "verify_peer", "verify_hostname", "min_tls_version"}) {
    dir.Write("gateway.json",
              nlohmann::json{
                  {"upstream",
                   {{"base_url", "https://api.example.invalid"}, {key, false}}},
                  {"audit", {{"path", "audit.db"}}},
                  {"users", nlohmann::json::array()},
                  {"policy_file", "policy.json"}}
                  .dump());
    const ConfigLoad load = LoadConfig(dir.File("gateway.json"));
    EXPECT_FALSE(load.config.has_value()) << key << " was accepted";
    bool named = false;
    for (const auto& e : load.errors)
      named |= e.path == std::string("$.upstream.") + key;
    EXPECT_TRUE(named) << key << " was not reported at its path";
  }
  // Plain http is the only way around TLS, and only towards loopback.
  dir.Write("gateway.json",
            nlohmann::json{{"upstream",
                            {{"base_url", "http://api.example.invalid"},
                             {"allow_plain_http", true}}},
                           {"audit", {{"path", "audit.db"}}},
                           {"users", nlohmann::json::array()},
                           {"policy_file", "policy.json"}}
                .dump());
  EXPECT_FALSE(LoadConfig(dir.File("gateway.json")).config.has_value());
}

TEST(TlsSettingsTest, HttpsListenerServesTls12AndRefusesTls11) {
  Pki pki;
  const std::string conf = "OPENSSL_CONF='" + pki.File("permissive.cnf") + "' ";
  GatewayProcess gw(
      HostileGateway({.upstream_base_url = "http://127.0.0.1:1",
                      .env = {{"OPENSSL_CONF", pki.File("permissive.cnf")}},
                      .listen_tls = {{"cert_file", pki.File("server.pem")},
                                     {"key_file", pki.File("server.key")}}}));
  httplib::SSLClient tls("127.0.0.1", gw.port());
  tls.set_ca_cert_path(pki.File("ca.pem").c_str());
  tls.enable_server_certificate_verification(true);
  tls.set_read_timeout(10, 0);
  auto res = tls.Get("/v1/whoami", Bearer(gw.alice().token));
  ASSERT_TRUE(res) << httplib::to_string(res.error()) << gw.Log();
  EXPECT_EQ(res->status, 200);
  // Plain HTTP to the TLS port gets no HTTP answer.
  httplib::Client plain("127.0.0.1", gw.port());
  plain.set_read_timeout(5, 0);
  auto p = plain.Get("/v1/whoami");
  EXPECT_TRUE(!p || p->status >= 400);
  // The system policy (permissive here) would allow TLS 1.1 on both sides;
  // only the gateway's own minimum refuses it. TLS 1.2 is the control.
  const std::string s_client =
      "openssl s_client -connect 127.0.0.1:" + std::to_string(gw.port()) +
      " -CAfile '" + pki.File("ca.pem") + "' -verify_return_error ";
  EXPECT_EQ(
      std::system(
          (conf + s_client + "-tls1_2 </dev/null >/dev/null 2>&1").c_str()),
      0);
  EXPECT_NE(
      std::system(
          (conf + s_client + "-tls1_1 </dev/null >/dev/null 2>&1").c_str()),
      0)
      << "the listener accepted TLS 1.1";
  EXPECT_TRUE(gw.Live());
  EXPECT_EQ(gw.Stop(), std::optional<int>(0));
}

TEST(TlsSettingsTest, ListenTlsFilesAreCheckedAndABadCertificateStopsTheStart) {
  TempDir dir;
  dir.Write("policy.json", R"({"rules":[]})");
  nlohmann::json config = {
      {"upstream", {{"base_url", "https://api.example.invalid"}}},
      {"audit", {{"path", "audit.db"}}},
      {"users", nlohmann::json::array()},
      {"policy_file", "policy.json"},
      {"tls", {{"cert_file", "missing.pem"}}}};
  dir.Write("gateway.json", config.dump());
  const ConfigLoad load = LoadConfig(dir.File("gateway.json"));
  std::set<std::string> paths;
  for (const auto& e : load.errors) paths.insert(e.path);
  EXPECT_TRUE(paths.count("$.tls.cert_file")) << load.errors.size();
  EXPECT_TRUE(paths.count("$.tls.key_file")) << load.errors.size();
  // Files that exist but hold no certificate: the binary refuses to start.
  Pki pki;
  EXPECT_THROW(GatewayProcess(HostileGateway(
                   {.upstream_base_url = "http://127.0.0.1:1",
                    .listen_tls = {{"cert_file", pki.File("server.cnf")},
                                   {"key_file", pki.File("server.key")}}})),
               std::runtime_error);
}

}  // namespace
}  // namespace agni::testing
