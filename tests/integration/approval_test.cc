// The approval workflow over HTTP against the real servers: what requesters,
// approvers and auditors see, what the upstream received, what the audit says.
#include <gtest/gtest.h>

#include <future>

#include "audit/store.h"
#include "gateway/http/http_types.h"
#include "gateway/ops/log.h"
#include "gateway/ops/metrics.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/upstream/http_upstream.h"
#include "tests/support/approval_client.h"
#include "tests/support/harness.h"

namespace agni::testing {
namespace {

using nlohmann::json;

constexpr const char* kProd = "+14156660100";   // prod-needs-two only
constexpr const char* kSales = "+14155550123";  // both approval rules

class ApprovalTest : public ::testing::Test {
 protected:
  httplib::Headers Executing(const std::string& user, const std::string& id) {
    httplib::Headers h = api_.As(user);
    h.emplace("X-Approval-Id", id);
    return h;
  }
  std::string Reason(const httplib::Result& res) {
    return Body(res).value("reason", "");
  }
  std::vector<json> ApprovalRows() { return api_.Rows("approval"); }
  std::size_t DeletesReceived() { return upstream_.Received().size(); }

  FakeUpstream upstream_;
  FakeClock clock_{
      FakeClock::TimePoint(std::chrono::microseconds(1'800'000'000'000'000))};
  GatewayHarness gw_{[this] {
    auto o = GatewayHarness::ForApprovals(upstream_.url());
    o.clock = clock_.Function();
    return o;
  }()};
  ApprovalClient api_{gw_};
};

TEST_F(ApprovalTest, ReleaseNeedingApprovalIs202WithLocationAndRepeatsReuseIt) {
  auto res = api_.Release("alice");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  const json body = Body(res);
  EXPECT_EQ(body["success"], true);
  const json& a = body["approval"];
  const std::string id = a["id"];
  EXPECT_EQ(res->get_header_value("Location"), "/v1/approvals/" + id);
  EXPECT_EQ(a["status"], "pending");
  EXPECT_EQ(a["requester"], "alice");
  EXPECT_EQ(a["phone_number"], kProd);
  EXPECT_EQ(a["rule_id"], "prod-needs-two");
  EXPECT_EQ(a["required"][0]["approvals"], 2);
  EXPECT_EQ(a["eligible_approvers"], json({"olga", "oscar", "otto"}));
  EXPECT_EQ(a["approvals"], json::array());
  EXPECT_FALSE(a["expires_at"].get<std::string>().empty());

  for (int i = 0; i < 2; ++i) {
    auto again = api_.Release("alice");
    ASSERT_EQ(again->status, 202);
    EXPECT_EQ(Body(again)["approval"]["id"], id) << "no duplicate requests";
  }
  // Another requester for the same number gets their own request.
  EXPECT_NE(api_.Request("bob"), id);
  EXPECT_EQ(DeletesReceived(), 0u);

  const auto rows = ApprovalRows();
  ASSERT_EQ(rows.size(), 2u);  // alice's and bob's "created"
  EXPECT_EQ(rows[0]["outcome"], "created");
  EXPECT_EQ(rows[0]["principal"], "alice");
  EXPECT_EQ(rows[0]["approval_id"], id);
  const std::string m = gw_.Metrics();
  EXPECT_EQ(MetricValue(m, R"(agni_gateway_approvals_total{event="created"})"),
            2);
  EXPECT_EQ(MetricValue(m, "agni_gateway_approvals_pending"), 2);
  EXPECT_EQ(
      MetricValue(m,
                  R"(agni_gateway_requests_total{code="202",route="release"})"),
      4);
}

TEST_F(ApprovalTest,
       TwoApprovalsThenOneExecutionWithTheRealKeyAndTheWholeStoryAudited) {
  const std::string id = api_.Request();
  auto first =
      api_.Decide("olga", id, "approve", R"({"reason":"ticket OPS-1"})");
  ASSERT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(Body(first)["status"], "pending");
  auto early = api_.Execute("alice", id);
  EXPECT_EQ(early->status, 409);
  EXPECT_EQ(Reason(early), "approval_pending");

  auto second = api_.Decide("oscar", id, "approve");
  ASSERT_EQ(second->status, 200) << second->body;
  EXPECT_EQ(Body(second)["status"], "approved");
  EXPECT_FALSE(Body(second)["execute_before"].is_null());

  auto done = api_.Execute("alice", id);
  ASSERT_EQ(done->status, 200) << done->body;
  EXPECT_EQ(Body(done)["success"], true);
  auto again = api_.Execute("alice", id);
  EXPECT_EQ(again->status, 409);
  EXPECT_EQ(Reason(again), "approval_used");

  const auto received = upstream_.Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].method, "DELETE");
  EXPECT_EQ(received[0].headers.find("X-Api-Key")->second, kApiKey);
  EXPECT_EQ(received[0].headers.count("X-Approval-Id"), 0u);
  EXPECT_EQ(received[0].headers.count("Authorization"), 0u);

  // created, approved x2, executed, then the forwarded release.
  std::vector<std::string> story;
  for (const json& r : gw_.AuditRows()) {
    if (r.value("approval_id", "") != id) continue;
    story.push_back(r["stage"].get<std::string>() + ":" +
                    r.value("outcome", r.value("reason", "")) + ":" +
                    r.value("principal", ""));
  }
  EXPECT_EQ(
      story,
      (std::vector<std::string>{
          "approval:created:alice", "decision:approval_required:alice",
          "approval:approved:olga", "decision:approval_pending:alice",
          "approval:approved:oscar", "intent::alice", "approval:executed:alice",
          "outcome:released:alice", "decision:approval_used:alice"}));
  const auto rows = ApprovalRows();
  EXPECT_EQ(rows[1]["detail"], "ticket OPS-1");
  EXPECT_EQ(rows[1]["decision"], "pending");
  EXPECT_EQ(rows[2]["decision"], "approved");

  const std::string m = gw_.Metrics();
  EXPECT_EQ(MetricValue(m, R"(agni_gateway_approvals_total{event="approved"})"),
            2);
  EXPECT_EQ(MetricValue(m, R"(agni_gateway_approvals_total{event="executed"})"),
            1);
  EXPECT_EQ(MetricValue(m, "agni_gateway_approvals_pending"), 0);
}

TEST_F(ApprovalTest, RequesterNeverCountsEvenInsideTheApproverGroup) {
  const std::string id = api_.Request("otto");  // support and telecom-ops
  auto self = api_.Decide("otto", id, "approve");
  EXPECT_EQ(self->status, 403);
  EXPECT_EQ(Reason(self), "self_approval");
  auto self_deny = api_.Decide("otto", id, "deny", R"({"reason":"x"})");
  EXPECT_EQ(self_deny->status, 403);
  auto view = gw_.Client().Get("/v1/approvals/" + id, api_.As("otto"));
  EXPECT_EQ(Body(view)["eligible_approvers"], json({"olga", "oscar"}));
  EXPECT_EQ(Body(view)["approvals"], json::array());
}

TEST_F(ApprovalTest, OnePersonCountsOnce) {
  const std::string id = api_.Request();
  ASSERT_EQ(api_.Decide("olga", id, "approve")->status, 200);
  auto twice = api_.Decide("olga", id, "approve");
  EXPECT_EQ(twice->status, 409);
  EXPECT_EQ(Reason(twice), "duplicate_approval");
  auto view = gw_.Client().Get("/v1/approvals/" + id, api_.As("alice"));
  EXPECT_EQ(Body(view)["status"], "pending");
  EXPECT_EQ(Body(view)["approvals"].size(), 1u);
}

TEST_F(ApprovalTest, OutsidersCannotDecideOrReadButAuditorsCanRead) {
  const std::string id = api_.Request();
  auto decide = api_.Decide("mallory", id, "approve");
  EXPECT_EQ(decide->status, 403);
  EXPECT_EQ(Reason(decide), "not_eligible");
  auto read = gw_.Client().Get("/v1/approvals/" + id, api_.As("mallory"));
  EXPECT_EQ(read->status, 403);
  EXPECT_EQ(Reason(read), "forbidden");
  EXPECT_EQ(gw_.Client().Get("/v1/approvals/" + id, api_.As("carol"))->status,
            200);
  EXPECT_EQ(gw_.Client().Get("/v1/approvals/" + id, api_.As("olga"))->status,
            200);
  auto unknown = gw_.Client().Get("/v1/approvals/apr_nope", api_.As("olga"));
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(gw_.Client().Get("/v1/approvals/" + id)->status, 401);
  // Every refusal is audited with the approval it was about.
  int refusals = 0;
  for (const json& r : gw_.AuditRows()) {
    if (r["stage"] == "decision" && r.value("approval_id", "") == id &&
        r.value("response_status", 0) == 403) {
      ++refusals;
    }
  }
  EXPECT_EQ(refusals, 2);
}

TEST_F(ApprovalTest, ApproverRemovedFromTheGroupBeforeDecidingIsNotEligible) {
  const std::string id = api_.Request();
  gw_.Reload({{"olga", {"support"}}, {"bob", {"telecom-ops"}}},
             kApprovalPolicy);
  auto res = api_.Decide("olga", id, "approve");
  EXPECT_EQ(res->status, 403);
  EXPECT_EQ(Reason(res), "not_eligible");
  EXPECT_EQ(api_.Decide("bob", id, "approve")->status, 200);
}

TEST_F(ApprovalTest, OneDenyEndsTheRequest) {
  const std::string id = api_.Request();
  ASSERT_EQ(api_.Decide("olga", id, "approve")->status, 200);
  auto no_reason = api_.Decide("oscar", id, "deny");
  EXPECT_EQ(no_reason->status, 400);
  auto bad_body = api_.Decide("oscar", id, "deny", "{not json");
  EXPECT_EQ(bad_body->status, 400);
  auto deny =
      api_.Decide("oscar", id, "deny", R"({"reason":"customer still active"})");
  ASSERT_EQ(deny->status, 200) << deny->body;
  EXPECT_EQ(Body(deny)["status"], "denied");
  EXPECT_EQ(Body(deny)["denials"][0]["reason"], "customer still active");
  auto late = api_.Decide("otto", id, "approve");
  EXPECT_EQ(late->status, 409);
  EXPECT_EQ(Reason(late), "approval_not_pending");
  auto exec = api_.Execute("alice", id);
  EXPECT_EQ(exec->status, 403);
  EXPECT_EQ(Reason(exec), "approval_denied");
  // A new request can be made after a denial.
  EXPECT_NE(api_.Request(), id);
  EXPECT_EQ(DeletesReceived(), 0u);
}

TEST_F(ApprovalTest,
       PendingExpiresAfterTtlAndApprovedExpiresAfterExecuteWithin) {
  const std::string pending = api_.Request();
  ASSERT_EQ(api_.Decide("olga", pending, "approve")->status, 200);
  clock_.Advance(std::chrono::hours(24));
  auto late = api_.Decide("oscar", pending, "approve");
  EXPECT_EQ(late->status, 409);
  EXPECT_EQ(Reason(late), "approval_not_pending");
  EXPECT_EQ(Body(gw_.Client().Get("/v1/approvals/" + pending,
                                  api_.As("alice")))["status"],
            "expired");

  const std::string approved = api_.Request();
  EXPECT_NE(approved, pending);
  ASSERT_EQ(api_.Decide("olga", approved, "approve")->status, 200);
  ASSERT_EQ(api_.Decide("oscar", approved, "approve")->status, 200);
  clock_.Advance(std::chrono::minutes(59));
  // Still inside execute_within: listing does not expire it.
  auto list =
      gw_.Client().Get("/v1/approvals?status=approved", api_.As("alice"));
  ASSERT_EQ(Body(list)["approvals"].size(), 1u);
  clock_.Advance(std::chrono::minutes(1));
  auto exec = api_.Execute("alice", approved);
  EXPECT_EQ(exec->status, 409);
  EXPECT_EQ(Reason(exec), "approval_expired");
  EXPECT_EQ(DeletesReceived(), 0u);

  int expired = 0;
  for (const json& r : ApprovalRows()) {
    if (r["outcome"] == "expired") {
      ++expired;
      EXPECT_FALSE(r.contains("principal"));  // the gateway did it
    }
  }
  EXPECT_EQ(expired, 2);
  EXPECT_EQ(MetricValue(gw_.Metrics(),
                        R"(agni_gateway_approvals_total{event="expired"})"),
            2);
}

TEST_F(ApprovalTest, ExecutionIsBoundToRequesterNumberAndStillValidPolicy) {
  const std::string id = api_.Request();
  ASSERT_EQ(api_.Decide("olga", id, "approve")->status, 200);
  ASSERT_EQ(api_.Decide("oscar", id, "approve")->status, 200);

  auto other_user = api_.Execute("bob", id);
  EXPECT_EQ(other_user->status, 409);
  EXPECT_EQ(Reason(other_user), "approval_mismatch");
  auto other_number = api_.Execute("alice", id, "+14156660101");
  EXPECT_EQ(other_number->status, 409);
  EXPECT_EQ(Reason(other_number), "approval_mismatch");
  auto junk = api_.Execute("alice", "apr_does_not_exist");
  EXPECT_EQ(junk->status, 409);
  EXPECT_EQ(Reason(junk), "approval_mismatch");

  // A new deny rule wins over the approval.
  std::string with_deny = kApprovalPolicy;
  with_deny.insert(
      with_deny.find("[") + 1,
      R"({"id":"freeze","effect":"deny","numbers":["+14156660100"]},)");
  gw_.Reload({}, with_deny);
  auto denied = api_.Execute("alice", id);
  EXPECT_EQ(denied->status, 403);
  EXPECT_EQ(Reason(denied), "policy_denied");
  // The requester removed from the rule's groups: no longer this approval.
  gw_.Reload({{"alice", {"contractors"}}}, kApprovalPolicy);
  EXPECT_EQ(api_.Execute("alice", id)->status, 403);
  EXPECT_EQ(DeletesReceived(), 0u);
  // Restored: the approval is still usable, once.
  gw_.Reload({{"alice", {"support"}}}, kApprovalPolicy);
  EXPECT_EQ(api_.Execute("alice", id)->status, 200);
  EXPECT_EQ(DeletesReceived(), 1u);
}

TEST_F(ApprovalTest, TwoConcurrentExecutionsForwardExactlyOneDelete) {
  upstream_.SetReply({.delay = std::chrono::milliseconds(200)});
  const std::string id = api_.Request();
  ASSERT_EQ(api_.Decide("olga", id, "approve")->status, 200);
  ASSERT_EQ(api_.Decide("oscar", id, "approve")->status, 200);
  std::promise<void> go;
  std::shared_future<void> start = go.get_future().share();
  auto run = [&] {
    start.wait();
    auto res = api_.Execute("alice", id);
    return res ? std::make_pair(res->status, Reason(res))
               : std::make_pair(0, std::string());
  };
  auto a = std::async(std::launch::async, run);
  auto b = std::async(std::launch::async, run);
  go.set_value();
  auto ra = a.get(), rb = b.get();
  std::multiset<int> codes = {ra.first, rb.first};
  EXPECT_EQ(codes, (std::multiset<int>{200, 409}));
  EXPECT_TRUE(ra.second == "approval_used" || rb.second == "approval_used");
  EXPECT_EQ(DeletesReceived(), 1u);
}

TEST_F(ApprovalTest, AnExecutionThatCannotBeSentKeepsTheApproval) {
  const std::string id = api_.Request();
  ASSERT_EQ(api_.Decide("olga", id, "approve")->status, 200);
  ASSERT_EQ(api_.Decide("oscar", id, "approve")->status, 200);
  upstream_.SetReply({.delay = std::chrono::milliseconds(1500)});
  // nina may release any number directly; hers is in flight first.
  auto nina = std::async(std::launch::async, [&] {
    auto res = gw_.Client().Delete(ReleasePath(kProd), api_.As("nina"));
    return res ? res->status : 0;
  });
  bool in_flight = false;
  for (int i = 0; i < 400 && !in_flight; ++i) {
    for (const json& r : gw_.AuditRows()) {
      if (r["stage"] == "intent" && r["principal"] == "nina") in_flight = true;
    }
    if (!in_flight) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(in_flight);
  auto blocked = api_.Execute("alice", id);
  EXPECT_EQ(blocked->status, 409);
  EXPECT_EQ(Reason(blocked), "release_in_flight");
  EXPECT_EQ(nina.get(), 200);
  auto view = gw_.Client().Get("/v1/approvals/" + id, api_.As("alice"));
  EXPECT_EQ(Body(view)["status"], "approved");
  upstream_.SetReply({});
  EXPECT_EQ(api_.Execute("alice", id)->status, 200);
  EXPECT_EQ(DeletesReceived(), 2u);
  std::vector<std::string> events;
  for (const json& r : ApprovalRows()) events.push_back(r["outcome"]);
  EXPECT_EQ(events, (std::vector<std::string>{"created", "approved", "approved",
                                              "executed"}));
}

TEST_F(ApprovalTest, PendingApprovalSurvivesARestartAndStaysDecidable) {
  const std::string id = api_.Request();
  ASSERT_EQ(api_.Decide("olga", id, "approve")->status, 200);
  gw_.Stop();
  gw_.Start();
  auto view = gw_.Client().Get("/v1/approvals/" + id, api_.As("alice"));
  ASSERT_EQ(view->status, 200);
  EXPECT_EQ(Body(view)["status"], "pending");
  EXPECT_EQ(Body(view)["approvals"][0]["user"], "olga");
  EXPECT_EQ(MetricValue(gw_.Metrics(), "agni_gateway_approvals_pending"), 1);
  EXPECT_EQ(Body(api_.Release("alice"))["approval"]["id"], id);
  EXPECT_EQ(api_.Decide("olga", id, "approve")->status,
            409);  // still counted once
  ASSERT_EQ(api_.Decide("oscar", id, "approve")->status, 200);
  EXPECT_EQ(api_.Execute("alice", id)->status, 200);
  EXPECT_EQ(DeletesReceived(), 1u);
}

TEST_F(ApprovalTest, OnlyTheRequesterCancels) {
  const std::string id = api_.Request();
  auto other = api_.Decide("bob", id, "cancel");
  EXPECT_EQ(other->status, 403);
  auto cancel =
      api_.Decide("alice", id, "cancel", R"({"reason":"wrong number"})");
  ASSERT_EQ(cancel->status, 200);
  EXPECT_EQ(Body(cancel)["status"], "cancelled");
  EXPECT_EQ(Reason(api_.Decide("olga", id, "approve")), "approval_not_pending");
  EXPECT_EQ(Reason(api_.Execute("alice", id)), "approval_cancelled");
  EXPECT_EQ(api_.Decide("alice", id, "cancel")->status, 409);
}

TEST_F(ApprovalTest, EveryMatchingRequirementMustBeMet) {
  const std::string id = api_.Request("alice", kSales);
  auto view = Body(gw_.Client().Get("/v1/approvals/" + id, api_.As("alice")));
  ASSERT_EQ(view["required"].size(), 2u);
  EXPECT_EQ(view["eligible_approvers"],
            json({"olga", "oscar", "otto", "nina"}));
  ASSERT_EQ(api_.Decide("olga", id, "approve")->status, 200);
  auto two = api_.Decide("oscar", id, "approve");
  EXPECT_EQ(Body(two)["status"], "pending");  // net-ops still missing
  auto three = api_.Decide("nina", id, "approve");
  EXPECT_EQ(Body(three)["status"], "approved");
  EXPECT_EQ(api_.Execute("alice", id, kSales)->status, 200);
}

TEST_F(ApprovalTest, ListShowsOwnRequestsAndThoseTheCallerMayDecide) {
  const std::string mine = api_.Request("alice");
  const std::string sales = api_.Request("bob", kSales);
  auto ids = [&](const std::string& user, const std::string& query) {
    std::set<std::string> out;
    auto res = gw_.Client().Get("/v1/approvals" + query, api_.As(user));
    EXPECT_EQ(res->status, 200);
    const json body = Body(res);
    for (const json& a : body["approvals"]) out.insert(a["id"]);
    return out;
  };
  EXPECT_EQ(ids("alice", "?status=pending"), (std::set<std::string>{mine}));
  EXPECT_EQ(ids("olga", "?status=pending"),
            (std::set<std::string>{mine, sales}));
  EXPECT_EQ(ids("nina", "?status=pending"), (std::set<std::string>{sales}));
  EXPECT_EQ(ids("mallory", ""), std::set<std::string>{});
  EXPECT_EQ(ids("carol", ""), (std::set<std::string>{mine, sales}));
  EXPECT_EQ(ids("alice", "?status=approved"), std::set<std::string>{});
  EXPECT_EQ(
      gw_.Client().Get("/v1/approvals?status=bogus", api_.As("alice"))->status,
      400);
  EXPECT_EQ(gw_.Client().Delete("/v1/approvals", api_.As("alice"))->status,
            405);
}

TEST_F(ApprovalTest, DecisionBodiesAreBounded) {
  const std::string id = api_.Request();
  const std::string long_reason =
      R"({"reason":")" + std::string(1001, 'x') + R"("})";
  auto too_long = api_.Decide("olga", id, "approve", long_reason);
  EXPECT_EQ(too_long->status, 400);
  auto huge = api_.Decide("olga", id, "approve", std::string(100 * 1024, 'x'));
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);
  auto unknown_key = api_.Decide("olga", id, "approve", R"({"why":"x"})");
  EXPECT_EQ(unknown_key->status, 400);
  auto view = gw_.Client().Get("/v1/approvals/" + id, api_.As("alice"));
  EXPECT_EQ(Body(view)["approvals"], json::array());
}

// An embedder that builds the pipeline without an approvals gateway (serve
// always has one): a require_approval rule denies, fail closed, and
// /v1/approvals is absent.
TEST(ApprovalsNotEnabled, RequireApprovalDeniesAndTheApiIsAbsent) {
  FakeUpstream upstream;
  GatewayHarness gw(
      {.upstream_base_url = upstream.url(),
       .policy_json = R"({"rules":[{"id":"prod","effect":"require_approval",
                        "groups":["support"],"approval":{"approvals":1,
                        "from_groups":["telecom-ops"],"ttl":"1h","execute_within":"5m"}}]})"});
  HttpUpstream client(gw.config().upstream, kApiKey);
  Metrics metrics;
  Logger log(LogLevel::kError);
  RequestPipeline without_approvals(
      std::make_shared<const AccessSnapshot>(gw.config()),
      {.audit = gw.gateway().audit_store(),
       .upstream = client,
       .metrics = metrics,
       .log = log});
  const std::vector<std::string> alice = {"Bearer " + gw.alice().token};
  const HttpResponse res =
      without_approvals.Handle({.method = "DELETE",
                                .target = ReleasePath("+14155550100"),
                                .peer = "127.0.0.1",
                                .authorization = alice});
  EXPECT_EQ(res.status, 403);
  EXPECT_EQ(json::parse(res.body, nullptr, false)["reason"], "policy_denied");
  EXPECT_EQ(without_approvals
                .Handle({.method = "GET",
                         .target = "/v1/approvals",
                         .peer = "127.0.0.1",
                         .authorization = alice})
                .status,
            404);
  EXPECT_TRUE(upstream.Received().empty());
}

}  // namespace
}  // namespace agni::testing
