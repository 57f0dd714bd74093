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
// The most seqs one page searches when its filters are not answered by one
// index alone (e.g. stage, reason, peer, or user together with decision).
inline constexpr std::int64_t kScanWindow = 100'000;

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

// {"records":[...], "next_after_seq": N or null} as JSON text: records in
// seq order, each with every non-NULL column (hash included) in the export's
// form. next_after_seq is set when more may match: the page is full, or its
// filters searched kScanWindow seqs without filling it (the page may then
// hold fewer records, even none); the client asks again with after_seq=N
// until it is null. Every page is one keyset range (seq > after_seq), never
// an OFFSET, and its work is bounded by limit or kScanWindow.
std::string RunAuditQuery(SQLite::Database& db, const AuditQuery& q);

// The store keeps time non-decreasing along seq, so a time bound is a seq
// bound, found by a binary search over the primary key (no time index).
// The first seq whose time is >= `time` (normalised), or nullopt.
std::optional<std::int64_t> FirstSeqFrom(SQLite::Database& db,
                                         const std::string& time);
// The last seq whose time is <= `time` (`inclusive`) or < it, or nullopt.
std::optional<std::int64_t> LastSeqThrough(SQLite::Database& db,
                                           const std::string& time,
                                           bool inclusive);

// Creates the indexes the filters use (idempotent; run by the writer side).
void EnsureQueryIndexes(SQLite::Database& db);

// Opens `db_path` read-write once, creates the query indexes and the
// checkpoint table (so read-only readers find them) and refreshes the index
// statistics. Run at every start. Throws on failure.
void PrepareReadSide(const std::string& db_path);

}  // namespace agni::audit
