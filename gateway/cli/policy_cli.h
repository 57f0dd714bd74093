// `agni-gateway policy explain|test|replay`: the policy author's tools. Each
// loads the full config (users, policy, inventory) exactly as `serve` would,
// writes its report to `out`, problems to `err`, and returns the exit code.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace agni {

inline constexpr int kPolicyExitOk = 0;
inline constexpr int kPolicyExitMismatch = 1;  // test failed / explain denied
inline constexpr int kPolicyExitUsage = 2;     // bad config, cases or db
inline constexpr int kPolicyExitChanged = 3;   // replay found changed decisions

using WallClock = std::function<std::chrono::system_clock::time_point()>;

// Prints the explanation as JSON. Exit 0 either way; 2 on bad input.
// `groups` set: `user` is a person who exists only at the identity provider
// (not in users[]) with these groups, each of which must be declared.
int PolicyExplain(const std::string& config_path, const std::string& user,
                  const std::string& phone,
                  const std::optional<std::string>& at,
                  const std::optional<std::string>& from,
                  const std::optional<std::vector<std::string>>& groups,
                  std::ostream& out, std::ostream& err, const WallClock& clock);

// Runs every case; prints each failure and a summary. Exit 1 on any mismatch.
//
// CASES.json: {"cases": [{"name"?, "user", "number", "time"?, "source"?,
//   "groups"?, "expect": "allow"|"deny", "rule"?, "shadow"?}]} (or the bare
// array). "shadow" is "allow:rule-id", "deny:rule-id" or "none". "groups"
// (an array) makes "user" a person from the identity provider, as --groups.
int PolicyTest(const std::string& config_path, const std::string& cases_path,
               std::ostream& out, std::ostream& err, const WallClock& clock);

// Re-evaluates every recorded release decision in the audit db against the
// candidate config and lists those whose decision would change. Exit 3 when
// any would; 0 when none.
int PolicyReplay(const std::string& config_path, const std::string& db_path,
                 std::ostream& out, std::ostream& err);

}  // namespace agni
