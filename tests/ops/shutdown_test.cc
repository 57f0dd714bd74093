// Graceful shutdown of the real binary: SIGTERM/SIGINT while a release waits
// on a slow upstream. The client still gets the upstream's answer, /readyz
// says 503 while draining, new connections are refused, the outcome record
// is committed, and the process exits 0.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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

// A keep-alive connection that has been answered once and then sits idle.
class IdleKeepAlive {
 public:
  IdleKeepAlive(int port, const std::string& request) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(request.size())) {
      return;
    }
    // Reads the whole first answer (its head and Content-Length body).
    for (int i = 0; i < 200 && !Complete(); ++i) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      first_.append(buf, static_cast<std::size_t>(n));
    }
  }
  ~IdleKeepAlive() { ::close(fd_); }

  const std::string& first() const { return first_; }
  // True when the server ends the connection within `wait` (EOF or reset)
  // without sending anything more.
  bool SeesEof(std::chrono::milliseconds wait) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
    char c;
    return ::recv(fd_, &c, 1, 0) <= 0;
  }

 private:
  bool Complete() const {
    const std::size_t head = first_.find("\r\n\r\n");
    if (head == std::string::npos) return false;
    const std::size_t cl = first_.find("Content-Length: ");
    const std::size_t length =
        cl == std::string::npos ? 0 : std::stoul(first_.substr(cl + 16));
    return first_.size() >= head + 4 + length;
  }

  int fd_ = -1;
  std::string first_;
};

// A stop does not wait for idle keep-alive clients: they are closed when
// draining begins, while the in-flight release still finishes. With a 30 s
// keep_alive_timeout the old drain took the whole 30 s.
TEST(ShutdownIdleKeepAlive, IdleConnectionsCloseAtOnceInFlightFinishes) {
  FakeUpstream upstream;
  FakeUpstream::Reply slow;
  slow.delay = 1500ms;
  upstream.SetReply(slow);
  GatewayProcess gw(OpsGateway(
      {.upstream_base_url = upstream.url(),
       .extra_config = {{"server", {{"keep_alive_timeout", "30s"}}}}}));
  const std::string whoami =
      "GET /v1/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      gw.alice().token + "\r\n\r\n";
  IdleKeepAlive idle(gw.port(), whoami);
  ASSERT_EQ(idle.first().rfind("HTTP/1.1 200", 0), 0u) << idle.first();
  IdleKeepAlive idle_admin(gw.admin_port(),
                           "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(idle_admin.first().rfind("HTTP/1.1 200", 0), 0u)
      << idle_admin.first();

  auto release = std::async(std::launch::async, [&] {
    auto res = gw.Client().Delete(ReleasePath("+15551230003"),
                                  Bearer(gw.alice().token));
    return res ? res->status : -1;
  });
  ASSERT_TRUE(WaitFor([&] { return upstream.Received().size() == 1; }, 10s));
  const auto signalled = std::chrono::steady_clock::now();
  gw.process().Signal(SIGTERM);

  EXPECT_TRUE(idle.SeesEof(10s)) << "the idle main connection stayed open";
  EXPECT_EQ(release.get(), 200);
  EXPECT_EQ(gw.process().Wait(10s), std::optional<int>(0))
      << gw.process().Log();
  // Generous next to the 30 s keep-alive the old drain waited out.
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 10s);
  EXPECT_TRUE(idle_admin.SeesEof(1s)) << "the idle admin connection";
  const auto rows = ReadAuditRows(gw.audit_path());
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.back()["stage"], "outcome");
  EXPECT_EQ(rows.back()["outcome"], "released");
}

}  // namespace
}  // namespace agni::testing
