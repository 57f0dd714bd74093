#include "audit/read/export.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <filesystem>
#include <optional>

#include "audit/read/query.h"
#include "audit/record_io.h"

namespace agni::audit {
namespace {

bool AllDigits(std::string_view s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Resolves a --from/--to bound to a seq. nullopt: malformed.
std::optional<std::int64_t> Bound(SQLite::Database& db, const std::string& v,
                                  bool upper) {
  if (v.empty()) return upper ? INT64_MAX : 0;
  if (AllDigits(v)) return std::stoll(v);
  auto t = NormalizeTime(v, upper);
  if (!t) return std::nullopt;
  const std::optional<std::int64_t> seq =
      upper ? LastSeqThrough(db, *t, /*inclusive=*/true) : FirstSeqFrom(db, *t);
  if (!seq) return upper ? 0 : INT64_MAX;  // nothing
  return *seq;
}

// The header row (also for an empty range, so tools see the columns), then
// one row per record, NULL as an empty field.
void WriteCsvRows(SQLite::Database& db, std::int64_t from_seq,
                  std::int64_t to_seq, std::ostream& out,
                  std::int64_t& records) {
  SQLite::Statement q(
      db,
      "SELECT * FROM audit_records WHERE seq >= ? AND seq <= ? ORDER BY seq");
  q.bind(1, from_seq);
  q.bind(2, to_seq);
  const int n = q.getColumnCount();
  std::string line;
  for (int i = 0; i < n; ++i) {
    if (i) line += ',';
    line += CsvField(q.getColumnName(i));
  }
  out << line << "\r\n";
  while (q.executeStep()) {
    line.clear();
    for (int i = 0; i < n; ++i) {
      if (i) line += ',';
      const SQLite::Column c = q.getColumn(i);
      if (!c.isNull()) line += CsvCell(c.getString());
    }
    out << line << "\r\n";
    ++records;
  }
}

}  // namespace

std::string CsvField(std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos)
    return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

namespace {

// "+14155550100", "-5", "3.25": a number a spreadsheet reads as a value.
bool PlainNumber(std::string_view v) {
  if (!v.empty() && (v.front() == '+' || v.front() == '-')) v.remove_prefix(1);
  const std::size_t dot = v.find('.');
  const std::string_view whole = v.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? "0" : v.substr(dot + 1);
  const auto digits = [](std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == s.npos;
  };
  return digits(whole) && digits(fraction);
}

bool RunsAsFormula(std::string_view v) {
  if (v.empty()) return false;
  switch (v.front()) {
    case '=':
    case '@':
    case '\t':
    case '\r': return true;
    case '+':
    case '-': return !PlainNumber(v);
    default: return false;
  }
}

}  // namespace

std::string CsvCell(std::string_view v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(v.size() + 1);
  if (RunsAsFormula(v)) out += '\'';
  for (const char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\') {
      out += "\\\\";
    } else if ((c < 0x20 && c != '\n') || c == 0x7F) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out += ch;
    }
  }
  return CsvField(out);
}

ExportResult Export(const ExportOptions& o, std::ostream& out) {
  ExportResult result;
  if (o.format != "jsonl" && o.format != "csv") {
    return {2, 0, "--format must be jsonl or csv"};
  }
  if (!std::filesystem::is_regular_file(o.db_path)) {
    return {2, 0, "\"" + o.db_path + "\" does not exist or is not a file"};
  }
  try {
    SQLite::Database db(o.db_path, SQLite::OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    db.setBusyTimeout(5000);
    if (!db.tableExists("audit_records")) {
      return {2, 0, "\"" + o.db_path + "\" has no audit_records table"};
    }
    db.exec("BEGIN");  // one snapshot while a gateway keeps appending
    auto from = Bound(db, o.from, false);
    auto to = Bound(db, o.to, true);
    if (!from || !to) {
      return {2, 0,
              "--from/--to must be a seq number or a UTC time like "
              "2026-11-26T16:00:00Z"};
    }
    if (o.format == "csv") {
      WriteCsvRows(db, *from, *to, out, result.records);
    } else {
      WriteJsonlRows(db, *from, *to, out, result.records);
    }
    db.exec("COMMIT");
    out.flush();
    if (!out) return {2, result.records, "cannot write the export"};
  } catch (const std::exception& e) {
    return {2, result.records,
            "cannot read \"" + o.db_path + "\": " + e.what()};
  }
  return result;
}

}  // namespace agni::audit
