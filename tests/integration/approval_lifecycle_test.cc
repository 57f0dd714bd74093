// Approvals that stay right when things change between the request and the
// release (DESIGN.md §13): a release that is refused or never sent gives its
// approval back, a reload that tightens a rule or offboards an approver is
// felt by approvals already granted, an expiry that cannot be recorded fails
// closed, and approvers, admins and auditors can revoke.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <future>
#include <set>
#include <thread>

#include "audit/approval_store.h"
#include "audit/store.h"
#include "gateway/approvals/approvals_api.h"
#include "gateway/ops/log.h"
#include "gateway/ops/metrics.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/upstream/http_upstream.h"
#include "tests/support/approval_client.h"
#include "tests/support/harness.h"
#include "tests/support/helpers.h"
#include "tests/support/process.h"

namespace agni::testing {
namespace {

using nlohmann::json;

constexpr const char* kProd = kProdNumber;

// Every "executed" approval record must follow its release's intent: the
// audit never claims a release that had none.
void ExpectNoExecutedWithoutIntent(const std::vector<json>& rows) {
  std::set<std::string> intents;
  for (const json& r : rows) {
    if (r["stage"] == "intent") intents.insert(r["request_id"]);
    if (r["stage"] == "approval" && r.value("outcome", "") == "executed") {
      EXPECT_TRUE(intents.contains(r["request_id"]))
          << "executed without an intent: " << r.dump();
    }
  }
}

class LifecycleTest : public ::testing::Test {
 protected:
  explicit LifecycleTest(std::string policy = kApprovalPolicy,
                         std::string upstream_url = "")
      : gw_([&] {
          auto o = GatewayHarness::ForApprovals(
              upstream_url.empty() ? upstream_.url() : upstream_url);
          o.clock = clock_.Function();
          o.policy_json = std::move(policy);
          // A fourth approver, so a rule may ask for three of them.
          o.extra_users = {{"tina", {"telecom-ops"}}};
          return o;
        }()) {}

