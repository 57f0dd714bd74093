// Approval notifications: signed deliveries to a local receiver, and a
// receiver that is down or stuck never holds up a decision.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <future>

#include "base/crypto.h"
#include "gateway/notify/channel.h"
#include "tests/support/harness.h"

namespace agni::testing {
namespace {

using nlohmann::json;

constexpr const char* kSecret = "webhook-secret-0123456789";

// Accepts POST /hook, checks the signature and the timestamp, records the
// events. While `hold()` is on, every delivery waits until released.
class Receiver {
 public:
  Receiver() {
    server_.Post(
        "/hook", [this](const httplib::Request& req, httplib::Response& res) {
          std::unique_lock lock(mu_);
          cv_.wait(lock, [&] { return !holding_; });
          const std::string sig = req.get_header_value("X-Agni-Signature");
          const std::size_t comma = sig.find(",v1=");
          bool valid = false;
          if (sig.starts_with("t=") && comma != std::string::npos) {
            const long long t = std::stoll(sig.substr(2, comma - 2));
            const long long now =
                std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
            valid = std::llabs(now - t) < 300 &&
                    ConstantTimeEquals(sig.substr(comma + 4),
                                       WebhookSignature(kSecret, t, req.body));
          }
          if (!valid) {
            ++bad_;
            res.status = 401;
            return;
          }
          events_.push_back(json::parse(req.body));
          cv_.notify_all();
          res.status = 204;
        });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Receiver() {
    Hold(false);
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  void Hold(bool on) {
    {
      std::lock_guard lock(mu_);
      holding_ = on;
    }
    cv_.notify_all();
  }
  // Waits (bounded) until `n` valid events arrived; returns what arrived.
  std::vector<json> WaitFor(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20),
                 [&] { return events_.size() >= n; });
    return events_;
  }
  int bad() {
    std::lock_guard lock(mu_);
    return bad_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool holding_ = false;
  std::vector<json> events_;
  int bad_ = 0;
};

json WebhookConfig(int port, int max_queue = 100) {
  return {{"webhook",
           {{"url", "http://127.0.0.1:" + std::to_string(port) + "/hook"},
            {"secret_env", "AGNI_TEST_WEBHOOK_SECRET"},
            {"max_queue", max_queue},
            {"max_attempts", 2},
            {"initial_backoff", "10ms"},
            {"timeout", "5s"}}}};
}

class ApprovalWebhookTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("AGNI_TEST_WEBHOOK_SECRET", kSecret, 1);
  }
  httplib::Headers As(const std::string& user) {
    return Bearer(gw_->User(user).token);
  }
  std::string Request(const std::string& number) {
    auto res = gw_->Client().Delete(ReleasePath(number), As("alice"));
    EXPECT_EQ(res->status, 202);
    return json::parse(res->body)["approval"]["id"];
  }
  int Approve(const std::string& user, const std::string& id) {
    auto res = gw_->Client().Post("/v1/approvals/" + id + "/approve", As(user),
                                  "", "application/json");
    return res ? res->status : 0;
  }
  double Counter(const std::string& result) {
    return MetricValue(gw_->Metrics(),
                       "agni_gateway_approval_notifications_total{result=\"" +
                           result + "\"}")
        .value_or(0);
  }

  FakeUpstream upstream_;
  Receiver receiver_;
  FakeClock clock_{
      FakeClock::TimePoint(std::chrono::microseconds(1'800'000'000'000'000))};
  std::unique_ptr<GatewayHarness> gw_;
  void StartGateway(json approvals) {
    auto o = GatewayHarness::ForApprovals(upstream_.url());
    o.approvals_config = std::move(approvals);
    o.clock = clock_.Function();
    gw_ = std::make_unique<GatewayHarness>(std::move(o));
  }
};

TEST_F(ApprovalWebhookTest, EveryStateChangeIsDeliveredSigned) {
  StartGateway(WebhookConfig(receiver_.port()));
  const std::string id = Request("+14156660100");
  ASSERT_EQ(Approve("olga", id), 200);
  ASSERT_EQ(Approve("oscar", id), 200);
  const auto events = receiver_.WaitFor(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["type"], "approval.created");
  EXPECT_EQ(events[0]["actor"], "alice");
  EXPECT_EQ(events[1]["type"], "approval.approved");
  EXPECT_EQ(events[1]["approval"]["status"], "pending");
  EXPECT_EQ(events[2]["actor"], "oscar");
  EXPECT_EQ(events[2]["approval"]["status"], "approved");
  EXPECT_EQ(events[2]["approval"]["id"], id);
  EXPECT_EQ(receiver_.bad(), 0);
  // The receiver records an event before its answer reaches the gateway.
  for (int i = 0; i < 400 && Counter("delivered") < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_EQ(Counter("delivered"), 3);
  // The body never carries a credential.
  for (const json& e : events) {
    EXPECT_EQ(e.dump().find(gw_->User("alice").token), std::string::npos);
  }
}

TEST_F(ApprovalWebhookTest,
       AStuckReceiverNeverHoldsUpADecisionAndTheQueueIsBounded) {
  receiver_.Hold(true);
  StartGateway(WebhookConfig(receiver_.port(), /*max_queue=*/1));
  // Were delivery on the request path, these would wait on the stuck receiver
  // until the client's read timeout and fail.
  const std::string id = Request("+14156660100");
  EXPECT_EQ(Approve("olga", id), 200);
  EXPECT_EQ(Approve("oscar", id), 200);
  Request("+14156660101");
  EXPECT_GE(Counter("dropped"), 2);
  receiver_.Hold(false);
  EXPECT_GE(receiver_.WaitFor(2).size(), 2u);
}

TEST_F(ApprovalWebhookTest, ADownReceiverIsRetriedThenCountedAsFailed) {
  // A port that was bound and released, so nothing listens on it.
  int dead_port = 0;
  {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    dead_port = ntohs(addr.sin_port);
    ::close(fd);
  }
  StartGateway(WebhookConfig(dead_port));
  const std::string id = Request("+14156660100");
  EXPECT_EQ(Approve("olga", id), 200);
  for (int i = 0; i < 200 && Counter("failed") < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(Counter("failed"), 2);
  EXPECT_EQ(Counter("retried"), 2);  // max_attempts 2: one retry each
  EXPECT_EQ(Counter("delivered"), 0);
}

TEST_F(ApprovalWebhookTest, TheRequestersJustificationIsInTheNotification) {
  auto o = GatewayHarness::ForApprovals(upstream_.url());
  o.approvals_config = WebhookConfig(receiver_.port());
  o.clock = clock_.Function();
  o.policy_json = R"({"rules":[
    {"id":"prod-needs-ticket","effect":"require_approval","groups":["support"],
     "numbers":["+1415*"],
     "approval":{"approvals":1,"from_groups":["telecom-ops"],"ttl":"24h",
                 "execute_within":"1h","reason":"required"}}]})";
  gw_ = std::make_unique<GatewayHarness>(std::move(o));
  httplib::Headers h = As("alice");
  h.emplace("X-Release-Reason", "OPS-4711 customer asked");
  auto res = gw_->Client().Delete(ReleasePath("+14156660100"), h);
  ASSERT_EQ(res->status, 202) << res->body;
  const auto events = receiver_.WaitFor(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "approval.created");
  EXPECT_EQ(events[0]["reason"], "OPS-4711 customer asked");
  EXPECT_EQ(events[0]["approval"]["release_reason"], "OPS-4711 customer asked");
}

}  // namespace
}  // namespace agni::testing
