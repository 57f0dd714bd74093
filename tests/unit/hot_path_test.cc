// The audit record's hand-written canonical serialiser and time formatter
// (audit/record.cc) against the general implementations they replaced on the
// hot path: nlohmann's dump of ToJson() (what CHAIN.md specifies and what
// `audit verify` re-hashes with) and gmtime_r. Any byte of difference would
// break every chain written from then on, so the comparison runs over
// thousands of records with awkward text: control characters, DEL, quotes,
// backslashes, multi-byte UTF-8 and invalid UTF-8.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "audit/record.h"
#include "base/crypto.h"
#include "gateway/ops/log.h"
#include "gateway/ops/metrics.h"
#include "gateway/pipeline/problem.h"

namespace agni::audit {
namespace {

std::string Reference(const Record& r) {
  return ToJson(r).dump(-1, ' ', true,
                        nlohmann::json::error_handler_t::replace);
}

std::string RandomText(std::mt19937_64& rng) {
  static const std::string kPieces[] = {"a",
                                        "Z",
                                        "0",
                                        "+1555",
                                        "/",
                                        "-",
                                        "_",
                                        ":",
                                        " ",
                                        "\"",
                                        "\\",
                                        "\n",
                                        "\t",
                                        "\r",
                                        "\b",
                                        "\f",
                                        std::string(1, '\0'),
                                        "\x01",
                                        "\x1f",
                                        "\x7f",
                                        "caf\xc3\xa9",
                                        "\xe2\x82\xac",
                                        "\xf0\x9f\x98\x80",  // é, €, an emoji
                                        "\xff",
                                        "\xc3",
                                        "\xed\xa0\x80",
                                        "\xe2\x82",
                                        "\x80",
                                        "[\"ops\"]"};
  constexpr std::size_t kCount = sizeof kPieces / sizeof kPieces[0];
  std::string out;
  const int n = static_cast<int>(rng() % 6);  // 0: empty, left out
  for (int i = 0; i < n; ++i) out += kPieces[rng() % kCount];
  return out;
}

TEST(HotPathTest, CanonicalBytesMatchTheJsonLibraryOnAwkwardText) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 5000; ++i) {
    Record r;
    r.seq = static_cast<std::int64_t>(rng() % 1'000'000'000);
    r.time_us = static_cast<std::int64_t>(rng() % 4'000'000'000'000'000);
    r.prev_hash = i % 7 == 0 ? std::string() : Sha256Hex(std::to_string(i));
    for (std::string* s :
         {&r.request_id, &r.principal, &r.groups, &r.auth_method, &r.peer,
          &r.method, &r.path, &r.phone_number, &r.decision, &r.rule_id,
          &r.reason, &r.approval_id, &r.policy_hash, &r.shadow, &r.outcome,
          &r.detail}) {
      *s = RandomText(rng);
    }
    if (rng() % 5) r.stage = static_cast<Stage>(rng() % 4);
    if (rng() % 2) r.intent_seq = static_cast<std::int64_t>(rng()) / 3;
    if (rng() % 2) r.upstream_status = static_cast<int>(rng() % 1000) - 100;
    if (rng() % 2)
      r.upstream_latency_us = static_cast<std::int64_t>(rng() % 99999999);
    if (rng() % 2) r.response_status = static_cast<int>(rng() % 600);
    if (rng() % 2) r.request_count = static_cast<std::int64_t>(rng() % 9999999);
    const std::string expected = Reference(r);
    ASSERT_EQ(CanonicalBytes(r), expected) << "record " << i;
    ASSERT_EQ(ChainHash(r), Sha256Hex(r.prev_hash + expected))
        << "record " << i;
  }
}

TEST(HotPathTest, EmptyRecordKeepsSeqTimeAndPrevHash) {
  Record r;
  EXPECT_EQ(CanonicalBytes(r), Reference(r));
  EXPECT_EQ(CanonicalBytes(r),
            R"({"prev_hash":"","seq":0,"time":"1970-01-01T00:00:00.000000Z"})");
}

TEST(HotPathTest, FormatTimeMatchesGmtimeAndRoundTrips) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20000; ++i) {
    // Up to 9999-12-31T23:59:59.999999Z, with the edges and leap days.
    std::int64_t us =
        static_cast<std::int64_t>(rng() % 253'402'300'800'000'000);
    if (i == 0) us = 0;
    if (i == 1) us = 253'402'300'799'999'999;
    if (i == 2) us = 951'782'400'000'000;        // 2000-02-29
    if (i == 3) us = 4'107'542'400'000'000 - 1;  // 2100-02-28T23:59:59.999999
    const std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec, static_cast<long>(us % 1'000'000));
    ASSERT_EQ(FormatTime(us), buf) << us;
    ASSERT_EQ(ParseTime(FormatTime(us)), us) << us;
  }
}