  FakeUpstream upstream_;
  FakeClock clock_{
      FakeClock::TimePoint(std::chrono::microseconds(1'800'000'000'000'000))};
  GatewayHarness gw_;
  ApprovalClient api_{gw_};
};

// Item 1: a 429 does not use up the approval.
class RateLimitedTest : public LifecycleTest {
 protected:
  RateLimitedTest()
      : LifecycleTest(WithRule(
            kApprovalPolicy, "\n]}",
            R"(],"limits":[{"id":"one-per-10m","per":"user","max":1,"window":"10m"}]})")) {
  }
};

TEST_F(RateLimitedTest, ARateLimitedExecutionKeepsTheApproval) {
  const std::string id = api_.Approved();
  ASSERT_EQ(gw_.Client()
                .Delete(ReleasePath("+15555550100"), api_.As("alice"))
                ->status,
            200);  // alice's one release in ten minutes
  auto limited = api_.Execute("alice", id);
  ASSERT_EQ(limited->status, 429) << limited->body;
  EXPECT_EQ(api_.View(id)["status"], "approved");
  clock_.Advance(std::chrono::minutes(11));
  auto retry = api_.Execute("alice", id);
  EXPECT_EQ(retry->status, 200) << retry->body;
  EXPECT_EQ(upstream_.Received().size(), 2u);
  EXPECT_EQ(api_.Events(id),
            (std::vector<std::string>{"created", "approved", "approved",
                                      "executed"}));
  ExpectNoExecutedWithoutIntent(gw_.AuditRows());
}

// Item 1: an upstream that was never contacted does not use it up either.
class UnreachableTest : public LifecycleTest {
 protected:
  UnreachableTest() : LifecycleTest(kApprovalPolicy, ClosedPortUrl()) {}
  static std::string ClosedPortUrl() {
    // A port that was free a moment ago: nothing listens there.
    return "http://127.0.0.1:" + std::to_string(FreePort());
  }
};

TEST_F(UnreachableTest, AReleaseNeverSentKeepsTheApproval) {
  const std::string id = api_.Approved();
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto res = api_.Execute("alice", id);
    ASSERT_EQ(res->status, 502) << res->body;
    EXPECT_EQ(Body(res)["reason"], "upstream_unreachable");
    EXPECT_EQ(api_.View(id)["status"], "approved");
  }
  int not_sent = 0;
  for (const json& r : gw_.AuditRows()) {
    not_sent += r["stage"] == "outcome" && r["outcome"] == "not_sent";
  }
  EXPECT_EQ(not_sent, 2);
  EXPECT_EQ(api_.Events(id), (std::vector<std::string>{
                                 "created", "approved", "approved", "executed",
                                 "restored", "executed", "restored"}));
  ExpectNoExecutedWithoutIntent(gw_.AuditRows());
}

// Item 2: tightening a rule reaches approvals already granted or pending.
TEST_F(LifecycleTest, ATightenedRuleReopensAnApprovedRequest) {
  const std::string approved = api_.Approved();
  const std::string pending = api_.Request("bob");
  ASSERT_EQ(api_.Decide("olga", pending, "approve")->status, 200);
  gw_.Reload({}, ProdNeeds(3, "telecom-ops"));

  EXPECT_EQ(api_.View(approved)["status"], "pending");
  EXPECT_EQ(api_.View(approved)["required"][0]["approvals"], 3);
  auto refused = api_.Execute("alice", approved);
  ASSERT_EQ(refused->status, 409) << refused->body;
  EXPECT_EQ(Body(refused)["reason"], "approval_mismatch");
  const std::string detail = Body(refused)["detail"];
  EXPECT_NE(detail.find(R"(rule "prod-needs-two" now needs 3 approval(s))"),
            std::string::npos)
      << detail;
  EXPECT_NE(detail.find("was 2"), std::string::npos) << detail;
  EXPECT_NE(detail.find("2 of 3"), std::string::npos) << detail;
  EXPECT_TRUE(upstream_.Received().empty());
  EXPECT_EQ(api_.Events(approved).back(), "reopened");

  // The pending one does not become approved with two.
  EXPECT_EQ(Body(api_.Decide("oscar", pending, "approve"))["status"],
            "pending");
  // A third vote meets the new requirement.
  EXPECT_EQ(Body(api_.Decide("otto", approved, "approve"))["status"],
            "approved");
  EXPECT_EQ(api_.Execute("alice", approved)->status, 200);
  EXPECT_EQ(upstream_.Received().size(), 1u);
}

TEST_F(LifecycleTest, ARuleIdReusedWithAnotherMeaningIsRecheckedToo) {
  const std::string id = api_.Approved();
  gw_.Reload({}, ProdNeeds(1, "net-ops"));
  auto refused = api_.Execute("alice", id);
  ASSERT_EQ(refused->status, 409) << refused->body;
  EXPECT_EQ(Body(refused)["reason"], "approval_mismatch");
  const std::string detail = Body(refused)["detail"];
  EXPECT_NE(detail.find("[net-ops], was 2 approval(s) from [telecom-ops]"),
            std::string::npos)
      << detail;
  EXPECT_TRUE(upstream_.Received().empty());
  EXPECT_EQ(Body(api_.Decide("nina", id, "approve"))["status"], "approved");
  EXPECT_EQ(api_.Execute("alice", id)->status, 200);
}

TEST_F(LifecycleTest, AChangedRuleWhoseRequirementIsStillMetExecutes) {
  const std::string id = api_.Approved();
  // Same requirement, another selector: the votes still meet it.
  gw_.Reload({}, WithRule(kApprovalPolicy, R"("numbers":["+1415*"],
   "approval")",
                          R"("numbers":["+14156*"],
   "approval")"));
  EXPECT_EQ(api_.Execute("alice", id)->status, 200);
}

// Item 3: an offboarded approver's vote no longer counts.
TEST_F(LifecycleTest, AnOffboardedApproversVoteNoLongerCounts) {
  const std::string pending = api_.Request();
  ASSERT_EQ(api_.Decide("olga", pending, "approve")->status, 200);
  const std::string approved = api_.Request("bob");
  ASSERT_EQ(api_.Decide("olga", approved, "approve")->status, 200);
  ASSERT_EQ(api_.Decide("oscar", approved, "approve")->status, 200);

  gw_.RemoveUser("olga");
  gw_.Reload({}, kApprovalPolicy);

  // oscar's vote alone is one of two.
  EXPECT_EQ(Body(api_.Decide("oscar", pending, "approve"))["status"],
            "pending");
  EXPECT_EQ(api_.View(approved, "bob")["status"], "pending");
  auto refused = api_.Execute("bob", approved);
  ASSERT_EQ(refused->status, 409) << refused->body;
  EXPECT_EQ(Body(refused)["reason"], "approval_mismatch");
  EXPECT_NE(Body(refused)["detail"].get<std::string>().find("1 of 2"),
            std::string::npos);
  EXPECT_TRUE(upstream_.Received().empty());
  EXPECT_EQ(Body(api_.Decide("otto", pending, "approve"))["status"],
            "approved");
  EXPECT_EQ(api_.Execute("alice", pending)->status, 200);
  EXPECT_EQ(upstream_.Received().size(), 1u);
}

TEST_F(LifecycleTest, AnApproverMovedOutOfTheGroupNoLongerCounts) {
  const std::string id = api_.Approved();
  gw_.Reload({{"oscar", {"support"}}}, kApprovalPolicy);
  EXPECT_EQ(api_.Execute("alice", id)->status, 409);
  EXPECT_EQ(api_.View(id)["status"], "pending");
  EXPECT_TRUE(upstream_.Received().empty());
}

// A reload that lowers a requirement promotes a pending request at once: the
// status shown and the execution count against the current config, without
// waiting for a vote that is no longer needed.
TEST_F(LifecycleTest, ALoweredRequirementApprovesAPendingRequestAtOnce) {
  const std::string id = api_.Request();
  ASSERT_EQ(Body(api_.Decide("olga", id, "approve"))["status"], "pending");
  gw_.Reload({}, ProdNeeds(1, "telecom-ops"));

  const json view = api_.View(id);
  EXPECT_EQ(view["status"], "approved") << view.dump();
  EXPECT_EQ(view["required"][0]["approvals"], 1);
  EXPECT_FALSE(view["execute_before"].is_null()) << view.dump();
  auto exec = api_.Execute("alice", id);
  ASSERT_EQ(exec->status, 200) << exec->body;
  EXPECT_EQ(upstream_.Received().size(), 1u);
  const std::vector<std::string> events = api_.Events(id);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events[events.size() - 2], "approved");  // by the gateway
  EXPECT_EQ(events.back(), "executed");
}

// ?status= selects by the status the caller sees (recounted against the
// current config), not the one last stored.
TEST_F(LifecycleTest, TheListFiltersOnTheRecountedStatus) {
  const auto ids = [&](const std::string& status) {
    std::set<std::string> out;
    const json page = Body(
        gw_.Client().Get("/v1/approvals?status=" + status, api_.As("carol")));
    for (const json& a : page["approvals"]) {
      EXPECT_EQ(a["status"], status) << a.dump();
      out.insert(a["id"].get<std::string>());
    }
    return out;
  };
  const std::string approved = api_.Approved();
  const std::string pending = api_.Request("bob");
  ASSERT_EQ(api_.Decide("olga", pending, "approve")->status, 200);

  // Three needed now: the approved request is shown pending again.
  gw_.Reload({}, ProdNeeds(3, "telecom-ops"));
  EXPECT_EQ(ids("pending"), (std::set<std::string>{approved, pending}));
  EXPECT_TRUE(ids("approved").empty());

  // One needed now: both are approved.
  gw_.Reload({}, ProdNeeds(1, "telecom-ops"));
  EXPECT_EQ(ids("approved"), (std::set<std::string>{approved, pending}));
  EXPECT_TRUE(ids("pending").empty());
}

// Revoke: eligible approvers, admins and auditors; the requester is told.
TEST_F(LifecycleTest, ApproversAndAuditorsRevokeOthersAreRefused) {
  const std::string pending = api_.Request();
  EXPECT_EQ(
      api_.Decide("alice", pending, "revoke", R"({"reason":"x"})")->status,
      403);
  EXPECT_EQ(
      api_.Decide("mallory", pending, "revoke", R"({"reason":"x"})")->status,
      403);
  EXPECT_EQ(api_.Decide("nina", pending, "revoke", R"({"reason":"x"})")->status,
            403);  // net-ops does not decide on prod-needs-two
  EXPECT_EQ(api_.Decide("oscar", pending, "revoke")->status, 400);  // no reason
  auto revoked = api_.Decide("oscar", pending, "revoke",
                             R"({"reason":"customer called back"})");
  ASSERT_EQ(revoked->status, 200) << revoked->body;
  EXPECT_EQ(Body(revoked)["status"], "revoked");
  EXPECT_EQ(Body(revoked)["closed_by"], "oscar");
  EXPECT_EQ(Body(revoked)["closed_reason"], "customer called back");
  auto again = api_.Decide("olga", pending, "revoke", R"({"reason":"x"})");
  EXPECT_EQ(again->status, 409);

  const std::string approved = api_.Approved();
  ASSERT_EQ(
      api_.Decide("carol", approved, "revoke", R"({"reason":"audit hold"})")
          ->status,
      200);  // an auditor
  // Refused as revoked, naming who revoked it and why, not as cancelled.
  auto exec = api_.Execute("alice", approved);
  EXPECT_EQ(exec->status, 409);
  EXPECT_EQ(Body(exec)["reason"], "approval_revoked");
  EXPECT_NE(Body(exec)["detail"].get<std::string>().find(
                "revoked by carol: audit hold"),
            std::string::npos)
      << exec->body;

  const std::string executed = api_.Approved();
  ASSERT_EQ(api_.Execute("alice", executed)->status, 200);
  auto late = api_.Decide("olga", executed, "revoke", R"({"reason":"x"})");
  EXPECT_EQ(late->status, 409);
  EXPECT_EQ(Body(late)["reason"], "approval_not_pending");
  EXPECT_EQ(upstream_.Received().size(), 1u);

  int revocations = 0;
  for (const json& r : gw_.AuditRows()) {
    if (r["stage"] == "approval" && r["outcome"] == "revoked") {
      ++revocations;
      EXPECT_TRUE(r["principal"] == "oscar" || r["principal"] == "carol");
    }
  }
  EXPECT_EQ(revocations, 2);
  EXPECT_EQ(MetricValue(gw_.Metrics(),
                        R"(agni_gateway_approvals_total{event="revoked"})"),
            2);
}

// Reload during execution: no release goes out with fewer valid votes than
// the requirement in force when its approval was consumed.
TEST_F(LifecycleTest, ReloadThatTightensARuleWhileReleasesRun) {
  constexpr int kApprovals = 12;
  std::vector<std::string> ids;
  for (int i = 0; i < kApprovals; ++i) {
    const std::string requester = i % 2 == 0 ? "alice" : "bob";
    auto res = gw_.Client().Delete(
        ReleasePath("+1415666" + std::to_string(1000 + i)), api_.As(requester));
    ASSERT_EQ(res->status, 202);
    const std::string id = Body(res)["approval"]["id"];
    ASSERT_EQ(api_.Decide("olga", id, "approve")->status, 200);
    ASSERT_EQ(api_.Decide("oscar", id, "approve")->status, 200);
    ids.push_back(id);
  }
  upstream_.SetReply({.delay = std::chrono::milliseconds(20)});
  std::atomic<bool> reloaded{false};
  std::atomic<int> released_after_reload{0};
  auto run = [&](int first) {
    for (int i = first; i < kApprovals; i += 3) {
      const std::string requester = i % 2 == 0 ? "alice" : "bob";
      httplib::Headers h = api_.As(requester);
      h.emplace("X-Approval-Id", ids[i]);
      const bool after = reloaded.load();
      auto res = gw_.Client().Delete(
          ReleasePath("+1415666" + std::to_string(1000 + i)), h);
      if (!res) continue;
      if (after && res->status == 200) ++released_after_reload;
      EXPECT_TRUE(res->status == 200 || res->status == 409) << res->body;
    }
  };
  std::vector<std::future<void>> runners;
  for (int t = 0; t < 3; ++t) {
    runners.push_back(std::async(std::launch::async, run, t));
  }
  gw_.Reload({}, ProdNeeds(3, "telecom-ops"));
  reloaded = true;
  for (auto& r : runners) r.get();
  EXPECT_EQ(released_after_reload.load(), 0);

  // Every forwarded release had its approval executed before the reload's
  // requirement applied; every other approval is pending again, and the
  // upstream saw exactly one DELETE per executed approval.
  std::size_t executed = 0;
  for (const std::string& id : ids) {
    const std::string status = api_.View(id, "carol")["status"];
    EXPECT_TRUE(status == "executed" || status == "pending") << status;
    executed += status == "executed";
  }
  EXPECT_EQ(upstream_.Received().size(), executed);
  ExpectNoExecutedWithoutIntent(gw_.AuditRows());
}

// An audit log that refuses some records: the intent of a release, or an
// approval's expiry.
class SelectiveSink final : public audit::AuditSink {
 public:
  explicit SelectiveSink(audit::AuditSink& real) : real_(real) {}
  audit::AppendResult Append(audit::Record record) override {
    if (refuse && refuse(record)) return {false, 0, "refused by the test"};
    return real_.Append(std::move(record));
  }
  bool Healthy() const override { return real_.Healthy(); }
  bool Probe() override { return real_.Probe(); }
  std::function<bool(const audit::Record&)> refuse;  // set before traffic

