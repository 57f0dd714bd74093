// HTTPS towards the upstream: certificate and host-name verification are on,
// and a failed verification means the key was never sent.
#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/support/harness.h"
#include "tests/support/test_support.h"

namespace agni::testing {
namespace {

// Generates a CA and a server certificate signed by it with the openssl CLI.
class TestPki {
 public:
  // `san` is the server certificate's subjectAltName, e.g. "IP:127.0.0.1".
  explicit TestPki(const std::string& san) {
    const std::string d = dir_.path().string();
    const std::string script =
        "set -e; cd '" + d + "'; "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-keyout ca.key -out ca.pem -days 1 -subj /CN=agni-test-ca "
        "2>/dev/null; "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-keyout server.key -out server.csr -subj /CN=agni-test-upstream "
        "2>/dev/null; "
        "printf 'subjectAltName=" + san + "\\n' > ext.cnf; "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
        "-CAcreateserial -out server.pem -days 1 -extfile ext.cnf 2>/dev/null";
    if (std::system(("bash -c \"" + script + "\"").c_str()) != 0) {
      throw std::runtime_error("openssl failed");
    }
  }
  std::string ca() const { return dir_.File("ca.pem"); }
  std::string cert() const { return dir_.File("server.pem"); }
  std::string key() const { return dir_.File("server.key"); }

 private:
  TempDir dir_;
};

httplib::Headers Bearer(const TestUser& u) {
  return {{"Authorization", "Bearer " + u.token}};
}

TEST(TlsUpstreamTest, VerifiedCertificateCarriesTheRelease) {
  TestPki pki("IP:127.0.0.1");
  FakeUpstream upstream(pki.cert(), pki.key());
  GatewayHarness gw({.upstream_base_url =
                         "https://127.0.0.1:" + std::to_string(upstream.port()),
                     .ca_file = pki.ca()});
  auto res = gw.Client().Delete(ReleasePath("%2B15551239001"), Bearer(gw.alice()));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  ASSERT_EQ(upstream.Received().size(), 1u);
  EXPECT_EQ(upstream.Received()[0].headers.find("X-Api-Key")->second, kApiKey);
}

TEST(TlsUpstreamTest, UntrustedCertificateIs502AndTheKeyIsNeverSent) {
  TestPki trusted("IP:127.0.0.1");
  TestPki rogue("IP:127.0.0.1");
  FakeUpstream upstream(rogue.cert(), rogue.key());
  GatewayHarness gw({.upstream_base_url =
                         "https://127.0.0.1:" + std::to_string(upstream.port()),
                     .ca_file = trusted.ca()});
  auto res = gw.Client().Delete(ReleasePath("%2B15551239002"), Bearer(gw.alice()));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 502);
  EXPECT_EQ(nlohmann::json::parse(res->body)["reason"], "upstream_tls");
  EXPECT_TRUE(upstream.Received().empty());
  const auto rows = gw.AuditRows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1]["outcome"], "not_sent");
  EXPECT_EQ(rows[1]["reason"], "upstream_tls");
}

TEST(TlsUpstreamTest, CertificateForAnotherHostIs502) {
  TestPki pki("DNS:api.example.invalid");
  FakeUpstream upstream(pki.cert(), pki.key());
  GatewayHarness gw({.upstream_base_url =
                         "https://127.0.0.1:" + std::to_string(upstream.port()),
                     .ca_file = pki.ca()});
  auto res = gw.Client().Delete(ReleasePath("%2B15551239003"), Bearer(gw.alice()));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 502);
  EXPECT_EQ(nlohmann::json::parse(res->body)["reason"], "upstream_tls");
  EXPECT_TRUE(upstream.Received().empty());
}

}  // namespace
}  // namespace agni::testing
