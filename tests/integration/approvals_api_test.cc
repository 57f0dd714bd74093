// The approvals API as requesters, approvers and auditors use it: every read
// audited, open requests capped per requester, the list paged, and the
// justification a rule may require (X-Release-Reason).
#include <gtest/gtest.h>

#include <set>

#include "tests/support/approval_client.h"
#include "tests/support/harness.h"

namespace agni::testing {
namespace {

using nlohmann::json;

constexpr const char* kProd = kProdNumber;

// prod-needs-two with a required, patterned justification.
constexpr const char* kReasonPolicy = R"({"rules":[
  {"id":"prod-needs-ticket","effect":"require_approval","groups":["support"],
   "numbers":["+1415*"],
   "approval":{"approvals":1,"from_groups":["telecom-ops"],"ttl":"24h",
               "execute_within":"1h","reason":"required",
               "reason_pattern":"^[A-Z]+-[0-9]+$"}},
  {"id":"support-prod","effect":"allow","groups":["support"],"numbers":["+1415*"]}
]})";

class ApprovalsApiTest : public ::testing::Test {
 protected:
  void Start(json approvals_config = nullptr,
             std::string policy = kApprovalPolicy) {
    auto o = GatewayHarness::ForApprovals(upstream_.url());
    o.clock = clock_.Function();
    o.approvals_config = std::move(approvals_config);
    o.policy_json = std::move(policy);
    gw_ = std::make_unique<GatewayHarness>(std::move(o));
  }
  ApprovalClient Api() const { return ApprovalClient(*gw_); }
  httplib::Headers As(const std::string& user) { return Api().As(user); }
  httplib::Result Release(const std::string& user, const std::string& number,
                          httplib::Headers extra = {}) {
    return Api().Release(user, number, extra);
  }
  // Requests approval as alice for `number`; returns the new id.
  std::string Request(const std::string& number) {
    return Api().Request("alice", number);
  }
  httplib::Result Get(const std::string& user, const std::string& target) {
    return gw_->Client().Get(target, As(user));
  }
  std::vector<json> Rows(const std::string& stage) { return Api().Rows(stage); }
  std::size_t Created() {
    std::size_t n = 0;
    for (const json& r : Rows("approval")) n += r["outcome"] == "created";
    return n;
  }