 private:
  audit::AuditSink& real_;
};

// The pipeline and approvals the gateway builds, over SelectiveSink.
class FailingAuditTest : public ::testing::Test {
 protected:
  FailingAuditTest()
      : gw_([&] {
          auto o = GatewayHarness::ForApprovals(upstream_.url());
          o.clock = clock_.Function();
          return o;
        }()),
        sink_(gw_.gateway().audit_store()),
        store_(gw_.dir().File("lifecycle-approvals.db")),
        client_(gw_.config().upstream, kApiKey),
        approvals_(
            store_, sink_, metrics_, nullptr, log_,
            [this] {
              return std::chrono::duration_cast<std::chrono::microseconds>(
                         clock_.now().time_since_epoch())
                  .count();
            }),
        pipeline_(std::make_shared<const AccessSnapshot>(gw_.config()),
                  {.audit = sink_,
                   .upstream = client_,
                   .metrics = metrics_,
                   .log = log_,
                   .approvals = &approvals_,
                   .clock = clock_.Function()}) {
    const AccessSnapshot access(gw_.config());
    approvals_.UseConfig(access.policy, access.members);
  }

  HttpResponse Send(const std::string& user, const std::string& method,
                    const std::string& target, const std::string& approval_id,
                    const std::string& body = "") {
    HttpRequest r{.method = method,
                  .target = target,
                  .peer = "127.0.0.1",
                  .authorization = {"Bearer " + gw_.User(user).token},
                  .has_body = !body.empty(),
                  .body = body};
    if (!approval_id.empty()) r.approval_id = {approval_id};
    return pipeline_.Handle(r);
  }
  std::string Approved() {
    const HttpResponse created =
        Send("alice", "DELETE", ReleasePath(kProd), "");
    EXPECT_EQ(created.status, 202) << created.body;
    const std::string id = json::parse(created.body)["approval"]["id"];
    for (const char* who : {"olga", "oscar"}) {
      EXPECT_EQ(
          Send(who, "POST", "/v1/approvals/" + id + "/approve", "").status,
          200);
    }
    return id;
  }
  HttpResponse Execute(const std::string& id) {
    return Send("alice", "DELETE", ReleasePath(kProd), id);
  }
  std::string Status(const std::string& id) {
    const HttpResponse r = Send("alice", "GET", "/v1/approvals/" + id, "");
    return json::parse(r.body, nullptr, false).value("status", "");
  }

