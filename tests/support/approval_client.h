// The approval tests' calls to a running gateway, as its users make them:
// ask for a release, decide, execute, read, and what the audit then says.
// Shared by the approval test executables so each test states only what it
// checks.
//
// Thread-safe: every call opens its own client.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/harness.h"

namespace agni::testing {

inline constexpr const char* kProdNumber = "+14156660100";  // prod-needs-two

// The JSON body of `res` (discarded when it is not JSON).
nlohmann::json Body(const httplib::Result& res);

// kApprovalPolicy with the text `from` replaced by `to` (throws when absent).
std::string WithRule(std::string policy, const std::string& from,
                     const std::string& to);
// kApprovalPolicy with prod-needs-two asking for `approvals` from `group`.
std::string ProdNeeds(int approvals, const std::string& group);

class ApprovalClient {
 public:
  // `gw` must outlive the client.
  explicit ApprovalClient(const GatewayHarness& gw) : gw_(gw) {}

  httplib::Headers As(const std::string& user) const;
  httplib::Result Release(const std::string& user,
                          const std::string& number = kProdNumber,
                          const httplib::Headers& extra = {}) const;
  // Asks as `user` and expects 202; returns the approval's id.
  std::string Request(const std::string& user = "alice",
                      const std::string& number = kProdNumber) const;
  // POST /v1/approvals/{id}/{action} as `user`.
  httplib::Result Decide(const std::string& user, const std::string& id,
                         const std::string& action,
                         const std::string& body = "") const;
  // The release again, with X-Approval-Id: id.
  httplib::Result Execute(const std::string& user, const std::string& id,
                          const std::string& number = kProdNumber) const;
  // GET /v1/approvals/{id} as `user`.
  nlohmann::json View(const std::string& id,
                      const std::string& user = "alice") const;
  // alice's request for kProdNumber, approved by olga and oscar.
  std::string Approved() const;
  // The audit records of `stage`, in seq order.
  std::vector<nlohmann::json> Rows(const std::string& stage) const;
  // The outcomes of approval `id`'s "approval" records, in order.
  std::vector<std::string> Events(const std::string& id) const;

 private:
  const GatewayHarness& gw_;
};

}  // namespace agni::testing
