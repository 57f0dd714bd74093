// Break-glass end to end on the gateway `serve` builds: the release goes at
// once with its reason, is recorded as break_glass, counted, announced on
// every channel and reviewed afterwards by someone else; it fails closed
// when the audit log cannot commit, and a hanging receiver delays nothing.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <thread>

#include "tests/support/harness.h"
#include "tests/support/jwt_signer.h"
#include "tests/support/receiver.h"

namespace agni::testing {
namespace {

using nlohmann::json;

constexpr const char* kNumber = "+14156660100";

// otto (telecom-ops and support) may break the glass on +1415 numbers; a
// telecom-ops member other than otto reviews within the hour.
constexpr const char* kBreakGlassPolicy = R"({"rules":[
  {"id":"never-emergency","effect":"deny","numbers":["+1911*"]},
  {"id":"prod-needs-two","effect":"require_approval","groups":["support"],
   "numbers":["+1415*"],
   "approval":{"approvals":2,"from_groups":["telecom-ops"],"ttl":"24h",
               "execute_within":"1h"}},
  {"id":"oncall-break-glass","effect":"break_glass","users":["otto"],
   "break_glass":{"from_groups":["telecom-ops"],"review_within":"1h",
                  "reason_pattern":"^INC-[0-9]+"}}
]})";

