#include "audit/read/query.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <utility>
#include <vector>

#include <sqlite3.h>

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

// The AuditQuery field a parameter that filters by an exact text sets, or
// nullptr.
std::string AuditQuery::*TextFilter(std::string_view key) {
  static constexpr std::pair<std::string_view, std::string AuditQuery::*>
      kTextFilters[] = {{"user", &AuditQuery::user},
                        {"phone_number", &AuditQuery::phone_number},
                        {"decision", &AuditQuery::decision},
                        {"stage", &AuditQuery::stage},
                        {"request_id", &AuditQuery::request_id},
                        {"reason", &AuditQuery::reason},
                        {"peer", &AuditQuery::peer}};
  for (const auto& [name, field] : kTextFilters) {
    if (key == name) return field;
  }
  return nullptr;
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
    } else if (std::string AuditQuery::*field = TextFilter(key)) {
      out.*field = *value;
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

// The first record at or after seq `from`: (seq, time), or nullopt.
class SeqProbe {
 public:
  explicit SeqProbe(SQLite::Database& db)
      : q_(db,
           "SELECT seq, time FROM audit_records WHERE seq >= ? ORDER BY seq "
           "LIMIT 1") {}
  bool At(std::int64_t from) {
    sqlite3_reset(q_.get());
    q_.Bind(1, from);
    if (!q_.Step()) return false;
    seq_ = sqlite3_column_int64(q_.get(), 0);
    const auto* text =
        reinterpret_cast<const char*>(sqlite3_column_text(q_.get(), 1));
    time_.assign(text ? text : "");
    return true;
  }
  std::int64_t seq() const { return seq_; }
  const std::string& time() const { return time_; }

 private:
  RecordQuery q_;
  std::int64_t seq_ = 0;
  std::string time_;
};

// The first record whose time is past `time` (>= it, or > it with
// `strictly_after`): a binary search over seq, whose records keep time in
// order, of about 2 * log2(records) primary-key lookups. nullopt: none.
std::optional<std::int64_t> FirstSeqPast(SQLite::Database& db,
                                         const std::string& time,
                                         bool strictly_after) {
  SeqProbe probe(db);
  auto past = [&] {
    return strictly_after ? probe.time() > time : probe.time() >= time;
  };
  if (!probe.At(0)) return std::nullopt;
  if (past()) return probe.seq();
  std::int64_t lo = probe.seq();  // not past
  std::int64_t hi = 0;            // past, once found
  {
    SQLite::Statement last(db, "SELECT max(seq) FROM audit_records");
    last.executeStep();
    hi = last.getColumn(0).getInt64();
  }
  if (!probe.At(hi) || !past()) return std::nullopt;
  // Invariant: the first record at or after seq lo is not past, the first
  // at or after hi is.
  while (hi - lo > 1) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    probe.At(mid);
    if (past()) {
      hi = mid;
    } else {
      lo = std::max(mid, probe.seq());
    }
  }
  probe.At(hi);
  return probe.seq();
}

// A page as JSON text, written straight from the columns (the export's
// form): no JSON object per record, so a page of 1000 records costs its text
// and little more.
class PageWriter {
 public:
  explicit PageWriter(int limit) : limit_(limit) {
    body_.reserve(std::min<std::size_t>(static_cast<std::size_t>(limit) * 700,
                                        64 * 1024));
    body_ = "{\"records\":[";
  }
  void Add(const RecordQuery& q, const RowReader& reader, std::int64_t seq) {
    if (count_ > 0) body_.push_back(',');
    reader.AppendCanonical(q, body_, /*with_hash=*/true);
    last_ = seq;
    ++count_;
  }
  bool full() const { return count_ == limit_; }
  // next_after_seq is the last seq when the page is full (more may match),
  // else `searched_to` when set (a window ended before the log did).
  std::string Finish(std::int64_t searched_to = 0) && {
    body_ += "],\"next_after_seq\":";
    if (full()) {
      body_ += std::to_string(last_);
    } else if (searched_to > 0) {
      body_ += std::to_string(searched_to);
    } else {
      body_ += "null";
    }
    body_.push_back('}');
    return std::move(body_);
  }

 private:
  int limit_;
  int count_ = 0;
  std::int64_t last_ = 0;
  std::string body_;
};

}  // namespace

std::optional<std::int64_t> FirstSeqFrom(SQLite::Database& db,
                                         const std::string& time) {
  return FirstSeqPast(db, time, false);
}

