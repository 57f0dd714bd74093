#include "audit/record_io.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <ostream>
#include <stdexcept>
#include <string_view>

#include "base/json_text.h"

namespace agni::audit {

RecordQuery::RecordQuery(SQLite::Database& db, const char* sql)
    : db_(db.getHandle()) {
  if (sqlite3_prepare_v2(db_, sql, -1, &st_, nullptr) != SQLITE_OK) {
    throw std::runtime_error(sqlite3_errmsg(db_));
  }
}

RecordQuery::~RecordQuery() { sqlite3_finalize(st_); }

void RecordQuery::Bind(int index, std::int64_t v) {
  sqlite3_bind_int64(st_, index, v);
}

void RecordQuery::Bind(int index, std::string_view v) {
  sqlite3_bind_text(st_, index, v.data(), static_cast<int>(v.size()),
                    SQLITE_TRANSIENT);
}

bool RecordQuery::Step() {
  const int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw std::runtime_error(sqlite3_errmsg(db_));
}

RowReader::RowReader(const RecordQuery& q) {
  const int n = sqlite3_column_count(q.get());
  for (int i = 0; i < n; ++i) {
    names_.push_back(sqlite3_column_name(q.get(), i));
    order_.push_back(i);
    const std::string& name = names_.back();
    if (name == "seq") seq_ = i;
    if (name == "hash") hash_ = i;
    if (name == "prev_hash") prev_ = i;
    if (name == "stage") stage_ = i;
    if (name == "intent_seq") intent_ = i;
  }
  std::sort(order_.begin(), order_.end(),
            [&](int a, int b) { return names_[a] < names_[b]; });
  for (const std::string& name : names_) {
    quoted_names_.push_back("\"" + name + "\":");
  }
}

void RowReader::AppendCanonical(const RecordQuery& q, std::string& out,
                                bool with_hash) const {
  sqlite3_stmt* st = q.get();
  out.push_back('{');
  bool first = true;
  char digits[24];
  for (int i : order_) {
    if (i == hash_ && !with_hash) continue;
    const int type = sqlite3_column_type(st, i);
    if (type == SQLITE_NULL) continue;
    if (!first) out.push_back(',');
    first = false;
    out += quoted_names_[i];
    if (type == SQLITE_INTEGER) {
      auto [end, ec] = std::to_chars(digits, digits + sizeof digits,
                                     sqlite3_column_int64(st, i));
      out.append(digits, end);
    } else if (type == SQLITE_TEXT) {
      AppendJsonString(
          out,
          std::string_view(
              reinterpret_cast<const char*>(sqlite3_column_text(st, i)),
              static_cast<std::size_t>(sqlite3_column_bytes(st, i))),
          /*ensure_ascii=*/true);
    } else {
      throw std::runtime_error("column " + names_[i] +
                               " holds a value of an unexpected type");
    }
  }
  out.push_back('}');
}

void RowReader::Read(const RecordQuery& q, CanonicalRow& row) const {
  sqlite3_stmt* st = q.get();
  row.canonical.clear();
  AppendCanonical(q, row.canonical, /*with_hash=*/false);
  auto text = [&](int i) {
    if (i < 0 || sqlite3_column_type(st, i) != SQLITE_TEXT) {
      return std::string_view();
    }
    return std::string_view(
        reinterpret_cast<const char*>(sqlite3_column_text(st, i)),
        static_cast<std::size_t>(sqlite3_column_bytes(st, i)));
  };
  row.has_seq = seq_ >= 0 && sqlite3_column_type(st, seq_) == SQLITE_INTEGER;
  row.seq = row.has_seq ? sqlite3_column_int64(st, seq_) : 0;
  row.hash.assign(text(hash_));
  row.prev_hash.assign(text(prev_));
  row.stage = ParseStage(text(stage_));
  row.intent_seq.reset();
  if (intent_ >= 0 && sqlite3_column_type(st, intent_) == SQLITE_INTEGER) {
    row.intent_seq = sqlite3_column_int64(st, intent_);
  }
}

CanonicalRow CanonicalRowFromJson(nlohmann::json rec) {
  CanonicalRow row;
  auto seq = rec.find("seq");
  row.has_seq = seq != rec.end() && seq->is_number_integer();
  if (row.has_seq) row.seq = seq->get<std::int64_t>();
  auto hash = rec.find("hash");
  if (hash != rec.end()) {
    if (hash->is_string()) row.hash = hash->get<std::string>();
    rec.erase(hash);
  }
  auto prev = rec.find("prev_hash");
  if (prev != rec.end() && prev->is_string()) {
    row.prev_hash = prev->get<std::string>();
  }
  auto stage = rec.find("stage");
  if (stage != rec.end() && stage->is_string()) {
    row.stage = ParseStage(stage->get<std::string>());
  }
  auto intent = rec.find("intent_seq");
  if (intent != rec.end() && intent->is_number_integer()) {
    row.intent_seq = intent->get<std::int64_t>();
  }
  row.canonical =
      rec.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  return row;
}

nlohmann::json RowObject(SQLite::Statement& q) {
  nlohmann::json rec = nlohmann::json::object();
  const int n = q.getColumnCount();
  for (int i = 0; i < n; ++i) {
    const SQLite::Column c = q.getColumn(i);
    if (c.isNull()) continue;
    if (c.isInteger()) {
      rec[c.getName()] = c.getInt64();
    } else if (c.isText()) {
      rec[c.getName()] = c.getString();
    } else {
      throw std::runtime_error(std::string("column ") + c.getName() +
                               " holds a value of an unexpected type");
    }
  }
  return rec;
}

void WriteJsonlRows(SQLite::Database& db, std::int64_t from_seq,
                    std::int64_t to_seq, std::ostream& out,
                    std::int64_t& records) {
  RecordQuery q(db,
                "SELECT * FROM audit_records WHERE seq >= ? AND seq <= ? "
                "ORDER BY seq");
  q.Bind(1, from_seq);
  q.Bind(2, to_seq);
  const RowReader reader(q);
  std::string line;
  while (q.Step()) {
    line.clear();
    reader.AppendCanonical(q, line, /*with_hash=*/true);
    line.push_back('\n');
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
    ++records;
  }
}

}  // namespace agni::audit
