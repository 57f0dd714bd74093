// Pipelined requests (RFC 9112 §9.3.2) against the real binary, on the plain
// and the TLS listener: several requests written back to back in one write
// are all answered, in order, and each release is forwarded once, in order.
// cpp-httplib 0.11 on its own dropped every request after the first (its
// per-request stream read past the first request and threw the rest away).
#include <gtest/gtest.h>

#include "tests/hostile/hostile_gateway.h"
#include "tests/support/pki.h"

namespace agni::testing {
namespace {

std::string Delete(const std::string& number, const std::string& token,
                   const std::string& extra = "") {
  return "DELETE " + ReleasePath(number) +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
         "\r\n" + extra + "\r\n";
}

void ExpectTwoReleasesInOrder(const RawReply& r, const FakeUpstream& upstream,
                              GatewayProcess& gw) {
  EXPECT_EQ(r.statuses(), (std::vector<int>{200, 200})) << r.bytes;
  EXPECT_TRUE(r.closed);
  const auto received = upstream.Received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].target, ReleasePath("%2B15550000011"));
  EXPECT_EQ(received[1].target, ReleasePath("%2B15550000012"));
  // An intent and an outcome for each, the first release's pair first.
  const auto rows = gw.AuditRows();
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_NE(rows[0].dump().find("15550000011"), std::string::npos);
  EXPECT_NE(rows[3].dump().find("15550000012"), std::string::npos);
}

TEST(PipeliningTest, TwoDeletesInOneWriteAreBothAnsweredAndForwarded) {
  FakeUpstream upstream;
  GatewayProcess gw(HostileGateway({.upstream_base_url = upstream.url()}));
  const std::string token = gw.alice().token;
  const RawReply r =
      RawExchange(gw.port(),
                  Delete("%2B15550000011", token) +
                      Delete("%2B15550000012", token, "Connection: close\r\n"),
                  /*wait_for_close=*/true);
  ExpectTwoReleasesInOrder(r, upstream, gw);
  EXPECT_EQ(gw.Stop(), std::optional<int>(0)) << gw.Log();
}

TEST(PipeliningTest, TwoDeletesInOneTlsRecordAreBothAnsweredAndForwarded) {
  Pki pki;
  FakeUpstream upstream;
  GatewayProcess gw(
      HostileGateway({.upstream_base_url = upstream.url(),
                      .listen_tls = {{"cert_file", pki.File("server.pem")},
                                     {"key_file", pki.File("server.key")}}}));
  const std::string token = gw.alice().token;
  const RawReply r = RawTlsExchange(
      gw.port(), pki.File("ca.pem"),
      Delete("%2B15550000011", token) +
          Delete("%2B15550000012", token, "Connection: close\r\n"));
  ExpectTwoReleasesInOrder(r, upstream, gw);
  EXPECT_EQ(gw.Stop(), std::optional<int>(0)) << gw.Log();
}

}  // namespace
}  // namespace agni::testing
