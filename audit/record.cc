#include "audit/record.h"

#include <ctime>

#include "gateway/crypto.h"

namespace agni::audit {

std::string FormatTime(std::int64_t time_us) {
  const std::time_t secs = static_cast<std::time_t>(time_us / 1'000'000);
  const long micros = static_cast<long>(time_us % 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, micros);
  return buf;
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

nlohmann::json ToJson(const Record& r) {
  nlohmann::json j = nlohmann::json::object();
  auto text = [&](const char* key, const std::string& v) {
    if (!v.empty()) j[key] = v;
  };
  j["seq"] = r.seq;
  j["time"] = FormatTime(r.time_us);
  j["prev_hash"] = r.prev_hash;
  text("stage", r.stage);
  text("request_id", r.request_id);
  text("principal", r.principal);
  text("groups", r.groups);
  text("auth_method", r.auth_method);
  text("peer", r.peer);
  text("method", r.method);
  text("path", r.path);
  text("phone_number", r.phone_number);
  text("decision", r.decision);
  text("rule_id", r.rule_id);
  text("reason", r.reason);
  text("approval_id", r.approval_id);
  text("policy_hash", r.policy_hash);
  text("shadow", r.shadow);
  if (r.intent_seq) j["intent_seq"] = *r.intent_seq;
  if (r.upstream_status) j["upstream_status"] = *r.upstream_status;
  if (r.upstream_latency_us) j["upstream_latency_us"] = *r.upstream_latency_us;
  if (r.response_status) j["response_status"] = *r.response_status;
  text("outcome", r.outcome);
  text("detail", r.detail);
  if (r.request_count) j["request_count"] = *r.request_count;
  return j;
}

std::string CanonicalBytes(const Record& r) {
  return ToJson(r).dump(-1, ' ', /*ensure_ascii=*/true,
                        nlohmann::json::error_handler_t::replace);
}

std::string ChainHash(const Record& r) {
  return Sha256Hex(r.prev_hash + CanonicalBytes(r));
}

}  // namespace agni::audit
