// The rejection ledger (gateway/pipeline/rejection_ledger.h) with an injected
// clock and a recording audit sink: per (peer, reason) and window, the first
// `burst` rejections get records of their own, the rest are counted, and the
// summary records account for every counted request, exactly, across windows,
// keys, the key cap and failed audit writes. Plus the request_count column in
// the real store: old logs without it stay verifiable.
#include "gateway/pipeline/rejection_ledger.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "audit/read/export.h"
#include "audit/read/history.h"
#include "audit/read/verify.h"
#include "audit/record.h"
#include "audit/store.h"
#include "gateway/cli/audit_cli.h"
#include "gateway/ops/log.h"
#include "gateway/ops/metrics.h"
#include "tests/support/temp_dir.h"

namespace agni {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Keeps every appended record; fails on demand.
class RecordingSink final : public audit::AuditSink {
 public:
  audit::AppendResult Append(audit::Record record) override {
    std::lock_guard lock(mu_);
    if (fail) return {false, 0, "disk full"};
    record.seq = static_cast<std::int64_t>(records.size()) + 1;
    records.push_back(std::move(record));
    return {true, records.back().seq, ""};
  }
  bool Healthy() const override { return !fail; }
  bool Probe() override { return !fail; }

  std::vector<audit::Record> records;
  bool fail = false;

