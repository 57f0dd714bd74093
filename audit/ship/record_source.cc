#include "audit/ship/record_source.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <cstring>
#include <stdexcept>

#include "audit/record_io.h"

namespace agni::audit {

ShipRecord ShipRecordOf(const Record& record) {
  nlohmann::json j = ToJson(record);
  j["hash"] = record.hash;
  return {record.seq, FormatTime(record.time_us), record.hash,
          j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace)};
}

ShipRecordSource::ShipRecordSource(const std::string& db_path)
    : db_(std::make_unique<SQLite::Database>(
          db_path, SQLite::OPEN_READONLY | SQLITE_OPEN_NOMUTEX)) {
  db_->setBusyTimeout(2000);
}

ShipRecordSource::~ShipRecordSource() = default;

std::int64_t ShipRecordSource::HeadSeq() {
  RecordQuery q(*db_, "SELECT coalesce(max(seq), 0) FROM audit_records");
  if (!q.Step()) return 0;
  return sqlite3_column_int64(q.get(), 0);
}

void ShipRecordSource::Read(std::int64_t from, std::int64_t to,
                            std::size_t limit, std::vector<ShipRecord>& out) {
  RecordQuery q(*db_,
                "SELECT * FROM audit_records WHERE seq >= ? AND seq <= ? "
                "ORDER BY seq LIMIT ?");
  q.Bind(1, from);
  q.Bind(2, to);
  q.Bind(3, static_cast<std::int64_t>(limit));
  const RowReader reader(q);
  int seq_col = -1, time_col = -1, hash_col = -1;
  for (int i = 0; i < sqlite3_column_count(q.get()); ++i) {
    const char* name = sqlite3_column_name(q.get(), i);
    if (std::strcmp(name, "seq") == 0) seq_col = i;
    if (std::strcmp(name, "time") == 0) time_col = i;
    if (std::strcmp(name, "hash") == 0) hash_col = i;
  }
  if (seq_col < 0 || time_col < 0 || hash_col < 0) {
    throw std::runtime_error("audit_records lacks seq, time or hash");
  }
  while (q.Step()) {
    ShipRecord r;
    r.seq = sqlite3_column_int64(q.get(), seq_col);
    if (const unsigned char* t = sqlite3_column_text(q.get(), time_col)) {
      r.time = reinterpret_cast<const char*>(t);
    }
    if (const unsigned char* h = sqlite3_column_text(q.get(), hash_col)) {
      r.hash = reinterpret_cast<const char*>(h);
    }
    reader.AppendCanonical(q, r.json, /*with_hash=*/true);
    out.push_back(std::move(r));
  }
}

}  // namespace agni::audit
