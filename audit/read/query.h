// Searching the audit log: the filters of GET /v1/audit (DESIGN.md §2), paged
// by seq, and the time-bound parsing shared with `audit export`. Pure SQL over
// a connection the caller owns; no HTTP types.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace SQLite {
class Database;
}

namespace agni::audit {

inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;

// One page request. Empty strings mean "no filter".
struct AuditQuery {
  std::int64_t after_seq = 0;  // records with seq > after_seq
  int limit = kDefaultPageSize;
  std::string user;          // principal
  std::string phone_number;  // E.164
  std::string decision;      // allow | deny | ...
  std::string stage;         // decision | intent | outcome
  std::string request_id;
  std::string reason;  // e.g. unauthenticated
  std::string peer;    // the client address as recorded ("*": past the cap)
  // "true": only summaries of rejected requests (request_count set);
  // "false": only records of one request each.
  std::string summary;
  std::string from;  // normalised time, inclusive
  std::string to;    // normalised time, inclusive
};

// "2026-11-26", "2026-11-26T16:47:10Z" or with up to 6 fraction digits, UTC
// only -> the stored form "2026-11-26T16:47:10.000000Z". `end_of` rounds a
// bound up (a date means its last microsecond) for inclusive upper bounds.
std::optional<std::string> NormalizeTime(std::string_view text, bool end_of);

// Parses a raw query string ("after_seq=10&user=alice"). Returns an error
// message naming the parameter, or empty. Unknown parameters are errors.
std::string ParseAuditQuery(std::string_view query_string, AuditQuery& out);

// {"records":[...], "next_after_seq": N or null}: records in seq order, each
// with every non-NULL column (hash included). next_after_seq is set when the
// page is full, so the client asks again with after_seq=N.
nlohmann::json RunAuditQuery(SQLite::Database& db, const AuditQuery& q);

// Creates the indexes the filters use (idempotent; run by the writer side).
void EnsureQueryIndexes(SQLite::Database& db);

// Opens `db_path` read-write once, creates the query indexes and the
// checkpoint table (so read-only readers find them) and refreshes the index
// statistics. Run at every start. Throws on failure.
void PrepareReadSide(const std::string& db_path);

}  // namespace agni::audit