TEST(HotPathTest, Sha256OfTwoPartsIsTheHashOfTheirConcatenation) {
  EXPECT_EQ(Sha256Hex("", ""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("ab", "c"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abc"), Sha256Hex("a", "bc"));
}

std::vector<nlohmann::json> LogLines(
    const std::function<void(const Logger&)>& write,
    LogLevel level = LogLevel::kInfo) {
  std::FILE* f = std::tmpfile();
  EXPECT_NE(f, nullptr);
  write(Logger(level, f));
  std::rewind(f);
  std::vector<nlohmann::json> lines;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, f)) {
    lines.push_back(nlohmann::json::parse(buf));  // throws on a bad line
  }
  std::fclose(f);
  return lines;
}

// The request line is written by hand; it must say what the general Log()
// path says for the same fields (masking, escaping, level), time aside.
TEST(HotPathTest, RequestLogLineMatchesTheGeneralLogger) {
  struct Case {
    std::string request_id, route, method, reason, user;
    int status;
  };
  const Case cases[] = {
      {"0123abcd", "release", "DELETE", "", "alice", 200},
      {"req-1", "release", "DELETE", "policy_denied", "mallory", 403},
      {"x", "other", "GET", "unauthenticated", "", 401},
      {"r", "release", "DELETE", "audit_unavailable", "caf\xc3\xa9 \"q\"\\",
       503},
      {"id+15551234567", "release", "DELETE", "%2B447700900123", "+15550001111",
       502},
      {"bad\xff", "other", "OTHER", "\x01\x7f", "\n", 200},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.request_id);
    const auto fast = LogLines([&](const Logger& log) {
      log.Request(c.request_id, c.route, c.method, c.status, c.reason, 0.00125,
                  c.user);
    });
    const auto general = LogLines([&](const Logger& log) {
      nlohmann::json fields = {
          {"request_id", c.request_id}, {"route", c.route},
          {"method", c.method},         {"status", c.status},
          {"reason", c.reason},         {"duration", 0.00125}};
      if (!c.user.empty()) fields["user"] = c.user;
      log.Log(c.status >= 500 ? LogLevel::kWarn : LogLevel::kInfo, "request",
              fields);
    });
    ASSERT_EQ(fast.size(), 1u);
    ASSERT_EQ(general.size(), 1u);
    nlohmann::json a = fast[0], b = general[0];
    ASSERT_TRUE(a.contains("time") && ParseTime(a["time"].get<std::string>()));
    a.erase("time");
    b.erase("time");
    EXPECT_EQ(a, b);
  }
  // Levels still apply: 4xx lines are info, 5xx warn.
  auto request = [](int status) {
    return [status](const Logger& log) {
      log.Request("id", "release", "DELETE", status, "", 0.1, "u");
    };
  };
  EXPECT_TRUE(LogLines(request(403), LogLevel::kWarn).empty());
  ASSERT_EQ(LogLines(request(503), LogLevel::kWarn).size(), 1u);
  EXPECT_EQ(LogLines(request(503), LogLevel::kWarn)[0]["level"], "warn");
}

