// Reading audit records back: the rows of audit_records (or the lines of a
// JSONL export) in the canonical form that audit/record.h writes, for the
// chain check, the export and the query API. record.h is the one writer of
// that form, this file its one reader.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/record.h"

struct sqlite3;
struct sqlite3_stmt;

namespace SQLite {
class Database;
class Statement;
}  // namespace SQLite

namespace agni::audit {

// The newest and the oldest record, found by the primary key. Written as
// max()/min() lookups, not "ORDER BY seq DESC LIMIT 1": with the sampled
// statistics of ANALYZE the planner has sorted a whole secondary index for the
// latter, about 110 ms on a million records, paid by every commit.
inline constexpr const char* kNewestRecordSql =
    "SELECT seq, hash, time FROM audit_records "
    "WHERE seq = (SELECT max(seq) FROM audit_records)";
inline constexpr const char* kOldestRecordSql =
    "SELECT seq, prev_hash FROM audit_records "
    "WHERE seq = (SELECT min(seq) FROM audit_records)";

// A prepared statement on the raw SQLite API, for the loops that read every
// record: SQLite::Column copies a shared_ptr (an atomic) on every access.
// Used by one thread at a time.
class RecordQuery {
 public:
  RecordQuery(SQLite::Database& db, const char* sql);
  ~RecordQuery();
  RecordQuery(const RecordQuery&) = delete;
  RecordQuery& operator=(const RecordQuery&) = delete;

  void Bind(int index, std::int64_t v);
  void Bind(int index, std::string_view v);  // copied
  // Moves to the next row; false when done. Throws std::runtime_error.
  bool Step();
  sqlite3_stmt* get() const { return st_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

// One record as read back: its canonical bytes (every field but `hash`) and
// the few fields the chain check reasons about.
struct CanonicalRow {
  bool has_seq = false;
  std::int64_t seq = 0;
  std::string hash;
  std::string prev_hash;
  std::string canonical;
  std::optional<Stage> stage;  // unset when missing or not a known stage
  std::optional<std::int64_t> intent_seq;
};

// Reads rows of `SELECT * FROM audit_records` straight from the columns (no
// JSON object per row): keys in byte order, NULLs left out, so the bytes are
// those CanonicalBytes() wrote for the record. Immutable after construction.
class RowReader {
 public:
  explicit RowReader(const RecordQuery& q);

  // Appends the row the query is on; `with_hash` adds the hash column (the
  // JSONL export form). A REAL or BLOB value, which the gateway never
  // writes, throws std::runtime_error.
  void AppendCanonical(const RecordQuery& q, std::string& out,
                       bool with_hash) const;
  void Read(const RecordQuery& q, CanonicalRow& row) const;

 private:
  std::vector<std::string> names_;
  std::vector<std::string> quoted_names_;  // "name":
  std::vector<int> order_;
  int seq_ = -1, hash_ = -1, prev_ = -1, stage_ = -1, intent_ = -1;
};

// The same from a parsed line of a JSONL export.
CanonicalRow CanonicalRowFromJson(nlohmann::json rec);

// The row the statement is on as a JSON object of its non-NULL columns,
// integers as numbers and text as strings (`hash` included). A REAL or BLOB
// value, which the gateway never writes, throws std::runtime_error.
nlohmann::json RowObject(SQLite::Statement& q);

// Writes the records with from_seq <= seq <= to_seq as JSONL, one line
// each: the canonical form with `hash` added, so the bytes are ASCII and a
// line re-serialised canonically hashes as the record did.
void WriteJsonlRows(SQLite::Database& db, std::int64_t from_seq,
                    std::int64_t to_seq, std::ostream& out,
                    std::int64_t& records);

}  // namespace agni::audit
