// HTTPS towards the upstream: certificate and host-name verification are on,
// and a failed verification means the key was never sent.
#include <gtest/gtest.h>

#include "tests/support/harness.h"
#include "tests/support/pki.h"
#include "tests/support/test_support.h"

namespace agni::testing {
namespace {

// The gateway's options for an HTTPS upstream on `upstream`, trusting the CA
// of `trusted`.
GatewayHarness::Options OverTls(const FakeUpstream& upstream,
                                const Pki& trusted) {
  return {.upstream_base_url = upstream.url(),
          .ca_file = trusted.File("ca.pem")};
}

httplib::Result ReleaseAsAlice(const GatewayHarness& gw,
                               const std::string& number_in_path) {
  return gw.Client().Delete(ReleasePath(number_in_path),
                            Bearer(gw.alice().token));
}

TEST(TlsUpstreamTest, VerifiedCertificateCarriesTheRelease) {
  Pki pki;
  FakeUpstream upstream(pki.File("server.pem"), pki.File("server.key"));
  GatewayHarness gw(OverTls(upstream, pki));
  auto res = ReleaseAsAlice(gw, "%2B15551239001");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  ASSERT_EQ(upstream.Received().size(), 1u);
  EXPECT_EQ(upstream.Received()[0].headers.find("X-Api-Key")->second, kApiKey);
}

TEST(TlsUpstreamTest, UntrustedCertificateIs502AndTheKeyIsNeverSent) {
  Pki trusted;
  Pki rogue;
  FakeUpstream upstream(rogue.File("server.pem"), rogue.File("server.key"));
  GatewayHarness gw(OverTls(upstream, trusted));
  nlohmann::json outcome;
  ASSERT_NO_FATAL_FAILURE(
      ExpectFailedRelease(gw, "%2B15551239002", 502, "upstream_tls", outcome));
  EXPECT_TRUE(upstream.Received().empty());
  EXPECT_EQ(outcome["outcome"], "not_sent");
  EXPECT_EQ(outcome["reason"], "upstream_tls");
}

TEST(TlsUpstreamTest, CertificateForAnotherHostIs502) {
  Pki pki;
  pki.Issue("other", "/CN=agni-test-upstream", "DNS:api.example.invalid");
  FakeUpstream upstream(pki.File("other.pem"), pki.File("other.key"));
  GatewayHarness gw(OverTls(upstream, pki));
  auto res = ReleaseAsAlice(gw, "%2B15551239003");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 502);
  EXPECT_EQ(nlohmann::json::parse(res->body)["reason"], "upstream_tls");
  EXPECT_TRUE(upstream.Received().empty());
}

}  // namespace
}  // namespace agni::testing
