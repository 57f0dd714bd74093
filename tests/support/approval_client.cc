#include "tests/support/approval_client.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "tests/support/helpers.h"

namespace agni::testing {

using nlohmann::json;

json Body(const httplib::Result& res) {
  return json::parse(res->body, nullptr, false);
}

std::string WithRule(std::string policy, const std::string& from,
                     const std::string& to) {
  const std::size_t at = policy.find(from);
  if (at == std::string::npos) {
    throw std::runtime_error(std::string("no ") + from);
  }
  return policy.replace(at, from.size(), to);
}

std::string ProdNeeds(int approvals, const std::string& group) {
  std::string to = R"("approval":{"approvals":)";
  to += std::to_string(approvals);
  to += R"(,"from_groups":[")";
  to += group;
  to += R"("])";
  return WithRule(kApprovalPolicy,
                  R"("approval":{"approvals":2,"from_groups":["telecom-ops"])",
                  to);
}

httplib::Headers ApprovalClient::As(const std::string& user) const {
  return Bearer(gw_.User(user).token);
}

httplib::Result ApprovalClient::Release(const std::string& user,
                                        const std::string& number,
                                        const httplib::Headers& extra) const {
  httplib::Headers h = As(user);
  h.insert(extra.begin(), extra.end());
  return gw_.Client().Delete(ReleasePath(number), h);
}

std::string ApprovalClient::Request(const std::string& user,
                                    const std::string& number) const {
  auto res = Release(user, number);
  EXPECT_TRUE(res);
  if (!res) return "";
  EXPECT_EQ(res->status, 202) << res->body;
  const json body = Body(res);
  if (!body.contains("approval")) return "";
  return body["approval"]["id"].get<std::string>();
}

httplib::Result ApprovalClient::Decide(const std::string& user,
                                       const std::string& id,
                                       const std::string& action,
                                       const std::string& body) const {
  return gw_.Client().Post("/v1/approvals/" + id + "/" + action, As(user), body,
                           "application/json");
}

httplib::Result ApprovalClient::Execute(const std::string& user,
                                        const std::string& id,
                                        const std::string& number) const {
  return Release(user, number, {{"X-Approval-Id", id}});
}

json ApprovalClient::View(const std::string& id,
                          const std::string& user) const {
  return Body(gw_.Client().Get("/v1/approvals/" + id, As(user)));
}

std::string ApprovalClient::Approved() const {
  const std::string id = Request();
  EXPECT_EQ(Decide("olga", id, "approve")->status, 200);
  EXPECT_EQ(Body(Decide("oscar", id, "approve"))["status"], "approved");
  return id;
}

std::vector<json> ApprovalClient::Rows(const std::string& stage) const {
  std::vector<json> out;
  for (json& r : gw_.AuditRows()) {
    if (r["stage"] == stage) out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::string> ApprovalClient::Events(const std::string& id) const {
  std::vector<std::string> out;
  for (const json& r : Rows("approval")) {
    if (r["approval_id"] == id) out.push_back(r["outcome"]);
  }
  return out;
}

}  // namespace agni::testing