// The identity provider's key set on loopback, until Stop(): then the
// provider is down and the gateway cannot fetch keys.
class JwksServer {
 public:
  explicit JwksServer(std::string jwks) : jwks_(std::move(jwks)) {
    server_.Get("/jwks",
                [this](const httplib::Request&, httplib::Response& res) {
                  res.set_content(jwks_, "application/json");
                });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~JwksServer() { Stop(); }
  void Stop() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string url() const {
    return std::string("http://127.0.0.1:") + std::to_string(port_) + "/jwks";
  }

 private:
  const std::string jwks_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

class BreakGlassTest : public ::testing::Test {
 protected:
  void StartGateway(json notify = json::array(), json extra = json::object()) {
    auto o = GatewayHarness::ForApprovals(upstream_.url());
    o.policy_json = kBreakGlassPolicy;
    o.clock = clock_.Function();
    o.approvals_config = {{"notify", std::move(notify)}};
    o.inventory_json = R"({"+14156660100": {"env": "prod", "team": "sales"}})";
    o.extra_config = std::move(extra);
    gw_ = std::make_unique<GatewayHarness>(std::move(o));
  }
  httplib::Headers As(const std::string& user, const std::string& reason = "") {
    httplib::Headers h = Bearer(gw_->User(user).token);
    if (!reason.empty()) h.emplace("X-Release-Reason", reason);
    return h;
  }
  httplib::Result BreakGlass(const std::string& reason = "INC-42 fraud") {
    return gw_->Client().Delete(ReleasePath(kNumber), As("otto", reason));
  }
  httplib::Result Ack(const std::string& user, const std::string& id,
                      const std::string& body) {
    return gw_->Client().Post("/v1/reviews/" + id + "/ack", As(user), body,
                              "application/json");
  }
  json Reviews(const std::string& user, const std::string& query = "") {
    auto res = gw_->Client().Get("/v1/reviews" + query, As(user));
    EXPECT_EQ(res->status, 200) << res->body;
    return json::parse(res->body);
  }
  double Metric(const std::string& series) {
    return MetricValue(gw_->Metrics(), series).value_or(-1);
  }

  FakeUpstream upstream_;
  FakeClock clock_{
      FakeClock::TimePoint(std::chrono::microseconds(1'800'000'000'000'000))};
  std::unique_ptr<GatewayHarness> gw_;
};

TEST_F(BreakGlassTest, ReleasesAtOnceWithAReasonAndIsReviewedBySomeoneElse) {
  StartGateway();
  // No reason, or one the rule does not accept: refused, nothing sent.
  auto res = gw_->Client().Delete(ReleasePath(kNumber), As("otto"));
  ASSERT_EQ(res->status, 400) << res->body;
  EXPECT_EQ(json::parse(res->body)["reason"], "reason_required");
  res = BreakGlass("because");
  ASSERT_EQ(res->status, 400);
  EXPECT_EQ(json::parse(res->body)["reason"], "reason_required");
  EXPECT_TRUE(upstream_.Received().empty());
  EXPECT_EQ(Metric("agni_gateway_break_glass_total"), 0);

  // With one: forwarded at once, although the number needs two approvals.
  res = BreakGlass();
  ASSERT_EQ(res->status, 200) << res->body;
  ASSERT_EQ(upstream_.Received().size(), 1u);
  EXPECT_EQ(Metric("agni_gateway_break_glass_total"), 1);
  EXPECT_EQ(Metric("agni_gateway_reviews_pending"), 1);
  EXPECT_EQ(Metric("agni_gateway_reviews_overdue"), 0);
  std::vector<json> release_rows;
  for (const json& row : gw_->AuditRows()) {
    if (row["stage"] == "intent" || row["stage"] == "outcome") {
      release_rows.push_back(row);
    }
  }
  ASSERT_EQ(release_rows.size(), 2u);
  for (const json& row : release_rows) {
    EXPECT_EQ(row["decision"], "break_glass");
    EXPECT_EQ(row["rule_id"], "oncall-break-glass");
    EXPECT_EQ(row["principal"], "otto");
  }
  EXPECT_NE(release_rows[0]["detail"].get<std::string>().find("INC-42 fraud"),
            std::string::npos);
  EXPECT_EQ(release_rows[1]["outcome"], "released");

  // The review queue: otto's release, pending, due in an hour.
  const json list = Reviews("olga", "?status=pending");
  ASSERT_EQ(list["reviews"].size(), 1u);
  const json review = list["reviews"][0];
  const std::string id = review["id"];
  EXPECT_EQ(review["actor"], "otto");
  EXPECT_EQ(review["reason"], "INC-42 fraud");
  EXPECT_EQ(review["phone_number"], kNumber);
  EXPECT_EQ(review["from_groups"], json::array({"telecom-ops"}));
  EXPECT_EQ(release_rows[0]["approval_id"], id);  // the records name it

  // Never by the actor, though otto is in telecom-ops himself.
  res = Ack("otto", id, R"({"reason":"fine by me"})");
  ASSERT_EQ(res->status, 403) << res->body;
  EXPECT_EQ(json::parse(res->body)["reason"], "self_review");
  EXPECT_NE(json::parse(res->body)["detail"].get<std::string>().find(
                "someone else in telecom-ops"),
            std::string::npos);
  // Not by someone outside the rule's from_groups, and not without a reason.
  res = Ack("mallory", id, R"({"reason":"ok"})");
  ASSERT_EQ(res->status, 403);
  EXPECT_EQ(json::parse(res->body)["reason"], "not_eligible");
  EXPECT_EQ(Ack("olga", id, "")->status, 400);

  res = Ack("olga", id, R"({"reason":"checked INC-42, legitimate"})");
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["status"], "acked");
  EXPECT_EQ(json::parse(res->body)["acked_by"], "olga");
  EXPECT_EQ(Ack("oscar", id, R"({"reason":"me too"})")->status, 409);
  EXPECT_EQ(Metric("agni_gateway_reviews_pending"), 0);
  EXPECT_TRUE(Reviews("olga", "?status=pending")["reviews"].empty());

  // The acknowledgement and the reads are audited.
  int acks = 0, reads = 0;
  for (const json& row : gw_->AuditRows()) {
    if (row["outcome"] == "review_acked") {
      ++acks;
      EXPECT_EQ(row["principal"], "olga");
      EXPECT_EQ(row["approval_id"], id);
      EXPECT_NE(row["detail"].get<std::string>().find("legitimate"),
                std::string::npos);
    }
    const std::string detail = row.value("detail", "");
    if (detail.starts_with("listed break-glass reviews")) ++reads;
  }
  EXPECT_EQ(acks, 1);
  EXPECT_EQ(reads, 2);

  // The review survives a restart.
  gw_->Stop();
  gw_->Start();
  res = gw_->Client().Get("/v1/reviews/" + id, As("oscar"));
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["status"], "acked");
  EXPECT_EQ(json::parse(res->body)["ack_reason"], "checked INC-42, legitimate");
}

TEST_F(BreakGlassTest, NeverOverridesADenyAndIsOnlyForItsUsers) {
  StartGateway();
  auto res = gw_->Client().Delete(ReleasePath("+19115550100"),
                                  As("otto", "INC-1 emergency"));
  ASSERT_EQ(res->status, 403);
  EXPECT_EQ(json::parse(res->body)["rule_id"], "never-emergency");
  // alice is not named by the rule: her release waits for approval.
  res = gw_->Client().Delete(ReleasePath(kNumber), As("alice", "INC-1 x"));
  EXPECT_EQ(res->status, 202);
  EXPECT_TRUE(upstream_.Received().empty());
}

TEST_F(BreakGlassTest, RefusedWhenTheAuditLogCannotCommit) {
  StartGateway();
  {
    SQLite::Database locker(gw_->audit_path(), SQLite::OPEN_READWRITE);
    locker.exec("BEGIN EXCLUSIVE");
    auto res = BreakGlass();
    ASSERT_EQ(res->status, 503) << res->body;
    EXPECT_EQ(json::parse(res->body)["reason"], "audit_unavailable");
    locker.exec("ROLLBACK");
  }
  EXPECT_TRUE(upstream_.Received().empty());
  EXPECT_EQ(Metric("agni_gateway_break_glass_total"), 0);
  // Nothing to review: the release never happened.
  EXPECT_TRUE(Reviews("olga")["reviews"].empty());
  EXPECT_EQ(Metric("agni_gateway_reviews_pending"), 0);
}

TEST_F(BreakGlassTest, UnreviewedPastReviewWithinIsOverdueAndAnnouncedOnce) {
  Receiver hook;
  setenv("AGNI_TEST_NOTIFY_SECRET", "notify-secret-0123456789", 1);
  StartGateway(json::array({{{"type", "webhook"},
                             {"url", hook.url("/hook")},
                             {"secret_env", "AGNI_TEST_NOTIFY_SECRET"}}}));
  ASSERT_EQ(BreakGlass()->status, 200);
  auto events = hook.WaitFor(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].json()["type"], "break_glass");
  EXPECT_EQ(events[0].json()["review"]["actor"], "otto");
  EXPECT_EQ(events[0].json()["labels"]["env"], "prod");

  clock_.Advance(std::chrono::minutes(61));
  const json list = Reviews("olga");  // a read sweeps, as the timer does
  ASSERT_EQ(list["reviews"].size(), 1u);
  EXPECT_EQ(list["reviews"][0]["overdue"], true);
  EXPECT_EQ(Metric("agni_gateway_reviews_overdue"), 1);
  events = hook.WaitFor(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].json()["type"], "review.overdue");
  Reviews("olga");
  // Acknowledged late, it is no longer overdue.
  const std::string id = list["reviews"][0]["id"];
  ASSERT_EQ(Ack("oscar", id, R"({"reason":"late but fine"})")->status, 200);
  EXPECT_EQ(Metric("agni_gateway_reviews_overdue"), 0);
  events = hook.WaitFor(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].json()["type"], "review.acked");
}

