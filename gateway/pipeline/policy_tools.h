// The glue between a request (or a CLI invocation) and the pure policy
// engine: the number's inventory labels, the client address, explain input.
// Shared by the pipeline and `agni-gateway policy explain|test|replay`.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/auth/authenticator.h"
#include "gateway/http/http_types.h"
#include "gateway/pipeline/pipeline.h"
#include "policies/engine.h"

namespace agni {

// The number's labels, or nullptr when it is not in the inventory.
const policy::Labels* FindLabels(const Inventory& inventory,
                                 std::string_view number);

// The TCP peer, or the X-Forwarded-For client when the peer is a trusted
// proxy; nullopt when it cannot be told.
std::optional<policy::IpAddress> ClientAddressOf(const AccessSnapshot& access,
                                                 const HttpRequest& request);

// The engine's input. Borrows from `access` and `groups`; they must outlive
// the result.
policy::Request MakePolicyRequest(const AccessSnapshot& access,
                                  std::string_view user,
                                  const std::vector<std::string>& groups,
                                  std::string_view number,
                                  std::chrono::system_clock::time_point time,
                                  std::optional<policy::IpAddress> source);
inline policy::Request MakePolicyRequest(
    const AccessSnapshot& access, const Principal& principal,
    std::string_view number, std::chrono::system_clock::time_point time,
    std::optional<policy::IpAddress> source) {
  return MakePolicyRequest(access, principal.name, principal.groups, number,
                           time, source);
}

// Counts the releases recorded in the audit log within the longest window
// the limiter keeps (at least a week, or the policy's longest limit), so
// velocity limits survive a restart. Returns how many were counted. Throws
// std::runtime_error when the log cannot be read.
std::size_t SeedLimiterFromAudit(const std::string& db_path,
                                 const policy::Policy& policy,
                                 policy::VelocityLimiter& limiter,
                                 std::chrono::system_clock::time_point now);

// Members of the auditor or admin groups may explain decisions.
bool MayUsePolicyTools(const AccessSnapshot& access, const Principal& who);

// The groups a person from an identity provider can hold under `access`:
// the declared ones (config `groups` and the static users' groups), none
// without identity.oidc. A token's other groups are ignored.
std::vector<std::string> DeclaredProviderGroups(const AccessSnapshot& access);

// Why a person from the identity provider cannot carry `groups` under
// `access`, or empty when they can: the config must accept tokens from a
// provider, and every group must be declared (a token's undeclared groups
// are ignored, so a question that names one would explain nothing real).
std::string ProviderGroupsProblem(const AccessSnapshot& access,
                                  const std::vector<std::string>& groups);

// One explain question: a configured user, a number, optionally a time
// (RFC 3339) and a source address.
struct ExplainQuery {
  std::string user;
  std::string phone_number;
  std::optional<std::string> at;
  std::optional<std::string> source;
  // Set for a person who exists only at the identity provider: their groups
  // (the caller checks they are declared); `user` then must not be a
  // configured user.
  std::optional<std::vector<std::string>> groups;
};

struct ExplainResult {
  std::string error;  // non-empty: the question was malformed (400)
  std::string user;
  std::string phone_number;
  policy::Decision decision;
  std::string body;  // the explanation as JSON text
};

ExplainResult ExplainQueryAgainst(const AccessSnapshot& access,
                                  const ExplainQuery& query,
                                  std::chrono::system_clock::time_point now);

// Parses {"user", "phone_number", "at"?, "source"?, "groups"?} and explains
// it; "groups" (declared group names) is for a person who exists only at the
// identity provider.
ExplainResult ExplainFromJson(const AccessSnapshot& access,
                              const std::string& body,
                              std::chrono::system_clock::time_point now);

}  // namespace agni
