#include "audit/record.h"

#include <cstdio>
#include <ctime>

#include "base/crypto.h"
#include "base/json_object_writer.h"
#include "base/json_text.h"

namespace agni::audit {

namespace {

// Days since 1970-01-01 -> civil date (proleptic Gregorian; H. Hinnant's
// days_from_civil inverse). Pure arithmetic: gmtime_r takes glibc's time zone
// lock, and this runs for every audit record and log line.
void CivilFromDays(std::int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yoe + era * 400 + (m <= 2 ? 1 : 0));
}

void PutDigits(char* at, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

std::string_view StageName(Stage stage) {
  switch (stage) {
    case Stage::kDecision: return "decision";
    case Stage::kIntent: return "intent";
    case Stage::kOutcome: return "outcome";
    case Stage::kApproval: return "approval";
    case Stage::kArchived: return "archived";
  }
  return "decision";
}

std::optional<Stage> ParseStage(std::string_view name) {
  for (Stage s : {Stage::kDecision, Stage::kIntent, Stage::kOutcome,
                  Stage::kApproval, Stage::kArchived}) {
    if (StageName(s) == name) return s;
  }
  return std::nullopt;
}

std::string_view OutcomeName(ReleaseOutcome outcome) {
  switch (outcome) {
    case ReleaseOutcome::kReleased: return "released";
    case ReleaseOutcome::kRejectedByUpstream: return "rejected_by_upstream";
    case ReleaseOutcome::kUnknown: return "unknown";
    case ReleaseOutcome::kNotSent: return "not_sent";
  }
  return "unknown";
}

std::string FormatTime(std::int64_t time_us) {
  std::int64_t secs = time_us / 1'000'000;
  std::int64_t micros = time_us % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    secs -= 1;
  }
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  int year;
  unsigned month, day;
  CivilFromDays(days, year, month, day);
  if (year < 0 || year > 9999) {
    // Outside RFC 3339's four-digit years: the general (slower) path.
    const std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec, static_cast<long>(micros));
    return buf;
  }
  std::string out = "0000-00-00T00:00:00.000000Z";
  char* p = out.data();
  PutDigits(p, static_cast<unsigned>(year), 4);
  PutDigits(p + 5, month, 2);
  PutDigits(p + 8, day, 2);
  PutDigits(p + 11, static_cast<unsigned>(rem / 3600), 2);
  PutDigits(p + 14, static_cast<unsigned>(rem / 60 % 60), 2);
  PutDigits(p + 17, static_cast<unsigned>(rem % 60), 2);
  PutDigits(p + 20, static_cast<unsigned>(micros), 6);
  return out;
}

std::optional<std::int64_t> ParseTime(std::string_view t) {
  if (t.size() != 27 || t[4] != '-' || t[7] != '-' || t[10] != 'T' ||
      t[13] != ':' || t[16] != ':' || t[19] != '.' || t[26] != 'Z') {
    return std::nullopt;
  }
  auto num = [&](std::size_t at, std::size_t n) -> long {
    long v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return -1;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  std::tm tm{};
  tm.tm_year = static_cast<int>(num(0, 4)) - 1900;
  tm.tm_mon = static_cast<int>(num(5, 2)) - 1;
  tm.tm_mday = static_cast<int>(num(8, 2));
  tm.tm_hour = static_cast<int>(num(11, 2));
  tm.tm_min = static_cast<int>(num(14, 2));
  tm.tm_sec = static_cast<int>(num(17, 2));
  const long micros = num(20, 6);
  if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mday < 0 || tm.tm_hour < 0 ||
      tm.tm_min < 0 || tm.tm_sec < 0 || micros < 0) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(timegm(&tm)) * 1'000'000 + micros;
}

namespace {

// Every field of the canonical form, keys in byte order: the one field list
// that ToJson() and CanonicalBytes() share. Text is left out when empty
// (unless `always`), numbers when unset.
template <typename Writer>
void WriteFields(const Record& r, Writer& w) {
  w.Text("approval_id", r.approval_id);
  w.Text("auth_method", r.auth_method);
  w.Text("decision", r.decision);
  w.Text("detail", r.detail);
  w.Text("groups", r.groups);
  if (r.intent_seq) w.Number("intent_seq", *r.intent_seq);
  w.Text("method", r.method);
  w.Text("outcome", r.outcome);
  w.Text("path", r.path);
  w.Text("peer", r.peer);
  w.Text("phone_number", r.phone_number);
  w.Text("policy_hash", r.policy_hash);
  w.Text("prev_hash", r.prev_hash, /*always=*/true);
  w.Text("principal", r.principal);
  w.Text("reason", r.reason);
  if (r.request_count) w.Number("request_count", *r.request_count);
  w.Text("request_id", r.request_id);
  if (r.response_status) w.Number("response_status", *r.response_status);
  w.Text("rule_id", r.rule_id);
  w.Number("seq", r.seq);
  w.Text("shadow", r.shadow);
  w.Text("stage", StageColumn(r));
  w.Text("time", FormatTime(r.time_us), /*always=*/true);
  if (r.upstream_latency_us) {
    w.Number("upstream_latency_us", *r.upstream_latency_us);
  }
  if (r.upstream_status) w.Number("upstream_status", *r.upstream_status);
}

// Builds the nlohmann object ToJson() returns.
class JsonTreeWriter {
 public:
  explicit JsonTreeWriter(nlohmann::json& j) : j_(j) {}
  void Text(const char* key, std::string_view v, bool always = false) {
    if (always || !v.empty()) j_[key] = std::string(v);
  }
  void Number(const char* key, std::int64_t v) { j_[key] = v; }

 private:
  nlohmann::json& j_;
};

// The bytes nlohmann's dump(-1, ' ', true, replace) writes for the object
// JsonTreeWriter builds, written directly: nlohmann's map-backed object
// costs an allocation per key and a tree walk, several times the SHA-256 of
// the result. Text is ASCII-only (CHAIN.md). tests/unit/hot_path_test.cc
// checks the two agree.
class CanonicalWriter {
 public:
  explicit CanonicalWriter(std::string& out) : w_(out) {}
  void Text(std::string_view key, std::string_view v, bool always = false) {
    if (!always && v.empty()) return;
    w_.Key(key);
    AppendJsonString(w_.out(), v, /*ensure_ascii=*/true);
  }
  void Number(std::string_view key, std::int64_t v) {
    w_.Key(key);
    w_.out() += std::to_string(v);
  }
  void Close() { w_.Close(); }

 private:
  JsonObjectWriter w_;
};

}  // namespace

std::string_view StageColumn(const Record& r) {
  return r.stage ? StageName(*r.stage) : std::string_view();
}

nlohmann::json ToJson(const Record& r) {
  nlohmann::json j = nlohmann::json::object();
  JsonTreeWriter w(j);
  WriteFields(r, w);
  return j;
}

std::string CanonicalBytes(const Record& r) {
  std::string out;
  out.reserve(512 + r.detail.size() + r.path.size());
  CanonicalWriter w(out);
  WriteFields(r, w);
  w.Close();
  return out;
}

std::string ChainHash(const Record& r) {
  return Sha256Hex(r.prev_hash, CanonicalBytes(r));
}

}  // namespace agni::audit