TEST_F(BreakGlassTest, AHangingReceiverNeverHoldsUpARelease) {
  Receiver chat;
  chat.Hold(true);
  StartGateway(json::array({{{"type", "slack"}, {"url", chat.url("/slack")}},
                            {{"type", "teams"}, {"url", chat.url("/teams")}}}),
               {{"console", {{"enabled", false}}}});
  // The approval request's events reach the receiver and hang there.
  ASSERT_EQ(
      gw_->Client().Delete(ReleasePath(kNumber), As("alice", "x"))->status,
      202);
  EXPECT_GE(chat.WaitArrived(2), 2);
  // Both channels are stuck; the break-glass release still completes, and
  // so does an approval.
  auto res = BreakGlass();
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(upstream_.Received().size(), 1u);
  EXPECT_EQ(chat.recorded(), 0u);  // nothing answered while it hung
  chat.Hold(false);
  const auto all = chat.WaitFor(4);
  EXPECT_EQ(all.size(), 4u);
}

// "Break-glass works when the identity provider, the webhook receivers or
// the console are down": a person whose JWT was verified against keys
// fetched before the provider went away, and a static-token user, release
// at once, recorded as break_glass, while the only channel's receiver is
// down and the console is off.
TEST_F(BreakGlassTest, WorksWithTheProviderTheReceiversAndTheConsoleDown) {
  constexpr const char* kIssuer = "https://login.example.com/realms/corp";
  TestSigningKey key(TestSigningKey::Type::kRsa);
  JwksServer provider(
      json{{"keys", json::array({key.PublicJwk("k1")})}}.dump());
  auto o = GatewayHarness::ForApprovals(upstream_.url());
  o.policy_json = R"({"rules":[
    {"id":"prod-needs-two","effect":"require_approval","groups":["support"],
     "numbers":["+1415*"],
     "approval":{"approvals":2,"from_groups":["telecom-ops"],"ttl":"24h",
                 "execute_within":"1h"}},
    {"id":"oncall-break-glass","effect":"break_glass","users":["otto"],
     "break_glass":{"from_groups":["telecom-ops"],"review_within":"1h"}},
    {"id":"provider-oncall-break-glass","effect":"break_glass",
     "groups":["oncall"],
     "break_glass":{"from_groups":["telecom-ops"],"review_within":"1h"}}]})";
  o.clock = clock_.Function();
  o.approvals_config = {
      {"notify",
       json::array({{{"type", "slack"},
                     {"url", std::string("http://127.0.0.1:") +
                                 std::to_string(FreePort()) + "/slack"},
                     {"max_attempts", 1}}})}};
  o.extra_config = {{"groups", {"oncall"}},
                    {"identity",
                     {{"oidc",
                       {{{"name", "corp"},
                         {"issuer", kIssuer},
                         {"audiences", {"agni-gateway"}},
                         {"algorithms", {"RS256"}},
                         {"jwks_url", provider.url()}}}}}},
                    {"console", {{"enabled", false}}}};
  gw_ = std::make_unique<GatewayHarness>(std::move(o));
  provider.Stop();

  // Valid on the gateway's (test) clock and on the system's.
  const auto seconds = [](std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(
               t.time_since_epoch())
        .count();
  };
  const std::int64_t fake = seconds(clock_.now());
  const std::int64_t real = seconds(std::chrono::system_clock::now());
  const std::string jwt = SignJwt(key, "RS256", "k1",
                                  {{"iss", kIssuer},
                                   {"aud", "agni-gateway"},
                                   {"email", "pia@example.com"},
                                   {"groups", {"oncall"}},
                                   {"iat", std::min(fake, real) - 60},
                                   {"exp", std::max(fake, real) + 3600}});
  httplib::Headers h = Bearer(jwt);
  h.emplace("X-Release-Reason", "INC-7 provider outage");
  auto res = gw_->Client().Delete(ReleasePath(kNumber), h);
  ASSERT_EQ(res->status, 200) << res->body;
  res = BreakGlass("INC-7 second number");
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(upstream_.Received().size(), 2u);
  EXPECT_EQ(Metric("agni_gateway_break_glass_total"), 2);

  std::map<std::string, std::string> decided;  // principal -> auth_method
  for (const json& row : gw_->AuditRows()) {
    if (row["stage"] != "intent") continue;
    EXPECT_EQ(row["decision"], "break_glass") << row.dump();
    decided[row["principal"]] = row["auth_method"];
  }
  EXPECT_EQ(decided["pia@example.com"], "oidc");
  EXPECT_EQ(decided["otto"], "bearer");
  // Both wait for review; the announcements failed against the dead
  // receiver without holding anything up.
  EXPECT_EQ(Reviews("olga", "?status=pending")["reviews"].size(), 2u);
  const std::string failed =
      R"(agni_gateway_notifications_total{channel="slack",result="failed"})";
  for (int i = 0; i < 400 && Metric(failed) < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_EQ(Metric(failed), 2);
}

}  // namespace
}  // namespace agni::testing