 private:
  std::mutex mu_;
};

struct FakeClock {
  std::chrono::system_clock::time_point now =
      std::chrono::system_clock::time_point(seconds(1'790'000'000));
  RejectionLedger::Clock fn() {
    return [this] { return now; };
  }
};

class LedgerTest : public ::testing::Test {
 protected:
  RejectionLedger Make(RejectionLedgerOptions o) {
    return RejectionLedger(o, sink, &metrics, log, clock.fn());
  }
  // Admits `n` rejections from `peer`; returns how many were individual.
  static int Send(RejectionLedger& l, const std::string& peer, int n,
                  const std::string& fp = "hmac-sha256:aaaa",
                  const std::string& reason = "unauthenticated") {
    int individual = 0;
    for (int i = 0; i < n; ++i) {
      if (l.Admit(peer, reason, reason == "overloaded" ? 503 : 401, fp)) {
        ++individual;
      }
    }
    return individual;
  }
  std::int64_t Summed(const std::string& peer = "") const {
    std::int64_t total = 0;
    for (const audit::Record& r : sink.records) {
      if (peer.empty() || r.peer == peer) total += r.request_count.value_or(0);
    }
    return total;
  }

  RecordingSink sink;
  FakeClock clock;
  Metrics metrics;
  Logger log{LogLevel::kError};
};

TEST_F(LedgerTest, BurstIsIndividualTheRestIsOneSummaryWhenTheWindowCloses) {
  RejectionLedger l = Make({.burst = 3, .window = seconds(10)});
  EXPECT_EQ(Send(l, "10.0.0.1", 3), 3);
  clock.now += seconds(2);
  EXPECT_EQ(Send(l, "10.0.0.1", 997), 0);
  clock.now += seconds(7);
  EXPECT_EQ(l.CloseWindowIfDue(), 0u);  // 9s: the window is still open
  EXPECT_TRUE(sink.records.empty());
  clock.now += seconds(1);
  EXPECT_EQ(l.CloseWindowIfDue(), 1u);
  ASSERT_EQ(sink.records.size(), 1u);
  const audit::Record& s = sink.records[0];
  EXPECT_EQ(s.stage, audit::Stage::kDecision);
  EXPECT_EQ(s.decision, "deny");
  EXPECT_EQ(s.reason, "unauthenticated");
  EXPECT_EQ(s.peer, "10.0.0.1");
  EXPECT_EQ(s.response_status, 401);
  EXPECT_EQ(s.request_count, 997);
  EXPECT_TRUE(s.principal.empty());
  EXPECT_TRUE(s.phone_number.empty());
  // First and last counted request, the window, the credential.
  EXPECT_NE(s.detail.find("first 2026-09-21T"), std::string::npos) << s.detail;
  EXPECT_NE(s.detail.find("window of 10s"), std::string::npos) << s.detail;
  EXPECT_NE(s.detail.find("1 distinct credential, most frequent "
                          "hmac-sha256:aaaa (997)"),
            std::string::npos)
      << s.detail;
  // Nothing more to write; totals add up.
  EXPECT_EQ(l.Flush(), 0u);
  const RejectionLedger::Totals t = l.totals();
  EXPECT_EQ(t.individual, 3u);
  EXPECT_EQ(t.summarized, 997u);
  EXPECT_EQ(t.written, 997u);
  EXPECT_EQ(t.unwritten, 0u);
  EXPECT_EQ(t.individual + t.written, 1000u);
  const std::string m = metrics.Serialize();
  EXPECT_NE(m.find("agni_gateway_audit_rejections_summarized_total{reason="
                   "\"unauthenticated\"} 997"),
            std::string::npos);
}

TEST_F(LedgerTest, EachWindowHasItsOwnBurstAndSummary) {
  RejectionLedger l = Make({.burst = 2, .window = seconds(10)});
  EXPECT_EQ(Send(l, "10.0.0.1", 5), 2);
  clock.now += seconds(11);  // the next request opens a new window
  EXPECT_EQ(Send(l, "10.0.0.1", 6), 2);
  EXPECT_EQ(l.Flush(), 2u);
  ASSERT_EQ(sink.records.size(), 2u);
  EXPECT_EQ(sink.records[0].request_count, 3);
  EXPECT_EQ(sink.records[1].request_count, 4);
}

TEST_F(LedgerTest, KeysAreSeparateAndTheGlobalBudgetCapsIndividualRecords) {
  RejectionLedger l =
      Make({.burst = 3, .window = seconds(10), .max_individual = 4});
  EXPECT_EQ(Send(l, "10.0.0.1", 10), 3);
  EXPECT_EQ(Send(l, "10.0.0.2", 10), 1);  // the budget of 4 is spent
  EXPECT_EQ(Send(l, "10.0.0.3", 10), 0);
  EXPECT_EQ(Send(l, "10.0.0.1", 5, "hmac-sha256:bbbb", "overloaded"), 0);
  EXPECT_EQ(l.Flush(), 4u);
  EXPECT_EQ(Summed("10.0.0.1"), 7 + 5);
  EXPECT_EQ(Summed("10.0.0.2"), 9);
  EXPECT_EQ(Summed("10.0.0.3"), 10);
  EXPECT_EQ(Summed(), 35 - 4);
  int overloaded = 0;
  for (const auto& r : sink.records) {
    if (r.reason == "overloaded") {
      ++overloaded;
      EXPECT_EQ(r.response_status, 503);
      EXPECT_EQ(r.request_count, 5);
    }
  }
  EXPECT_EQ(overloaded, 1);
}

TEST_F(LedgerTest, PeersPastTheKeyCapAreCountedUnderOneOverflowKey) {
  RejectionLedger l = Make({.burst = 1,
                            .window = seconds(10),
                            .max_individual = 100,
                            .max_keys = 3});
  int individual = 0;
  for (int p = 0; p < 50; ++p) {
    individual += Send(l, "10.0.1." + std::to_string(p), 4);
  }
  EXPECT_EQ(individual, 3);  // only the 3 keys that fit had a burst
  EXPECT_EQ(l.Flush(), 4u);  // 3 keys + "*"
  EXPECT_EQ(Summed(), 200 - 3);
  EXPECT_EQ(Summed("*"), 47 * 4);
  for (const auto& r : sink.records) {
    if (r.peer == "*") {
      EXPECT_NE(r.detail.find("peers past audit.rejections.max_keys"),
                std::string::npos);
    }
  }
  // The next window starts empty: the cap is per window.
  EXPECT_EQ(Send(l, "10.0.9.9", 1), 1);
}

TEST_F(LedgerTest, FingerprintsAreCountedDistinctUpToACap) {
  RejectionLedger l = Make({.burst = 0, .window = seconds(10)});
  for (int i = 0; i < 40; ++i)
    Send(l, "10.0.0.1", 1, "hmac-sha256:" + std::to_string(i));
  Send(l, "10.0.0.1", 5, "hmac-sha256:7");
  Send(l, "10.0.0.1", 2, "");  // no credential or no fingerprint key
  EXPECT_EQ(l.Flush(), 1u);
  ASSERT_EQ(sink.records.size(), 1u);
  const std::string& d = sink.records[0].detail;
  EXPECT_EQ(sink.records[0].request_count, 47);
  EXPECT_NE(d.find("more than 32 distinct credentials"), std::string::npos)
      << d;
  EXPECT_NE(d.find("most frequent hmac-sha256:7 (6)"), std::string::npos) << d;
  EXPECT_NE(d.find("2 without a fingerprinted credential"), std::string::npos)
      << d;
}

TEST_F(LedgerTest, AFailedSummaryWriteIsKeptAndWrittenLater) {
  RejectionLedger l = Make({.burst = 0, .window = seconds(10)});
  Send(l, "10.0.0.1", 30);
  sink.fail = true;
  EXPECT_EQ(l.Flush(), 0u);
  EXPECT_EQ(l.totals().unwritten, 30u);
  Send(l, "10.0.0.1", 12);
  sink.fail = false;
  EXPECT_EQ(l.Flush(), 2u);
  EXPECT_EQ(Summed(), 42);
  EXPECT_EQ(l.totals().unwritten, 0u);
}

TEST_F(LedgerTest, StopWritesTheOpenWindow) {
  RejectionLedger l = Make({.burst = 1, .window = seconds(3600)});
  l.Start();
  Send(l, "10.0.0.1", 25);
  l.Stop();
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].request_count, 24);
}

// The real store: summaries chain like any record; a log written before the
// request_count column existed still verifies, gains the column on open, and
// its old hashes do not move.
TEST(RequestCountColumnTest, OldLogsStayVerifiableAndSummariesChain) {
  const agni::testing::TempDir dir;
  const std::string tmpl = dir.path().string();
  const std::string db = tmpl + "/audit.db";
  std::vector<std::string> old_hashes;
  {
    audit::AuditStore store(audit::StoreOptions{db});
    for (int i = 0; i < 3; ++i) {
      audit::Record r;
      r.stage = audit::Stage::kDecision;
      r.decision = "deny";
      r.reason = "unauthenticated";
      r.request_id = "req-" + std::to_string(i);
      ASSERT_TRUE(store.Append(r).ok);
    }
  }
  {
    // What a log from before this column looks like.
    SQLite::Database raw(db, SQLite::OPEN_READWRITE);
    raw.exec("ALTER TABLE audit_records DROP COLUMN request_count");
    SQLite::Statement q(raw, "SELECT hash FROM audit_records ORDER BY seq");
    while (q.executeStep()) old_hashes.push_back(q.getColumn(0).getString());
  }
  EXPECT_EQ(audit::Verify({db, "", "", ""}).exit_code, audit::kVerifyOk);
  {
    audit::AuditStore store(audit::StoreOptions{db});
    Logger log(LogLevel::kError);
    RejectionLedger ledger({.burst = 0}, store, nullptr, log);
    for (int i = 0; i < 9; ++i)
      ledger.Admit("10.0.0.7", "unauthenticated", 401, "");
    EXPECT_EQ(ledger.Flush(), 1u);
  }
  const audit::VerifyReport report = audit::Verify({db, "", "", ""});
  EXPECT_EQ(report.exit_code, audit::kVerifyOk) << VerifyReportText(report);
  EXPECT_EQ(report.records, 4);
  SQLite::Database ro(db, SQLite::OPEN_READONLY);
  SQLite::Statement q(ro,
                      "SELECT hash, request_count, peer FROM audit_records "
                      "ORDER BY seq");
  for (std::size_t i = 0; q.executeStep(); ++i) {
    if (i < old_hashes.size()) {
      EXPECT_EQ(q.getColumn(0).getString(), old_hashes[i]);
      EXPECT_TRUE(q.getColumn(1).isNull());
    } else {
      EXPECT_EQ(q.getColumn(1).getInt64(), 9);
      EXPECT_EQ(q.getColumn(2).getString(), "10.0.0.7");
    }
  }
  // The export carries the column (CSV: a column of its own) and the JSONL
  // export verifies; policy replay does not take a summary for a decision.
  std::ostringstream csv;
  ASSERT_EQ(audit::Export({db, "csv", "", ""}, csv).exit_code, 0);
  EXPECT_NE(csv.str().find(",prev_hash,hash,request_count\r\n"),
            std::string::npos);
  EXPECT_NE(csv.str().find(",9\r\n"), std::string::npos);
  std::ostringstream jsonl;
  ASSERT_EQ(audit::Export({db, "jsonl", "", ""}, jsonl).exit_code, 0);
  EXPECT_NE(jsonl.str().find("\"request_count\":9"), std::string::npos);
  {
    std::ofstream out(tmpl + "/all.jsonl");
    out << jsonl.str();
  }
  EXPECT_EQ(audit::Verify({"", tmpl + "/all.jsonl", "", ""}).exit_code,
            audit::kVerifyOk);
  EXPECT_TRUE(audit::ReleaseDecisions(db).empty());
  // The independent verifier of audit/CHAIN.md accepts the log as it is.
  {
    std::ifstream doc(std::string(AGNI_SOURCE_DIR) + "/audit/CHAIN.md");
    std::stringstream text;
    text << doc.rdbuf();
    const std::string md = text.str();
    const std::size_t start =
        md.find("```python\n", md.find("## Example (Python)"));
    ASSERT_NE(start, std::string::npos);
    const std::size_t body = start + 10;
    const std::string script = md.substr(body, md.find("```", body) - body);
    std::ofstream(tmpl + "/verify.py") << script;
    const std::string cmd =
        "cd '" + tmpl + "' && python3 verify.py > out.txt 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    std::ifstream out(tmpl + "/out.txt");
    std::string first_line;
    std::getline(out, first_line);
    EXPECT_EQ(first_line, "chain OK");
  }
}

TEST(RequestCountColumnTest, CanonicalFormHasTheFieldOnlyWhenSet) {
  audit::Record r;
  r.stage = audit::Stage::kDecision;
  EXPECT_EQ(audit::CanonicalBytes(r).find("request_count"), std::string::npos);
  r.request_count = 12;
  EXPECT_NE(audit::CanonicalBytes(r).find("\"request_count\":12"),
            std::string::npos);
}

}  // namespace
}  // namespace agni