std::optional<std::int64_t> LastSeqThrough(SQLite::Database& db,
                                           const std::string& time,
                                           bool inclusive) {
  std::optional<std::int64_t> past = FirstSeqPast(db, time, inclusive);
  SQLite::Statement q(db, past ? "SELECT max(seq) FROM audit_records "
                                 "WHERE seq < ?"
                               : "SELECT max(seq) FROM audit_records");
  if (past) q.bind(1, *past);
  if (!q.executeStep() || q.getColumn(0).isNull()) return std::nullopt;
  return q.getColumn(0).getInt64();
}

std::string RunAuditQuery(SQLite::Database& db, const AuditQuery& q) {
  std::int64_t after = q.after_seq;
  std::int64_t last_seq = INT64_MAX;
  bool empty = false;
  if (!q.from.empty()) {
    auto lo = FirstSeqFrom(db, q.from);
    if (lo) after = std::max(after, *lo - 1);
    empty = empty || !lo;
  }
  if (!q.to.empty()) {
    auto hi = LastSeqThrough(db, q.to, /*inclusive=*/true);
    if (hi) last_seq = *hi;
    empty = empty || !hi;
  }
  if (empty || after >= last_seq) return PageWriter(q.limit).Finish();
  // A page is one range of an index on (column, seq) or of the table
  // itself, in seq order; the planner picks the most selective index with
  // the statistics of ANALYZE. One indexed filter (or none) is answered by
  // its index alone. Any other combination also reads rows that do not
  // match, so its page covers at most kScanWindow seqs: a short page with
  // next_after_seq set, instead of a scan of the whole log.
  const int filters = !q.user.empty() + !q.phone_number.empty() +
                      !q.decision.empty() + !q.request_id.empty() +
                      !q.stage.empty() + !q.reason.empty() + !q.peer.empty() +
                      !q.summary.empty();
  const bool indexed_alone =
      filters == 0 ||
      (filters == 1 && (!q.user.empty() || !q.phone_number.empty() ||
                        !q.decision.empty() || !q.request_id.empty()));
  std::int64_t window_end = last_seq;
  if (!indexed_alone && last_seq - after > kScanWindow) {
    window_end = after + kScanWindow;
  }
  std::string sql = "SELECT * FROM audit_records WHERE seq > ? AND seq <= ?";
  std::vector<const std::string*> binds;
  // The index of the first filter given in the order below drives the page
  // (a request id, a number, a user are far more selective than a decision,
  // which ANALYZE's sample does not always tell); the other columns are
  // written `+column`, which keeps SQLite from using their index.
  bool driven = false;
  auto filter = [&](const char* column, const std::string& value) {
    if (value.empty()) return;
    sql += std::string(driven ? " AND +" : " AND ") + column + " = ?";
    driven = true;
    binds.push_back(&value);
  };
  filter("request_id", q.request_id);
  filter("phone_number", q.phone_number);
  filter("principal", q.user);
  filter("decision", q.decision);
  filter("stage", q.stage);
  filter("reason", q.reason);
  filter("peer", q.peer);
  if (q.summary == "true") sql += " AND request_count IS NOT NULL";
  if (q.summary == "false") sql += " AND request_count IS NULL";
  sql += " ORDER BY seq LIMIT ?";
  RecordQuery s(db, sql.c_str());
  int i = 1;
  s.Bind(i++, after);
  s.Bind(i++, window_end);
  for (const std::string* v : binds) s.Bind(i++, std::string_view(*v));
  s.Bind(i++, static_cast<std::int64_t>(q.limit));
  const RowReader reader(s);
  PageWriter page(q.limit);
  while (s.Step()) page.Add(s, reader, sqlite3_column_int64(s.get(), 0));
  if (window_end < last_seq && !page.full()) {
    // More of the log is left to search, unless the window reached the head.
    SQLite::Statement more(db, "SELECT 1 FROM audit_records WHERE seq > ?");
    more.bind(1, window_end);
    if (more.executeStep()) return std::move(page).Finish(window_end);
  }
  return std::move(page).Finish();
}

void EnsureQueryIndexes(SQLite::Database& db) {
  // Users, numbers and request ids have the store's indexes on (column,
  // seq); a time range is a seq range (FirstSeqFrom). Decisions are few, so
  // a rare one (deny) would otherwise scan the table. Logs of earlier
  // versions carry two more indexes that every insert paid for.
  db.exec(R"sql(
    CREATE INDEX IF NOT EXISTS audit_records_by_decision
      ON audit_records (decision, seq);
    DROP INDEX IF EXISTS audit_records_by_principal_decision;
    DROP INDEX IF EXISTS audit_records_by_time;
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
