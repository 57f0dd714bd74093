// Isolation and overload (issue 7): a slow upstream, a full worker pool and
// slow clients must not take the gateway's health checks, its deny path or
// its approvals API down with them, and past the configured limits new work
// is refused at once with 503 + Retry-After, never queued without bound.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/harness.h"
#include "tests/support/test_support.h"

namespace agni::testing {
namespace {

using namespace std::chrono_literals;

// A raw TCP connection to the gateway, for clients httplib cannot play.
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() { close(fd_); }
  bool connected() const { return connected_; }
  bool Send(const std::string& bytes) {
    return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // True once the peer has closed (EOF or reset) within `wait`.
  bool ClosedWithin(std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) > 0) {
        char buf[4096];
        const ssize_t n = recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) return true;
        received_.append(buf, static_cast<std::size_t>(n));
      }
    }
    return false;
  }
  const std::string& received() const { return received_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string received_;
};

// Polls the admin listener's /metrics until `series` reaches `want`.
bool WaitForMetric(int admin_port, const std::string& series, double want,
                   std::chrono::milliseconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  httplib::Client admin("127.0.0.1", admin_port);
  admin.set_read_timeout(5, 0);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto res = admin.Get("/metrics")) {
      if (MetricValue(res->body, series) == want) return true;
    }
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

nlohmann::json ProblemOf(const httplib::Result& res) {
  return nlohmann::json::parse(res->body, nullptr, false);
}

