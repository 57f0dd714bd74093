// What an approver sees of a request before deciding (DESIGN.md §11,
// Pending): the number's inventory labels in the approvals list, and the
// explain trace of a request they may decide — but of no other — without
// being an auditor.
#include <gtest/gtest.h>

#include "tests/support/fake_upstream.h"
#include "tests/support/harness.h"

namespace agni::testing {
namespace {

using nlohmann::json;

// Both under rule prod-needs-two alone (two approvals from telecom-ops).
constexpr const char* kProd = "+14156660100";   // in the inventory
constexpr const char* kOther = "+14156660177";  // not in it
constexpr const char* kInventory =
    R"({"+14156660100": {"env": "prod", "team": "sales"}})";

class ConsoleApproverTest : public ::testing::Test {
 protected:
  static GatewayHarness::Options Options(const FakeUpstream& upstream) {
    GatewayHarness::Options o = GatewayHarness::ForApprovals(upstream.url());
    o.inventory_json = kInventory;
    return o;
  }

  // alice asks to release `number`; returns the approval id.
  std::string Request(const std::string& number) {
    auto res = gw_.Client().Delete(ReleasePath(number),
                                   Bearer(gw_.User("alice").token));
    EXPECT_TRUE(res);
    if (!res) return "";
    EXPECT_EQ(res->status, 202) << res->body;
    return json::parse(res->body)["approval"]["id"];
  }

  httplib::Result Explain(const std::string& user, const json& body) {
    return gw_.Client().Post("/v1/policy/explain", Bearer(gw_.User(user).token),
                             body.dump(), "application/json");
  }

  FakeUpstream upstream_;
  GatewayHarness gw_{Options(upstream_)};
};

TEST_F(ConsoleApproverTest, TheListShowsEachNumbersLabels) {
  const std::string prod = Request(kProd);
  const std::string other = Request(kOther);
  auto res = gw_.Client().Get("/v1/approvals?status=pending",
                              Bearer(gw_.olga().token));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  std::map<std::string, json> labels;
  const json body = json::parse(res->body);
  for (const json& a : body["approvals"]) {
    labels[a["id"].get<std::string>()] = a.value("labels", json());
  }
  EXPECT_EQ(labels[prod], json({{"env", "prod"}, {"team", "sales"}}));
  EXPECT_EQ(labels[other], json::object());
  // One request, as a notification's link opens it in the console.
  res = gw_.Client().Get(std::string("/v1/approvals/") + prod,
                         Bearer(gw_.olga().token));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["labels"],
            json({{"env", "prod"}, {"team", "sales"}}));
}

TEST_F(ConsoleApproverTest, AnApproverMayExplainARequestTheyMayDecide) {
  const std::string id = Request(kProd);
  auto res = Explain("olga", {{"approval_id", id}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json trace = json::parse(res->body);
  EXPECT_NE(trace.dump().find("prod-needs-two"), std::string::npos)
      << trace.dump();
  EXPECT_NE(trace.dump().find("sales"), std::string::npos) << trace.dump();
  const json row = gw_.AuditRows().back();
  EXPECT_EQ(row["principal"], "olga");
  EXPECT_EQ(row["path"], "/v1/policy/explain");
  EXPECT_EQ(row["response_status"], 200);
  EXPECT_EQ(row["approval_id"], id);
  EXPECT_EQ(row["detail"],
            std::string("explained the decision for user \"alice\" and "
                        "number ") +
                kProd);
}

TEST_F(ConsoleApproverTest, ExplainStaysClosedToEveryoneElse) {
  const std::string id = Request(kProd);
  struct Case {
    std::string user;
    json body;
    std::string why;
  };
  const std::vector<Case> cases = {
      // Still no free-form questions for an approver.
      {"olga", {{"user", "alice"}, {"phone_number", kProd}}, "auditor"},
      // The requester, someone outside the rule's groups, an unknown id.
      {"alice", {{"approval_id", id}}, "may decide"},
      {"nina", {{"approval_id", id}}, "may decide"},
      {"mallory", {{"approval_id", id}}, "may decide"},
      {"olga", {{"approval_id", "apr_nope"}}, "may decide"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.user + " " + c.body.dump());
    auto res = Explain(c.user, c.body);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 403) << res->body;
    EXPECT_EQ(json::parse(res->body)["reason"], "forbidden");
    EXPECT_NE(json::parse(res->body)["detail"].get<std::string>().find(c.why),
              std::string::npos)
        << res->body;
    const json row = gw_.AuditRows().back();
    EXPECT_EQ(row["principal"], c.user);
    EXPECT_EQ(row["reason"], "forbidden");
  }

  // Once decided it is no longer theirs to explain.
  for (const char* approver : {"olga", "oscar"}) {
    auto vote = gw_.Client().Post("/v1/approvals/" + id + "/approve",
                                  Bearer(gw_.User(approver).token), "{}",
                                  "application/json");
    ASSERT_TRUE(vote);
    ASSERT_EQ(vote->status, 200) << vote->body;
  }
  auto late = Explain("otto", {{"approval_id", id}});
  ASSERT_TRUE(late);
  EXPECT_EQ(late->status, 403) << late->body;

  // Auditors may explain any approval.
  auto auditor = Explain("carol", {{"approval_id", id}});
  ASSERT_TRUE(auditor);
  EXPECT_EQ(auditor->status, 200) << auditor->body;
}

}  // namespace
}  // namespace agni::testing
