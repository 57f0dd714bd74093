// Graceful shutdown of the real binary: SIGTERM/SIGINT while a release waits
// on a slow upstream. The client still gets the upstream's answer, /readyz
// says 503 while draining, new connections are refused, the outcome record
// is committed, and the process exits 0.
#include <gtest/gtest.h>

#include <csignal>
#include <future>

#include "tests/ops/ops_gateway.h"

namespace agni::testing {
namespace {

using namespace std::chrono_literals;

class ShutdownTest : public ::testing::TestWithParam<int> {};

TEST_P(ShutdownTest, InFlightReleaseFinishesAndIsAudited) {
  FakeUpstream upstream;
  FakeUpstream::Reply slow;
  slow.delay = 2500ms;
  upstream.SetReply(slow);
  GatewayProcess gw(OpsGateway({.upstream_base_url = upstream.url()}));

  auto release = std::async(std::launch::async, [&] {
    auto res = gw.Client().Delete(ReleasePath("+15551230001"),
                                  Bearer(gw.alice().token));
    return res ? std::make_tuple(res->status, res->body,
                                 res->get_header_value("Connection"))
               : std::make_tuple(-1, httplib::to_string(res.error()),
                                 std::string());
  });
  // The release is in flight once the upstream has it.
  ASSERT_TRUE(WaitFor([&] { return upstream.Received().size() == 1; }, 10s));
  gw.process().Signal(GetParam());

  // While the release drains: /readyz is 503 and the main listener refuses
  // new connections.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = gw.AdminClient().Get("/readyz");
        return r && r->status == 503 &&
               r->body.find("draining") != std::string::npos;
      },
      2s));
  EXPECT_TRUE(WaitFor(
      [&] {
        httplib::Client c("127.0.0.1", gw.port());
        c.set_connection_timeout(1, 0);
        return !c.Get("/v1/whoami");
      },
      2s));

  const auto [status, body, connection] = release.get();
  EXPECT_EQ(status, 200) << body;
  EXPECT_EQ(connection, "close");  // answered while draining
  EXPECT_NE(body.find("released"), std::string::npos) << body;
  EXPECT_EQ(gw.process().Wait(20s), std::optional<int>(0))
      << gw.process().Log();

  const auto rows = ReadAuditRows(gw.audit_path());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["stage"], "intent");
  EXPECT_EQ(rows[1]["stage"], "outcome");
  EXPECT_EQ(rows[1]["outcome"], "released");
  EXPECT_EQ(rows[1]["upstream_status"], 200);
  bool stopped = false;
  for (const auto& line : gw.LogLines()) {
    if (line.value("message", "") == "stopped") stopped = true;
  }
  EXPECT_TRUE(stopped) << gw.process().Log();
}

INSTANTIATE_TEST_SUITE_P(Signals, ShutdownTest,
                         ::testing::Values(SIGTERM, SIGINT),
                         [](const auto& info) {
                           return info.param == SIGTERM ? "SIGTERM" : "SIGINT";
                         });

TEST(ShutdownDrainTimeout, BoundedWaitThenExitZeroWithIntentCommitted) {
  FakeUpstream upstream;
  FakeUpstream::Reply slow;
  slow.delay = 5s;
  upstream.SetReply(slow);
  GatewayProcess gw(
      OpsGateway({.upstream_base_url = upstream.url(),
                  .extra_config = {{"server", {{"drain_timeout", "500ms"}}}}}));
  auto release = std::async(std::launch::async, [&] {
    auto res = gw.Client().Delete(ReleasePath("+15551230002"),
                                  Bearer(gw.alice().token));
    return res ? res->status : -1;
  });
  ASSERT_TRUE(WaitFor([&] { return upstream.Received().size() == 1; }, 10s));
  gw.process().Signal(SIGTERM);
  // Exits well before the upstream answers (5 s).
  EXPECT_EQ(gw.process().Wait(4s), std::optional<int>(0)) << gw.process().Log();
  EXPECT_NE(gw.process().Log().find("drain timeout"), std::string::npos);
  release.wait();
  const auto rows = ReadAuditRows(gw.audit_path());
  ASSERT_GE(rows.size(), 1u);
  EXPECT_EQ(rows[0]["stage"], "intent");
}

}  // namespace
}  // namespace agni::testing