// 256 releases held by an upstream that answers after 5 s: the admin
// endpoints, the deny path and the approvals API keep answering; release 257
// is refused at once (upstream.max_in_flight) and never reaches the upstream.
TEST(IsolationTest, SlowUpstreamHoldsReleasesButNothingElse) {
  constexpr int kHeld = 256;
  FakeUpstream upstream(kHeld + 16);
  FakeUpstream::Reply slow;
  slow.delay = 5s;
  upstream.SetReply(slow);
  FakeClock clock(
      FakeClock::TimePoint(std::chrono::microseconds(1'800'000'000'000'000)));
  GatewayHarness::Options options =
      GatewayHarness::ForApprovals(upstream.url());
  options.extra_config = {
      {"upstream", {{"read_timeout", "20s"}, {"max_in_flight", kHeld}}},
      {"server", {{"threads", 16}}}};
  options.clock = clock.Function();
  GatewayHarness gw(std::move(options));
  const std::string alice = "Bearer " + gw.User("alice").token;

  std::atomic<int> ok{0};
  std::vector<std::thread> held;
  for (int i = 0; i < kHeld; ++i) {
    held.emplace_back([&, i] {
      httplib::Client c = gw.Client();
      c.set_read_timeout(30, 0);
      char number[32];
      std::snprintf(number, sizeof number, "%%2B1555100%04d", i);
      auto res = c.Delete(ReleasePath(number), {{"Authorization", alice}});
      if (res && res->status == 200) ++ok;
    });
  }
  ASSERT_TRUE(
      WaitForMetric(gw.admin_port(), "agni_gateway_upstream_in_flight", kHeld))
      << "the releases never all reached the upstream";

  // While all 256 are held: health, metrics, deny path, approvals API.
  httplib::Client admin("127.0.0.1", gw.admin_port());
  admin.set_read_timeout(2, 0);
  for (const char* path : {"/livez", "/readyz", "/metrics"}) {
    auto res = admin.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
  }
  httplib::Client c = gw.Client();
  c.set_read_timeout(2, 0);
  auto denied =
      c.Delete(ReleasePath("%2B15550009999"), Bearer(gw.User("mallory").token));
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);
  EXPECT_EQ(ProblemOf(denied)["reason"], "policy_denied");
  auto approvals =
      c.Get("/v1/approvals?status=pending", Bearer(gw.User("olga").token));
  ASSERT_TRUE(approvals);
  EXPECT_EQ(approvals->status, 200);

  // Release 257: refused at once, audited, nothing sent upstream.
  auto refused =
      c.Delete(ReleasePath("%2B15551009999"),
               {{"Authorization", alice}, {"X-Request-Id", "over-the-cap"}});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
  EXPECT_EQ(ProblemOf(refused)["reason"], "overloaded");

  for (std::thread& t : held) t.join();
  EXPECT_EQ(ok.load(), kHeld);
  std::size_t sent = 0;
  for (const ReceivedRequest& r : upstream.Received()) {
    EXPECT_EQ(r.target.find("15551009999"), std::string::npos);
    ++sent;
  }
  EXPECT_EQ(sent, static_cast<std::size_t>(kHeld));
  bool audited = false;
  for (const nlohmann::json& row : gw.AuditRows()) {
    if (row.value("request_id", "") != "over-the-cap") continue;
    EXPECT_EQ(row["stage"], "decision");  // no intent: it was never forwarded
    EXPECT_EQ(row["reason"], "overloaded");
    EXPECT_EQ(row["response_status"], 503);
    audited = true;
  }
  EXPECT_TRUE(audited);
  EXPECT_TRUE(
      WaitForMetric(gw.admin_port(), "agni_gateway_upstream_in_flight", 0));
}

nlohmann::json ServerBlock(int threads, int max_connections, int max_queued,
                           const std::string& header_timeout) {
  return {{"threads", threads},
          {"max_connections", max_connections},
          {"max_queued_connections", max_queued},
          {"keep_alive_timeout", "20s"},
          {"read_timeout", "20s"},
          {"request_header_timeout", header_timeout}};
}

// Every worker busy and the queue full: the next connection is answered 503
// at once (and audited), and the gateway recovers when the load goes.
TEST(IsolationTest, ConnectionsPastTheQueueAreRefusedAtOnce) {
  FakeUpstream upstream;
  GatewayHarness gw(
      {.upstream_base_url = upstream.url(),
       .extra_config = {{"server", ServerBlock(2, 4, 2, "60s")}}});
  const int admin_port = gw.admin_port();
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 6; ++i) {
    idle.push_back(std::make_unique<RawConnection>(gw.port()));
    ASSERT_TRUE(idle.back()->connected());
  }
  ASSERT_TRUE(WaitForMetric(
      admin_port,
      R"(agni_gateway_listener_workers{listener="main",state="busy"})", 4));
  ASSERT_TRUE(WaitForMetric(
      admin_port,
      R"(agni_gateway_listener_queued_connections{listener="main"})", 2))
      << gw.Metrics();

  httplib::Client c = gw.Client();
  c.set_read_timeout(5, 0);
  const auto started = std::chrono::steady_clock::now();
  auto res = c.Delete(ReleasePath("%2B15550000001"),
                      {{"Authorization", "Bearer " + gw.alice().token},
                       {"X-Request-Id", "past-the-queue"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  EXPECT_EQ(res->get_header_value("Connection"), "close");
  EXPECT_EQ(ProblemOf(res)["reason"], "overloaded");
  // Not queued behind the idle connections (they hold their workers 20 s).
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_TRUE(upstream.Received().empty());
  // The answer says Connection: close, and the gateway does close: a client
  // that would keep the connection does not hold an overflow thread.
  RawConnection raw(gw.port());
  ASSERT_TRUE(raw.Send(
      "DELETE /api/v1/phone-numbers/%2B15550000001/release/ HTTP/1.1\r\n"
      "Host: x\r\n\r\n"));
  EXPECT_TRUE(raw.ClosedWithin(5s)) << "keep-alive is 20 s here";
  EXPECT_TRUE(raw.received().starts_with("HTTP/1.1 503")) << raw.received();
  EXPECT_EQ(
      MetricValue(
          gw.Metrics(),
          R"(agni_gateway_connections_refused_total{listener="main",reason="overloaded"})"),
      2);
  bool audited = false;
  for (const nlohmann::json& row : gw.AuditRows()) {
    if (row.value("request_id", "") != "past-the-queue") continue;
    EXPECT_EQ(row["reason"], "overloaded");
    EXPECT_EQ(row["principal"], "alice");
    audited = true;
  }
  EXPECT_TRUE(audited);

  idle.clear();  // the clients go away: the workers come back
  ASSERT_TRUE(WaitForMetric(
      admin_port,
      R"(agni_gateway_listener_workers{listener="main",state="busy"})", 0));
  httplib::Client again = gw.Client();
  auto ok =
      again.Delete(ReleasePath("%2B15550000002"), Bearer(gw.alice().token));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

// Clients that dribble a request head one byte at a time are cut off after
// server.request_header_timeout, so they cannot hold every worker.
TEST(IsolationTest, SlowlorisClientsAreCutOff) {
  FakeUpstream upstream;
  GatewayHarness gw({.upstream_base_url = upstream.url(),
                     .extra_config = {{"server", ServerBlock(2, 4, 0, "1s")}}});
  const std::string head =
      "DELETE /api/v1/phone-numbers/%2B15550000003/release/ HTTP/1.1\r\n"
      "Host: x\r\nAuthorization: Bearer " +
      gw.alice().token + "\r\nX-Padding: ";
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 4; ++i) {
    slow.push_back(std::make_unique<RawConnection>(gw.port()));
    ASSERT_TRUE(slow.back()->connected());
  }
  // One byte per connection every 100 ms, never finishing the head.
  std::atomic<bool> stop{false};
  std::vector<bool> closed(slow.size(), false);
  std::thread dribbler([&] {
    for (std::size_t i = 0; !stop; ++i) {
      for (auto& s : slow) s->Send(std::string(1, head[i % head.size()]));
      std::this_thread::sleep_for(100ms);
    }
  });
  for (std::size_t i = 0; i < slow.size(); ++i) {
    closed[i] = slow[i]->ClosedWithin(10s);
  }
  stop = true;
  dribbler.join();
  for (std::size_t i = 0; i < slow.size(); ++i) {
    EXPECT_TRUE(closed[i]) << "slow connection " << i << " still open";
    // Cut, not answered: no half-read request reaches the pipeline.
    EXPECT_EQ(slow[i]->received(), "");
  }
  EXPECT_GE(
      MetricValue(
          gw.Metrics(),
          R"(agni_gateway_connections_refused_total{listener="main",reason="header_timeout"})")
          .value_or(0),
      4);
  EXPECT_TRUE(upstream.Received().empty());

  // The workers are free again.
  httplib::Client c = gw.Client();
  auto res = c.Delete(ReleasePath("%2B15550000004"), Bearer(gw.alice().token));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

// A DELETE with a body is refused without reading the body, and the
// connection ends there: the body is never parsed as a second request (which
// would let a client behind a shared front proxy smuggle one).
TEST(IsolationTest, AnUnreadBodyIsNeverServedAsTheNextRequest) {
  FakeUpstream upstream;
  GatewayHarness gw(
      {.upstream_base_url = upstream.url(),
       .extra_config = {{"server", ServerBlock(2, 4, 2, "60s")}}});
  const std::string inner =
      "GET /v1/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      gw.alice().token + "\r\nX-Request-Id: smuggled\r\n\r\n";
  RawConnection raw(gw.port());
  ASSERT_TRUE(raw.Send(
      "DELETE /api/v1/phone-numbers/%2B15550000001/release/ HTTP/1.1\r\n"
      "Host: x\r\nAuthorization: Bearer " +
      gw.alice().token + "\r\nContent-Length: " + std::to_string(inner.size()) +
      "\r\n\r\n" + inner));
  EXPECT_TRUE(raw.ClosedWithin(5s)) << "keep-alive is 20 s here";
  EXPECT_TRUE(raw.received().starts_with("HTTP/1.1 400")) << raw.received();
  std::size_t answers = 0;
  for (std::size_t at = 0;
       (at = raw.received().find("HTTP/1.1 ", at)) != std::string::npos; ++at) {
    ++answers;
  }
  EXPECT_EQ(answers, 1u) << raw.received();
  for (const nlohmann::json& row : gw.AuditRows()) {
    EXPECT_NE(row.value("request_id", ""), "smuggled");
  }
  EXPECT_TRUE(upstream.Received().empty());
}

// A client that sends its request and waits for a slow answer is not a slow
// client: the header timeout only applies before a request head is complete.
TEST(IsolationTest, HeaderTimeoutSparesRequestsBeingServed) {
  FakeUpstream upstream;
  FakeUpstream::Reply slow;
  slow.delay = 2500ms;
  upstream.SetReply(slow);
  GatewayHarness gw({.upstream_base_url = upstream.url(),
                     .read_timeout = "10s",
                     .extra_config = {{"server", ServerBlock(2, 4, 0, "1s")}}});
  httplib::Client c = gw.Client();
  c.set_read_timeout(10, 0);
  auto res = c.Delete(ReleasePath("%2B15550000005"), Bearer(gw.alice().token));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(
      MetricValue(
          gw.Metrics(),
          R"(agni_gateway_connections_refused_total{listener="main",reason="header_timeout"})"),
      0);
}

}  // namespace
}  // namespace agni::testing
