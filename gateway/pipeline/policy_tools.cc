#include "gateway/pipeline/policy_tools.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "audit/read/history.h"
#include "audit/record.h"
#include "gateway/config/config.h"
#include "gateway/pipeline/release_target.h"
#include "policies/load/explain.h"

namespace agni {

const policy::Labels* FindLabels(const Inventory& inventory,
                                 std::string_view number) {
  auto it = inventory.find(std::string(number));
  return it == inventory.end() ? nullptr : &it->second;
}

std::optional<policy::IpAddress> ClientAddressOf(const AccessSnapshot& access,
                                                 const HttpRequest& request) {
  return policy::ClientAddress(request.peer, request.forwarded_for,
                               access.trusted_proxies);
}

policy::Request MakePolicyRequest(const AccessSnapshot& access,
                                  std::string_view user,
                                  const std::vector<std::string>& groups,
                                  std::string_view number,
                                  std::chrono::system_clock::time_point time,
                                  std::optional<policy::IpAddress> source) {
  return policy::Request{{user, groups},
                         number,
                         FindLabels(*access.inventory, number),
                         time,
                         std::move(source)};
}

std::size_t SeedLimiterFromAudit(const std::string& db_path,
                                 const policy::Policy& policy,
                                 policy::VelocityLimiter& limiter,
                                 std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  milliseconds lookback = hours(24 * 7);
  for (const policy::Limit& l : policy.limits) {
    lookback = std::max(lookback, l.window);
  }
  const auto since =
      duration_cast<microseconds>((now - lookback).time_since_epoch()).count();
  std::size_t counted = 0;
  for (const audit::ReleaseRow& row :
       audit::RecentReleases(db_path, audit::FormatTime(since))) {
    if (auto at = policy::ParseTimestamp(row.time)) {
      limiter.Record(row.principal, row.groups, *at);
      ++counted;
    }
  }
  return counted;
}

bool MayUsePolicyTools(const AccessSnapshot& access, const Principal& who) {
  return who.InAnyGroup(access.auditors) || who.InAnyGroup(access.admins);
}

std::vector<std::string> DeclaredProviderGroups(const AccessSnapshot& access) {
  // The snapshot's stand-ins for the provider's people, one per declared
  // group (AddIdentityProviderMembers), are exactly that list.
  std::vector<std::string> out;
  for (const policy::Member& m : access.members) {
    if (m.from_identity_provider) {
      out.insert(out.end(), m.groups.begin(), m.groups.end());
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string ProviderGroupsProblem(const AccessSnapshot& access,
                                  const std::vector<std::string>& groups) {
  const std::vector<std::string> declared = DeclaredProviderGroups(access);
  if (declared.empty()) {
    return "groups are for people who exist only at an identity provider, "
           "and the config has no identity.oidc";
  }
  for (const std::string& g : groups) {
    if (std::binary_search(declared.begin(), declared.end(), g)) continue;
    std::string message("group \"");
    message += g;
    message += "\" is not declared in the config (declared: ";
    for (std::size_t i = 0; i < declared.size(); ++i) {
      if (i > 0) message += ", ";
      message += declared[i];
    }
    message += ")";
    return message;
  }
  return "";
}

ExplainResult ExplainQueryAgainst(const AccessSnapshot& access,
                                  const ExplainQuery& query,
                                  std::chrono::system_clock::time_point now) {
  ExplainResult out;
  out.user = query.user;
  out.phone_number = query.phone_number;
  auto user = std::find_if(access.users.begin(), access.users.end(),
                           [&](const User& u) { return u.name == query.user; });
  if (query.groups && user != access.users.end()) {
    out.error = "\"" + query.user +
                "\" is a configured user with the groups of the config; give "
                "groups only for a person who exists only at the identity "
                "provider";
    return out;
  }
  if (query.groups && query.user.empty()) {
    out.error = "the user (the name the identity provider gives) is empty";
    return out;
  }
  if (!query.groups && user == access.users.end()) {
    out.error = "no user named \"" + query.user +
                "\" in the config (for a person who exists only at the "
                "identity provider, give their groups)";
    return out;
  }
  if (!IsE164(query.phone_number)) {
    out.error = "phone_number must be an E.164 number such as +14155550100";
    return out;
  }
  std::chrono::system_clock::time_point at = now;
  if (query.at) {
    auto parsed = policy::ParseTimestamp(*query.at);
    if (!parsed) {
      out.error = "at must be an RFC 3339 time such as 2026-11-26T09:30:00Z";
      return out;
    }
    at = *parsed;
  }
  std::optional<policy::IpAddress> source;
  if (query.source) {
    source = policy::IpAddress::Parse(*query.source);
    if (!source) {
      out.error = "source must be an IPv4 or IPv6 address";
      return out;
    }
  }
  const std::vector<std::string>& groups =
      query.groups ? *query.groups : user->groups;
  const policy::Request request = MakePolicyRequest(
      access, query.user, groups, query.phone_number, at, source);
  const policy::Explanation e = policy::Explain(*access.policy, request);
  out.decision = e.decision;
  out.body = policy::ExplanationJson(e, *access.policy, request).dump(2);
  return out;
}

namespace {

// More groups than anyone holds: a bigger list is a mistake or an attempt to
// make the gateway work.
constexpr std::size_t kMaxExplainGroups = 64;

// An explain body's "groups" into `out`; why it is unusable, or empty.
std::string ReadGroups(const nlohmann::json& value,
                       std::vector<std::string>& out) {
  const char* kShape =
      "\"groups\" must be an array of group names (each 1-64 characters of "
      "[A-Za-z0-9._@-])";
  if (!value.is_array()) return kShape;
  if (value.size() > kMaxExplainGroups) {
    return "\"groups\" names more than " + std::to_string(kMaxExplainGroups) +
           " groups";
  }
  for (const nlohmann::json& g : value) {
    if (!g.is_string() || !IsConfigName(g.get_ref<const std::string&>())) {
      return kShape;
    }
    out.push_back(g.get<std::string>());
  }
  return "";
}

}  // namespace

ExplainResult ExplainFromJson(const AccessSnapshot& access,
                              const std::string& body,
                              std::chrono::system_clock::time_point now) {
  ExplainResult bad;
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    bad.error =
        "the body must be a JSON object {\"user\", \"phone_number\", "
        "\"at\"?, \"source\"?, \"groups\"?}";
    return bad;
  }
  ExplainQuery q;
  for (const auto& [key, value] : j.items()) {
    if (key == "groups") {
      q.groups = std::vector<std::string>();
      bad.error = ReadGroups(value, *q.groups);
      if (!bad.error.empty()) return bad;
      continue;
    }
    if (!value.is_string()) {
      bad.error = "\"" + key + "\" must be a string";
      return bad;
    }
    const std::string v = value.get<std::string>();
    if (key == "user") {
      q.user = v;
    } else if (key == "phone_number") {
      q.phone_number = v;
    } else if (key == "at") {
      q.at = v;
    } else if (key == "source") {
      q.source = v;
    } else {
      bad.error = "unknown key \"" + key + "\"";
      return bad;
    }
  }
  if (q.user.empty() || q.phone_number.empty()) {
    bad.error = "\"user\" and \"phone_number\" are required";
    return bad;
  }
  if (q.groups) {
    bad.error = ProviderGroupsProblem(access, *q.groups);
    if (!bad.error.empty()) {
      bad.error.insert(0, "\"groups\": ");
      return bad;
    }
  }
  return ExplainQueryAgainst(access, q, now);
}

}  // namespace agni
