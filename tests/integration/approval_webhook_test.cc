// Approval notifications: signed deliveries to a local receiver, and a
// receiver that is down or stuck never holds up a decision.
#include <gtest/gtest.h>

#include "tests/support/harness.h"
#include "tests/support/helpers.h"
#include "tests/support/receiver.h"

namespace agni::testing {
namespace {

using nlohmann::json;

constexpr const char* kSecret = "webhook-secret-0123456789";

json WebhookConfig(const std::string& url, int max_queue = 100) {
  return {{"webhook",
           {{"url", url},
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

  // The events that arrived, each checked for its signature.
  std::vector<json> Events(std::size_t n) {
    std::vector<json> events;
    for (const Delivery& d : receiver_.WaitFor(n)) {
      EXPECT_EQ(d.path, "/hook");
      EXPECT_TRUE(SignedWith(d, kSecret)) << d.signature;
      events.push_back(d.json());
    }
    return events;
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
  StartGateway(WebhookConfig(receiver_.url("/hook")));
  const std::string id = Request("+14156660100");
  ASSERT_EQ(Approve("olga", id), 200);
  ASSERT_EQ(Approve("oscar", id), 200);
  const auto events = Events(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["type"], "approval.created");
  EXPECT_EQ(events[0]["actor"], "alice");
  EXPECT_EQ(events[1]["type"], "approval.approved");
  EXPECT_EQ(events[1]["approval"]["status"], "pending");
  EXPECT_EQ(events[2]["actor"], "oscar");
  EXPECT_EQ(events[2]["approval"]["status"], "approved");
  EXPECT_EQ(events[2]["approval"]["id"], id);
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
  StartGateway(WebhookConfig(receiver_.url("/hook"), /*max_queue=*/1));
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
  const int dead_port = FreePort();
  StartGateway(WebhookConfig(std::string("http://127.0.0.1:") +
                             std::to_string(dead_port) + "/hook"));
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
  o.approvals_config = WebhookConfig(receiver_.url("/hook"));
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
  const auto events = Events(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "approval.created");
  EXPECT_EQ(events[0]["reason"], "OPS-4711 customer asked");
  EXPECT_EQ(events[0]["approval"]["release_reason"], "OPS-4711 customer asked");
}

}  // namespace
}  // namespace agni::testing