  FakeUpstream upstream_;
  FakeClock clock_{
      FakeClock::TimePoint(std::chrono::microseconds(1'800'000'000'000'000))};
  GatewayHarness gw_;
  SelectiveSink sink_;
  audit::SqliteApprovalStore store_;
  HttpUpstream client_;
  Metrics metrics_;
  Logger log_{LogLevel::kError};
  ApprovalsGateway approvals_;
  RequestPipeline pipeline_;
};

TEST_F(FailingAuditTest, AnIntentThatCannotBeCommittedKeepsTheApproval) {
  const std::string id = Approved();
  sink_.refuse = [](const audit::Record& r) {
    return r.stage == audit::Stage::kIntent;
  };
  const HttpResponse refused = Execute(id);
  ASSERT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(json::parse(refused.body)["reason"], "audit_unavailable");
  EXPECT_TRUE(upstream_.Received().empty());
  sink_.refuse = nullptr;
  EXPECT_EQ(Status(id), "approved");
  const HttpResponse retry = Execute(id);
  EXPECT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(upstream_.Received().size(), 1u);
  ExpectNoExecutedWithoutIntent(gw_.AuditRows());
}

TEST_F(FailingAuditTest, AnExecutionThatCannotBeRecordedIsNotForwarded) {
  const std::string id = Approved();
  sink_.refuse = [](const audit::Record& r) {
    return r.stage == audit::Stage::kApproval && r.outcome == "executed";
  };
  const HttpResponse refused = Execute(id);
  ASSERT_EQ(refused.status, 503) << refused.body;
  EXPECT_TRUE(upstream_.Received().empty());
  sink_.refuse = nullptr;
  EXPECT_EQ(Status(id), "approved");
  EXPECT_EQ(Execute(id).status, 200);
  EXPECT_EQ(upstream_.Received().size(), 1u);
}

// Item 5: an approval past execute_within whose expiry cannot be recorded is
// not used.
TEST_F(FailingAuditTest, AnExpiryThatCannotBeRecordedFailsClosed) {
  const std::string id = Approved();
  clock_.Advance(std::chrono::hours(1));
  sink_.refuse = [](const audit::Record& r) {
    return r.stage == audit::Stage::kApproval && r.outcome == "expired";
  };
  const HttpResponse refused = Execute(id);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(json::parse(refused.body)["reason"], "audit_unavailable");
  EXPECT_TRUE(upstream_.Received().empty());
  sink_.refuse = nullptr;
  const HttpResponse expired = Execute(id);
  EXPECT_EQ(expired.status, 409);
  EXPECT_EQ(json::parse(expired.body)["reason"], "approval_expired");
  EXPECT_TRUE(upstream_.Received().empty());
}

// The lifecycle across SIGKILL: the gateway dies while an approved release is
// at the upstream; the restarted gateway shows it executed and never sends it
// a second time.
TEST(ApprovalAcrossSigkill, AnExecutionInFlightIsNotRepeatedAfterARestart) {
  FakeUpstream upstream;
  upstream.SetReply({.delay = std::chrono::milliseconds(3000)});
  GatewayConfig config{.upstream_base_url = upstream.url()};
  config.users = {{"alice", {"support"}, "alice-token-5e1c0b7d9a3f"},
                  {"olga", {"telecom-ops"}, "olga-token-8d2e4f6a1b0c"},
                  {"oscar", {"telecom-ops"}, "oscar-token-3c7a9e1f5d2b"}};
  config.policy_json = R"({"rules":[
    {"id":"prod-needs-two","effect":"require_approval","groups":["support"],
     "numbers":["+1415*"],"approval":{"approvals":2,
     "from_groups":["telecom-ops"],"ttl":"24h","execute_within":"1h"}}]})";
  GatewayProcess first({.config = config});
  auto as = [&](const std::string& token) {
    return httplib::Headers{{"Authorization", "Bearer " + token}};
  };
  auto created =
      first.Client().Delete(ReleasePath(kProd), as(config.users[0].token));
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 202) << created->body;
  const std::string id = Body(created)["approval"]["id"];
  for (int who : {1, 2}) {
    auto res = first.Client().Post("/v1/approvals/" + id + "/approve",
                                   as(config.users[who].token), "",
                                   "application/json");
    ASSERT_EQ(res->status, 200) << res->body;
  }
  httplib::Headers execute = as(config.users[0].token);
  execute.emplace("X-Approval-Id", id);
  auto in_flight = std::async(std::launch::async, [&] {
    httplib::Client c = first.Client();
    c.set_read_timeout(10, 0);
    return c.Delete(ReleasePath(kProd), execute).error();
  });
  bool sent = false;
  for (int i = 0; i < 500 && !sent; ++i) {
    sent = !upstream.Received().empty();
    if (!sent) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(sent);
  first.Kill();
  in_flight.get();

  upstream.SetReply({});
  GatewayProcess second({.config_file = first.config_file()});
  auto view =
      second.Client().Get("/v1/approvals/" + id, as(config.users[0].token));
  ASSERT_EQ(view->status, 200) << view->body;
  EXPECT_EQ(Body(view)["status"], "executed");
  auto again = second.Client().Delete(ReleasePath(kProd), execute);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409) << again->body;
  EXPECT_EQ(Body(again)["reason"], "approval_used");
  EXPECT_EQ(upstream.Received().size(), 1u);
  // The audit holds the release's intent (closed as unknown) and the
  // approval's execution by that same request.
  std::string intent_request;
  bool executed = false;
  for (const json& r : second.AuditRows()) {
    if (r["stage"] == "intent") intent_request = r["request_id"];
    if (r["stage"] == "approval" && r["outcome"] == "executed") {
      executed = true;
      EXPECT_EQ(r["request_id"], intent_request);
    }
  }
  EXPECT_TRUE(executed);
  ExpectNoExecutedWithoutIntent(second.AuditRows());
}

}  // namespace
}  // namespace agni::testing
