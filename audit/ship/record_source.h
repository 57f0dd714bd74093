// Audit records as the syslog sink ships them, from memory (handed over by
// the writer after a commit) or read back from the database by seq.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "audit/record.h"

namespace SQLite {
class Database;
}  // namespace SQLite

namespace agni::audit {

// One committed record in the form it is shipped in: `json` is its
// `audit export` JSONL line without the newline. A value type.
struct ShipRecord {
  std::int64_t seq = 0;
  std::string time;  // as the record holds it: FormatTime()
  std::string hash;
  std::string json;
};

// The shipped form of a committed record held in memory; the same bytes the
// export writes for it.
ShipRecord ShipRecordOf(const Record& record);

// Reads committed records back on its own read-only connection, so the sink
// never takes the writer's lock. Used by one thread at a time.
class ShipRecordSource {
 public:
  // Opens `db_path` read-only; throws std::runtime_error.
  explicit ShipRecordSource(const std::string& db_path);
  ~ShipRecordSource();
  ShipRecordSource(const ShipRecordSource&) = delete;
  ShipRecordSource& operator=(const ShipRecordSource&) = delete;

  // The highest seq committed (0 for an empty log). Throws.
  std::int64_t HeadSeq();
  // Appends the records with from <= seq <= to in seq order, at most
  // `limit` of them. Throws.
  void Read(std::int64_t from, std::int64_t to, std::size_t limit,
            std::vector<ShipRecord>& out);

 private:
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace agni::audit
