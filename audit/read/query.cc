#include "audit/read/query.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/record_io.h"

namespace agni::audit {
namespace {

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Percent-decoding of one query value. '+' stays '+' (phone numbers).
std::optional<std::string> Decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    int v = 0;
    auto [p, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, v, 16);
    if (ec != std::errc() || p != in.data() + i + 3) return std::nullopt;
    out.push_back(static_cast<char>(v));
    i += 2;
  }
  return out;
}

bool IsPrintable(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> NormalizeTime(std::string_view t, bool end_of) {
  auto digits = [&](std::size_t at, std::size_t n) {
    return at + n <= t.size() && AllDigits(t.substr(at, n));
  };
  if (!(digits(0, 4) && t.size() >= 10 && t[4] == '-' && digits(5, 2) &&
        t[7] == '-' && digits(8, 2))) {
    return std::nullopt;
  }
  std::string date(t.substr(0, 10));
  if (t.size() == 10) {
    return date + (end_of ? "T23:59:59.999999Z" : "T00:00:00.000000Z");
  }
  if (!(t.size() >= 20 && t[10] == 'T' && digits(11, 2) && t[13] == ':' &&
        digits(14, 2) && t[16] == ':' && digits(17, 2) && t.back() == 'Z')) {
    return std::nullopt;
  }
  std::string fraction;
  std::string_view rest = t.substr(19, t.size() - 20);
  if (!rest.empty()) {
    if (rest[0] != '.' || rest.size() < 2 || rest.size() > 7 ||
        !AllDigits(rest.substr(1))) {
      return std::nullopt;
    }
    fraction = std::string(rest.substr(1));
  } else if (end_of) {
    fraction = "999999";
  }
  fraction.resize(6, end_of && rest.empty() ? '9' : '0');
  return date + "T" + std::string(t.substr(11, 8)) + "." + fraction + "Z";
}

std::string ParseAuditQuery(std::string_view qs, AuditQuery& out) {
  while (!qs.empty()) {
    const std::size_t amp = qs.find('&');
    std::string_view pair = qs.substr(0, amp);
    qs =
        amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    auto value = Decode(eq == std::string_view::npos ? std::string_view()
                                                     : pair.substr(eq + 1));
    if (!value || !IsPrintable(*value) || value->size() > 256) {
      return "query parameter \"" + std::string(key.substr(0, 32)) +
             "\" has a malformed value";
    }
    if (key == "after_seq" || key == "limit") {
      long long n = 0;
      auto [p, ec] =
          std::from_chars(value->data(), value->data() + value->size(), n);
      if (ec != std::errc() || p != value->data() + value->size() || n < 0) {
        return std::string(key) + " must be a non-negative integer";
      }
      if (key == "after_seq") {
        out.after_seq = n;
      } else {
        if (n < 1 || n > kMaxPageSize) {
          return "limit must be between 1 and " + std::to_string(kMaxPageSize);
        }
        out.limit = static_cast<int>(n);
      }
    } else if (key == "user") {
      out.user = *value;
    } else if (key == "phone_number") {
      out.phone_number = *value;
    } else if (key == "decision") {
      out.decision = *value;
    } else if (key == "stage") {
      out.stage = *value;
    } else if (key == "request_id") {
      out.request_id = *value;
    } else if (key == "reason") {
      out.reason = *value;
    } else if (key == "peer") {
      out.peer = *value;
    } else if (key == "summary") {
      if (*value != "true" && *value != "false") {
        return "summary must be true or false";
      }
      out.summary = *value;
    } else if (key == "from" || key == "to") {
      auto t = NormalizeTime(*value, key == "to");
      if (!t) {
        return std::string(key) +
               " must be a UTC time like 2026-11-26T16:00:00Z or a date";
      }
      (key == "from" ? out.from : out.to) = *t;
    } else {
      return "unknown query parameter \"" + std::string(key.substr(0, 32)) +
             "\" (known: after_seq, limit, user, phone_number, decision, "
             "stage, request_id, reason, peer, summary, from, to)";
    }
  }
  return "";
}

namespace {

// The store keeps time non-decreasing along seq, so a time bound is a seq
// bound found with one probe of the time index. The time conditions stay in
// the query as well, so the answer is exact even on older logs.
std::optional<std::int64_t> SeqAtTime(SQLite::Database& db,
                                      const std::string& time, bool upper) {
  SQLite::Statement s(db, upper
                              ? "SELECT seq FROM audit_records WHERE time <= ? "
                                "ORDER BY time DESC LIMIT 1"
                              : "SELECT seq FROM audit_records WHERE time >= ? "
                                "ORDER BY time LIMIT 1");
  s.bind(1, time);
  if (!s.executeStep()) return std::nullopt;
  return s.getColumn(0).getInt64();
}

}  // namespace

nlohmann::json RunAuditQuery(SQLite::Database& db, const AuditQuery& q) {
  std::int64_t after = q.after_seq;
  std::int64_t last_seq = INT64_MAX;
  bool empty = false;
  if (!q.from.empty()) {
    auto lo = SeqAtTime(db, q.from, false);
    if (lo) after = std::max(after, *lo - 1);
    empty = empty || !lo;
  }
  if (!q.to.empty()) {
    auto hi = SeqAtTime(db, q.to, true);
    if (hi) last_seq = *hi;
    empty = empty || !hi;
  }
  if (empty) {
    return {{"records", nlohmann::json::array()}, {"next_after_seq", nullptr}};
  }
  std::string sql = "SELECT * FROM audit_records WHERE seq > ? AND seq <= ?";
  std::vector<const std::string*> binds;
  auto filter = [&](const char* column, const std::string& value,
                    const char* op = " = ?") {
    if (value.empty()) return;
    sql += std::string(" AND ") + column + op;
    binds.push_back(&value);
  };
  filter("principal", q.user);
  filter("phone_number", q.phone_number);
  filter("decision", q.decision);
  filter("stage", q.stage);
  filter("request_id", q.request_id);
  filter("reason", q.reason);
  filter("peer", q.peer);
  if (q.summary == "true") sql += " AND request_count IS NOT NULL";
  if (q.summary == "false") sql += " AND request_count IS NULL";
  filter("time", q.from, " >= ?");
  filter("time", q.to, " <= ?");
  sql += " ORDER BY seq LIMIT ?";
  SQLite::Statement s(db, sql);
  int i = 1;
  s.bind(i++, after);
  s.bind(i++, last_seq);
  for (const std::string* v : binds) s.bind(i++, *v);
  s.bind(i++, q.limit);
  nlohmann::json records = nlohmann::json::array();
  std::int64_t last = q.after_seq;
  while (s.executeStep()) {
    nlohmann::json rec = RowObject(s);
    last = rec["seq"].get<std::int64_t>();
    records.push_back(std::move(rec));
  }
  nlohmann::json page = {{"records", std::move(records)}};
  page["next_after_seq"] = static_cast<int>(page["records"].size()) == q.limit
                               ? nlohmann::json(last)
                               : nlohmann::json();
  return page;
}

void EnsureQueryIndexes(SQLite::Database& db) {
  db.exec(R"sql(
    CREATE INDEX IF NOT EXISTS audit_records_by_decision
      ON audit_records (decision, seq);
    CREATE INDEX IF NOT EXISTS audit_records_by_principal_decision
      ON audit_records (principal, decision, seq);
    CREATE INDEX IF NOT EXISTS audit_records_by_time
      ON audit_records (time);
  )sql");
}

void PrepareReadSide(const std::string& db_path) {
  SQLite::Database db(db_path, SQLite::OPEN_READWRITE);
  db.setBusyTimeout(5000);
  EnsureQueryIndexes(db);
  EnsureCheckpointSchema(db);
  // Index statistics from a sample (a fraction of a second on a million
  // records), so the planner takes the selective index when a page combines
  // filters, e.g. a user and a phone number.
  db.exec("PRAGMA analysis_limit=1000; ANALYZE;");
}

}  // namespace agni::audit