  FakeUpstream upstream_;
  FakeClock clock_{
      FakeClock::TimePoint(std::chrono::microseconds(1'800'000'000'000'000))};
  std::unique_ptr<GatewayHarness> gw_;
};

TEST_F(ApprovalsApiTest, ReadingTheListOrOneApprovalLeavesAnAuditRecord) {
  Start();
  const std::string id = Request(kProd);
  auto list = Get("olga", "/v1/approvals?status=pending");
  ASSERT_EQ(list->status, 200) << list->body;
  auto one = Get("carol", "/v1/approvals/" + id);
  ASSERT_EQ(one->status, 200) << one->body;

  std::vector<json> reads;
  for (const json& r : Rows("decision")) {
    if (r.value("path", "").starts_with("/v1/approvals")) reads.push_back(r);
  }
  ASSERT_EQ(reads.size(), 2u);
  EXPECT_EQ(reads[0]["principal"], "olga");
  EXPECT_EQ(reads[0]["method"], "GET");
  EXPECT_EQ(reads[0]["path"], "/v1/approvals");  // the query is in detail
  EXPECT_EQ(reads[0]["response_status"], 200);
  EXPECT_EQ(reads[0]["detail"],
            "listed approvals status=pending limit=50: 1 shown");
  EXPECT_EQ(reads[1]["principal"], "carol");
  EXPECT_EQ(reads[1]["approval_id"], id);
  EXPECT_EQ(reads[1]["detail"], "read approval " + id);
  EXPECT_EQ(reads[1]["response_status"], 200);
}

TEST_F(ApprovalsApiTest, OpenRequestsPerUserAreCappedAndTheCapIsAudited) {
  Start({{"max_open_per_user", 2}});
  const std::string first = Request("+14156660101");
  Request("+14156660102");
  // Asking again for an open request is no new request.
  auto again = Release("alice", "+14156660101");
  ASSERT_EQ(again->status, 202);
  EXPECT_EQ(Body(again)["approval"]["id"], first);

  auto over = Release("alice", "+14156660103");
  ASSERT_EQ(over->status, 429) << over->body;
  EXPECT_EQ(Body(over)["reason"], "too_many_open_approvals");
  EXPECT_EQ(Created(), 2u) << "nothing created over the cap";
  bool audited = false;
  for (const json& r : Rows("decision")) {
    audited |= r.value("reason", "") == "too_many_open_approvals" &&
               r["principal"] == "alice" && r["response_status"] == 429 &&
               r["phone_number"] == "+14156660103";
  }
  EXPECT_TRUE(audited);
  // Another requester has their own allowance.
  auto bob = Release("bob", "+14156660103");
  EXPECT_EQ(bob->status, 202) << bob->body;

  // A closed request frees its place.
  auto cancel = gw_->Client().Post("/v1/approvals/" + first + "/cancel",
                                   As("alice"), "", "application/json");
  ASSERT_EQ(cancel->status, 200) << cancel->body;
  EXPECT_EQ(Release("alice", "+14156660103")->status, 202);
  EXPECT_TRUE(upstream_.Received().empty());
}

TEST_F(ApprovalsApiTest, TheListIsPagedNewestFirstWithANextCursor) {
  Start();
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    ids.push_back(Request("+1415666020" + std::to_string(i)));
    if (i % 2 == 1) clock_.Advance(std::chrono::seconds(1));  // and ties
  }
  std::vector<std::string> seen;
  std::string target = "/v1/approvals?limit=3";
  int pages = 0;
  for (; pages < 10 && !target.empty(); ++pages) {
    auto res = Get("carol", target);
    ASSERT_EQ(res->status, 200) << res->body;
    const json page = Body(res);
    EXPECT_LE(page["approvals"].size(), 3u);
    for (const json& a : page["approvals"]) seen.push_back(a["id"]);
    target = page["next"].is_null() ? ""
                                    : "/v1/approvals?limit=3&after=" +
                                          page["next"].get<std::string>();
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 7u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 7u);
  // Newest first: the last created leads; the first two (created at the
  // same time, ordered by id) end the list.
  EXPECT_EQ(seen.front(), ids.back());
  EXPECT_EQ(std::set<std::string>(seen.end() - 2, seen.end()),
            std::set<std::string>(ids.begin(), ids.begin() + 2));

  // Without a limit: the default page holds all seven, and no next.
  auto all = Get("olga", "/v1/approvals?status=pending");
  EXPECT_EQ(Body(all)["approvals"].size(), 7u);
  EXPECT_TRUE(Body(all)["next"].is_null());
  // Someone who may not see them gets an empty page.
  auto none = Get("mallory", "/v1/approvals");
  ASSERT_EQ(none->status, 200);
  EXPECT_EQ(Body(none)["approvals"].size(), 0u);

  for (const char* bad :
       {"/v1/approvals?limit=0", "/v1/approvals?limit=501",
        "/v1/approvals?limit=x", "/v1/approvals?after=nonsense",
        "/v1/approvals?after=12.a/b", "/v1/approvals?sort=id"}) {
    SCOPED_TRACE(bad);
    auto res = Get("carol", bad);
    EXPECT_EQ(res->status, 400);
    EXPECT_EQ(Body(res)["reason"], "invalid_request");
  }
}

TEST_F(ApprovalsApiTest,
       AMissingOrMalformedJustificationIs400AndCreatesNothing) {
  Start(nullptr, kReasonPolicy);
  const std::vector<std::pair<std::string, httplib::Headers>> cases = {
      {"missing", {}},
      {"empty", {{"X-Release-Reason", ""}}},
      {"not matching", {{"X-Release-Reason", "because I said so"}}},
      {"too long", {{"X-Release-Reason", "OPS-" + std::string(300, '1')}}},
      {"two headers",
       {{"X-Release-Reason", "OPS-1"}, {"X-Release-Reason", "OPS-2"}}},
  };
  for (const auto& [name, headers] : cases) {
    SCOPED_TRACE(name);
    auto res = Release("alice", kProd, headers);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << res->body;
    EXPECT_EQ(Body(res)["reason"], "reason_required");
  }
  std::size_t audited = 0;
  for (const json& r : Rows("decision")) {
    audited += r.value("reason", "") == "reason_required" &&
               r["response_status"] == 400;
  }
  EXPECT_EQ(audited, cases.size());
  EXPECT_EQ(Created(), 0u);
  EXPECT_TRUE(upstream_.Received().empty());
}

TEST_F(ApprovalsApiTest,
       TheJustificationIsShownRecordedAndCarriedToTheRelease) {
  Start(nullptr, kReasonPolicy);
  auto created = Release("alice", kProd, {{"X-Release-Reason", "OPS-4711"}});
  ASSERT_EQ(created->status, 202) << created->body;
  const std::string id = Body(created)["approval"]["id"];
  EXPECT_EQ(Body(created)["approval"]["release_reason"], "OPS-4711");

  auto shown = Get("olga", "/v1/approvals/" + id);
  EXPECT_EQ(Body(shown)["release_reason"], "OPS-4711");
  auto approve = gw_->Client().Post("/v1/approvals/" + id + "/approve",
                                    As("olga"), "", "application/json");
  ASSERT_EQ(approve->status, 200) << approve->body;
  httplib::Headers exec = {{"X-Approval-Id", id}};
  auto done = Release("alice", kProd, exec);
  ASSERT_EQ(done->status, 200) << done->body;

  bool in_created = false, in_202 = false, in_intent = false;
  for (const json& r : gw_->AuditRows()) {
    if (r["stage"] == "approval" && r["outcome"] == "created") {
      in_created = r["detail"] == "OPS-4711";
    } else if (r["stage"] == "decision" && r["response_status"] == 202) {
      in_202 = r["detail"] == "release reason: OPS-4711";
    } else if (r["stage"] == "intent") {
      in_intent = r["detail"] == "release reason: OPS-4711";
    }
  }
  EXPECT_TRUE(in_created);
  EXPECT_TRUE(in_202);
  EXPECT_TRUE(in_intent);
  EXPECT_EQ(upstream_.Received().size(), 1u);
}

}  // namespace
}  // namespace agni::testing
