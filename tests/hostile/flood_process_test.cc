// A flood of bad-token requests against the real agni-gateway binary with the
// default audit.rejections settings (burst 10, window 10s, 100 individual
// records per window, 1024 keys): a legitimate release still goes through,
// the audit grows by a bounded number of rows, and after SIGTERM the records
// account for every rejected request exactly.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/hostile/hostile_gateway.h"

namespace agni::testing {
namespace {

constexpr int kThreads = 4;
constexpr int kPerThread = 5000;
constexpr int kFlood = kThreads * kPerThread;

TEST(FloodProcessTest, TwentyThousandBadTokensAreAllAccountedInBoundedRows) {
  FakeUpstream upstream;
  GatewayProcess gw(HostileGateway(
      {.upstream_base_url = upstream.url(), .keep_alive_timeout = "5s"}));
  WarmUpHttpClient(gw.admin_port());
  const std::size_t rows_before = gw.AuditRows().size();
  const auto started = std::chrono::steady_clock::now();
  std::atomic<int> unauthorized{0};
  std::atomic<int> other{0};
  std::vector<std::thread> flood;
  for (int t = 0; t < kThreads; ++t) {
    flood.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", gw.port());
      c.set_keep_alive(true);
      c.set_read_timeout(10, 0);
      const httplib::Headers h = {
          {"Authorization", "Bearer not-a-token-" + std::to_string(t)}};
      for (int i = 0; i < kPerThread; ++i) {
        auto res = c.Delete(ReleasePath("%2B15551234567"), h);
        if (res && res->status == 401) {
          ++unauthorized;
        } else {
          ++other;
        }
      }
    });
  }
  // Legitimate releases while the flood runs.
  int released = 0;
  {
    httplib::Client c("127.0.0.1", gw.port());
    c.set_read_timeout(10, 0);
    for (int i = 0; i < 5; ++i) {
      auto res = c.Delete(ReleasePath("%2B1555123456" + std::to_string(i)),
                          Bearer(gw.alice().token));
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 200) << res->body;
      if (res->status == 200) ++released;
    }
  }
  for (auto& t : flood) t.join();
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count();
  ASSERT_EQ(unauthorized.load(), kFlood) << other.load() << " other answers";
  EXPECT_EQ(upstream.Received().size(), static_cast<std::size_t>(released));

  const std::string metrics = gw.Metrics();
  EXPECT_EQ(
      MetricValue(metrics,
                  R"(agni_gateway_requests_total{code="401",route="release"})"),
      kFlood);
  const auto summarized = MetricValue(
      metrics,
      R"(agni_gateway_audit_rejections_summarized_total{reason="unauthenticated"})");
  ASSERT_TRUE(summarized.has_value());

  const auto exit = gw.Stop();  // SIGTERM: the ledger writes its summaries
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(*exit, 0) << gw.Log();

  const auto rows = gw.AuditRows();
  std::int64_t individual = 0, counted = 0, summaries = 0;
  for (const auto& r : rows) {
    if (r.value("reason", "") != "unauthenticated") continue;
    if (r.contains("request_count")) {
      ++summaries;
      counted += r["request_count"].get<std::int64_t>();
      EXPECT_EQ(r["peer"], "127.0.0.1");
    } else {
      ++individual;
    }
  }
  // Every request accounted for, exactly; the metric agrees.
  EXPECT_EQ(individual + counted, kFlood);
  EXPECT_EQ(counted, static_cast<std::int64_t>(*summarized));
  // The design's bound: one peer gets at most `burst` individual records and
  // one summary per 10 s window (windows that began while the flood ran, +1).
  const std::int64_t windows = static_cast<std::int64_t>(elapsed_s / 10) + 2;
  EXPECT_LE(individual, 10 * windows) << elapsed_s << "s";
  EXPECT_LE(summaries, windows) << elapsed_s << "s";
  // Total growth: those rows, the releases' intent/outcome pairs, and the
  // start/stop bookkeeping; far from one row per request.
  EXPECT_LE(rows.size() - rows_before,
            static_cast<std::size_t>(11 * windows + 2 * released + 10));

  // The request log: one line per individually recorded 401, plus one
  // "rejected requests summarised" line per summary whose counts add up.
  std::istringstream log(gw.Log());
  std::int64_t log_401 = 0, log_summed = 0, log_summaries = 0;
  for (std::string line; std::getline(log, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) continue;
    if (j.value("status", 0) == 401 && j.contains("request_id")) ++log_401;
    if (j.value("message", "") == "rejected requests summarised") {
      ++log_summaries;
      log_summed += j.value("count", std::int64_t{0});
    }
  }
  EXPECT_EQ(log_401, individual);
  EXPECT_EQ(log_summaries, summaries);
  EXPECT_EQ(log_summed, counted);
  // Nothing of a token in the audit or the log.
  const std::string bytes = gw.AuditDbBytes() + gw.Log();
  EXPECT_EQ(bytes.find("not-a-token-"), std::string::npos);
  EXPECT_EQ(bytes.find(gw.alice().token), std::string::npos);
}

}  // namespace
}  // namespace agni::testing