// ProblemJson() as it was written with nlohmann (the reference for the
// hand-written one).
std::string ReferenceProblemJson(const Problem& problem,
                                 std::string_view request_id) {
  nlohmann::json body = {
      {"type",
       "urn:agni-gateway:problem:" + std::string(ReasonCode(problem.reason))},
      {"title", ReasonTitle(problem.reason)},
      {"status", ReasonStatus(problem.reason)},
      {"detail", problem.detail},
      {"instance", "urn:agni-gateway:request:" + std::string(request_id)},
      {"request_id", request_id},
      {"reason", ReasonCode(problem.reason)},
      {"success", false},
      {"message", problem.detail.empty()
                      ? std::string(ReasonTitle(problem.reason))
                      : problem.detail},
  };
  if (!problem.rule_id.empty()) body["rule_id"] = problem.rule_id;
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(HotPathTest, ProblemJsonIsByteForByteWhatTheJsonLibraryWrote) {
  std::mt19937_64 rng(3);
  const Reason reasons[] = {Reason::kPolicyDenied,     Reason::kUnauthenticated,
                            Reason::kRateLimited,      Reason::kNotFound,
                            Reason::kAuditUnavailable, Reason::kNone};
  for (int i = 0; i < 3000; ++i) {
    Problem p{reasons[rng() % std::size(reasons)], RandomText(rng),
              RandomText(rng)};
    const std::string id = i % 3 ? RandomText(rng) : "0123456789abcdef";
    ASSERT_EQ(ProblemJson(p, id), ReferenceProblemJson(p, id)) << i;
  }
}

// The value of the series `name{labels}` in `text`, or -1.
double SeriesValue(const std::string& text, const std::string& series) {
  std::size_t at = 0;
  while ((at = text.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      return std::stod(text.substr(at + series.size() + 1));
    }
    at += series.size();
  }
  return -1;
}

// The cached series must count exactly what Family::Add() lookups counted,
// in the series the labels name, including values outside the cached sets.
TEST(HotPathTest, CachedMetricSeriesCountIntoTheRightLabels) {
  Metrics m;
  for (int i = 0; i < 3; ++i) {
    m.ObserveRequest("release", 200, std::chrono::milliseconds(1));
  }
  m.ObserveRequest("release", 403, std::chrono::milliseconds(1));
  m.ObserveRequest("whoami", 200, std::chrono::milliseconds(1));
  m.ObserveRequest("release", 99, std::chrono::milliseconds(1));  // uncached
  m.CountDecision("allow", "enforce");
  m.CountDecision("allow", "enforce");
  m.CountDecision("deny", "shadow");
  m.ObserveUpstream("success", std::chrono::milliseconds(2));
  m.ObserveUpstream("timeout", std::chrono::milliseconds(2));
  Record intent, outcome, odd;
  intent.stage = audit::Stage::kIntent;
  outcome.stage = audit::Stage::kOutcome;
  odd.stage = audit::Stage::kApproval;  // not pre-declared: uncached path
  m.OnCommit({&intent, &outcome, &intent, &odd}, std::chrono::milliseconds(1));
  const std::string text = m.Serialize();
  const std::vector<std::pair<std::string, double>> expected = {
      {R"(agni_gateway_requests_total{code="200",route="release"})", 3},
      {R"(agni_gateway_requests_total{code="403",route="release"})", 1},
      {R"(agni_gateway_requests_total{code="200",route="whoami"})", 1},
      {R"(agni_gateway_requests_total{code="99",route="release"})", 1},
      {R"(agni_gateway_request_duration_seconds_count{route="release"})", 5},
      {R"(agni_gateway_policy_decisions_total{decision="allow",mode="enforce"})",
       2},
      {R"(agni_gateway_policy_decisions_total{decision="deny",mode="shadow"})",
       1},
      {R"(agni_gateway_policy_decisions_total{decision="deny",mode="enforce"})",
       0},
      {R"(agni_gateway_upstream_requests_total{outcome="success"})", 1},
      {R"(agni_gateway_upstream_requests_total{outcome="timeout"})", 1},
      {R"(agni_gateway_audit_records_total{stage="intent"})", 2},
      {R"(agni_gateway_audit_records_total{stage="outcome"})", 1},
      {R"(agni_gateway_audit_records_total{stage="approval"})", 1},
  };
  for (const auto& [series, value] : expected) {
    SCOPED_TRACE(series);
    EXPECT_EQ(SeriesValue(text, series), value);
  }
}

}  // namespace
}  // namespace agni::audit
