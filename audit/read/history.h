// Read-only queries over an audit database for the policy tools: the recent
// releases that velocity limits count after a restart, and the recorded
// release decisions that `policy replay` re-evaluates. Opens its own
// read-only SQLite connection (WAL lets it read while the writer runs); one
// call, one connection, so it is safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace agni::audit {

struct ReleaseRow {
  std::string time;  // RFC 3339 UTC, as stored
  std::string principal;
  std::vector<std::string> groups;
};

// Outcome records whose outcome is "released" or "unknown" (a release that
// may have happened counts against the limits: fail closed), newest first,
// back to `since` (an RFC 3339 UTC time as FormatTime writes it).
// Throws std::runtime_error when the database cannot be read.
std::vector<ReleaseRow> RecentReleases(const std::string& db_path,
                                       const std::string& since);

struct DecisionRow {
  std::int64_t seq = 0;
  std::string time;
  std::string request_id;
  std::string principal;
  std::vector<std::string> groups;
  std::string peer;
  std::string phone_number;
  std::string decision;  // allow | deny
  std::string rule_id;
  std::string reason;
  std::string policy_hash;
  std::string shadow;
};

// Every release request that reached the policy stage: its decision record
// (denied, or stopped after the decision) or its intent record (forwarded),
// in seq order. Throws std::runtime_error when the database cannot be read.
std::vector<DecisionRow> ReleaseDecisions(const std::string& db_path);

}  // namespace agni::audit
