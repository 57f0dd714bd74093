// The stored form of an approval (ToStorageJson / FromStorageJson in
// policies/approvals.h): one JSON document per approval, votes included.
#include <nlohmann/json.hpp>

#include "policies/approvals.h"

namespace agni::policy {
namespace {

nlohmann::json VoteJson(const Vote& v) {
  return {{"user", v.user},
          {"groups", v.groups},
          {"reason", v.reason},
          {"time_us", v.time_us},
          {"provider", v.provider}};
}

Vote VoteFrom(const nlohmann::json& j) {
  return {j.at("user").get<std::string>(),
          j.at("groups").get<std::vector<std::string>>(),
          j.at("reason").get<std::string>(),
          j.at("time_us").get<std::int64_t>(), j.value("provider", false)};
}

}  // namespace

nlohmann::json ToStorageJson(const Approval& a) {
  nlohmann::json required = nlohmann::json::array();
  for (const RequiredApproval& r : a.required) {
    required.push_back({{"rule_id", r.rule_id},
                        {"approvals", r.approvals},
                        {"from_groups", r.from_groups},
                        {"rule_hash", r.rule_hash}});
  }
  nlohmann::json approvals = nlohmann::json::array();
  for (const Vote& v : a.approvals) approvals.push_back(VoteJson(v));
  nlohmann::json denials = nlohmann::json::array();
  for (const Vote& v : a.denials) denials.push_back(VoteJson(v));
  nlohmann::json doc = {{"id", a.id},
                        {"status", StatusName(a.status)},
                        {"requester", a.requester},
                        {"phone_number", a.phone_number},
                        {"rule_id", a.rule_id},
                        {"rule_key", a.rule_key},
                        {"required", required},
                        {"approvals", approvals},
                        {"denials", denials},
                        {"created_us", a.created_us},
                        {"expires_us", a.expires_us},
                        {"execute_within_ms", a.execute_within_ms},
                        {"approved_us", a.approved_us},
                        {"execute_before_us", a.execute_before_us},
                        {"closed_us", a.closed_us},
                        {"closed_by", a.closed_by},
                        {"closed_reason", a.closed_reason},
                        {"request_id", a.request_id},
                        {"executed_request_id", a.executed_request_id},
                        {"policy_hash", a.policy_hash},
                        {"awaiting_intent", a.awaiting_intent},
                        {"release_reason", a.release_reason}};
  if (a.requester_groups) doc["requester_groups"] = *a.requester_groups;
  return doc;
}

Approval FromStorageJson(const nlohmann::json& j) {
  Approval a;
  a.id = j.at("id").get<std::string>();
  auto status = ParseStatus(j.at("status").get<std::string>());
  if (!status) throw std::runtime_error("approval " + a.id + ": bad status");
  a.status = *status;
  a.requester = j.at("requester").get<std::string>();
  a.phone_number = j.at("phone_number").get<std::string>();
  a.rule_id = j.at("rule_id").get<std::string>();
  a.rule_key = j.at("rule_key").get<std::string>();
  for (const auto& r : j.at("required")) {
    a.required.push_back({r.at("rule_id").get<std::string>(),
                          r.at("approvals").get<int>(),
                          r.at("from_groups").get<std::vector<std::string>>(),
                          r.value("rule_hash", std::string())});
  }
  for (const auto& v : j.at("approvals")) a.approvals.push_back(VoteFrom(v));
  for (const auto& v : j.at("denials")) a.denials.push_back(VoteFrom(v));
  a.created_us = j.at("created_us").get<std::int64_t>();
  a.expires_us = j.at("expires_us").get<std::int64_t>();
  a.execute_within_ms = j.at("execute_within_ms").get<std::int64_t>();
  a.approved_us = j.at("approved_us").get<std::int64_t>();
  a.execute_before_us = j.at("execute_before_us").get<std::int64_t>();
  a.closed_us = j.at("closed_us").get<std::int64_t>();
  a.closed_by = j.at("closed_by").get<std::string>();
  a.closed_reason = j.at("closed_reason").get<std::string>();
  a.request_id = j.at("request_id").get<std::string>();
  a.executed_request_id = j.at("executed_request_id").get<std::string>();
  a.policy_hash = j.at("policy_hash").get<std::string>();
  a.awaiting_intent = j.value("awaiting_intent", false);
  a.release_reason = j.value("release_reason", "");  // absent before it existed
  if (const auto groups = j.find("requester_groups"); groups != j.end()) {
    a.requester_groups = groups->get<std::vector<std::string>>();
  }
  return a;
}

}  // namespace agni::policy
