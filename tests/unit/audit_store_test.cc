// The audit store is the gateway's evidence: when Append() says ok the record
// is on disk, chained to its predecessor, and can be neither changed nor
// removed; when the database cannot take it, Append() says so and nothing is
// half-written. Each test works on a real SQLite file in a fresh folder and
// checks what a second connection (an auditor) reads back.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "audit/read/query.h"
#include "audit/record.h"
#include "audit/record_io.h"
#include "audit/store.h"
#include "base/crypto.h"
#include "tests/support/temp_dir.h"

namespace agni::audit {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Records what the store reports; safe to call from any thread.
class TestObserver : public StoreObserver {
 public:
  void OnCommit(const std::vector<const Record*>& records,
                std::chrono::nanoseconds) override {
    std::lock_guard lock(mu_);
    commit_threads_.push_back(std::this_thread::get_id());
    batches_.push_back(records.size());
    for (const Record* r : records) committed_seqs_.push_back(r->seq);
  }
  void OnFailure(std::size_t records) override {
    std::lock_guard lock(mu_);
    failures_.push_back(records);
  }
  void OnQueueDepth(std::size_t depth) override {
    std::lock_guard lock(mu_);
    depths_.push_back(depth);
  }
  void OnBatchTaken(std::size_t) override {
    std::lock_guard lock(mu_);
    ++taken_;
  }

  std::vector<std::size_t> batches() const {
    std::lock_guard lock(mu_);
    return batches_;
  }
  // The thread each commit ran on.
  std::vector<std::thread::id> commit_threads() const {
    std::lock_guard lock(mu_);
    return commit_threads_;
  }
  std::vector<std::int64_t> committed_seqs() const {
    std::lock_guard lock(mu_);
    return committed_seqs_;
  }
  std::vector<std::size_t> failures() const {
    std::lock_guard lock(mu_);
    return failures_;
  }
  // Records reported failed, over every report.
  std::size_t failed_records() const {
    std::size_t n = 0;
    for (std::size_t f : failures()) n += f;
    return n;
  }
  // Appends that have been queued so far: the store reports the depth once
  // per append queued and once per batch taken (after OnBatchTaken).
  std::size_t queued() const {
    std::lock_guard lock(mu_);
    return depths_.size() - taken_;
  }
  // Times a leader took a batch off the queue.
  std::size_t taken() const {
    std::lock_guard lock(mu_);
    return taken_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::size_t> batches_;
  std::vector<std::int64_t> committed_seqs_;
  std::vector<std::size_t> failures_;
  std::vector<std::thread::id> commit_threads_;
  std::vector<std::size_t> depths_;
  std::size_t taken_ = 0;
};

// Polls `done` every millisecond for at most `limit`.
bool WaitFor(const std::function<bool()>& done,
             milliseconds limit = milliseconds(10'000)) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return done();
}

// Another process's connection holding the write lock, as a backup tool or a
// stuck writer would.
class WriteLockHolder {
 public:
  explicit WriteLockHolder(const std::string& path)
      : db_(path, SQLite::OPEN_READWRITE) {
    db_.exec("BEGIN EXCLUSIVE");
  }
  ~WriteLockHolder() { Release(); }
  void Release() {
    if (held_) db_.exec("ROLLBACK");
    held_ = false;
  }

 private:
  SQLite::Database db_;
  bool held_ = true;
};

StoreOptions Options(const std::string& path) {
  StoreOptions o;
  o.path = path;
  o.busy_timeout = milliseconds(5000);
  return o;
}

Record IntentRecord(const std::string& request_id, const std::string& number) {
  Record r;
  r.stage = Stage::kIntent;
  r.request_id = request_id;
  r.principal = "alice";
  r.groups = R"(["support"])";
  r.auth_method = "bearer";
  r.peer = "127.0.0.1";
  r.method = "DELETE";
  r.path = "/api/v1/phone-numbers/%2B" + number.substr(1) + "/release/";
  r.phone_number = number;
  r.decision = "allow";
  r.rule_id = "support-all";
  r.policy_hash = Sha256Hex("policy");
  return r;
}

Record DecisionRecord(const std::string& request_id) {
  Record r;
  r.stage = Stage::kDecision;
  r.request_id = request_id;
  r.decision = "deny";
  r.reason = "policy_denied";
  r.response_status = 403;
  return r;
}

std::int64_t ParseTimeUs(const std::string& text) {
  std::tm tm{};
  int micros = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ", &tm.tm_year,
                  &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                  &micros) != 7) {
    ADD_FAILURE() << "unparseable time " << text;
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1'000'000 + micros;
}

// One row of audit_records as an auditor reads it, with NULLs kept apart.
struct Row {
  Record record;  // rebuilt from the columns (NULL -> empty / nullopt)
  std::string time;
  std::set<std::string> null_columns;
};

std::vector<Row> ReadRows(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  SQLite::Statement q(db, "SELECT * FROM audit_records ORDER BY seq");
  std::vector<Row> rows;
  while (q.executeStep()) {
    Row row;
    for (int i = 0; i < q.getColumnCount(); ++i) {
      if (q.getColumn(i).isNull()) row.null_columns.insert(q.getColumnName(i));
    }
    auto text = [&](const char* name) {
      const SQLite::Column c = q.getColumn(name);
      return c.isNull() ? std::string() : c.getString();
    };
    auto int64 = [&](const char* name) -> std::optional<std::int64_t> {
      const SQLite::Column c = q.getColumn(name);
      if (c.isNull()) return std::nullopt;
      return c.getInt64();
    };
    auto int32 = [&](const char* name) -> std::optional<int> {
      const SQLite::Column c = q.getColumn(name);
      if (c.isNull()) return std::nullopt;
      return c.getInt();
    };
    Record& r = row.record;
    r.seq = q.getColumn("seq").getInt64();
    row.time = text("time");
    r.time_us = ParseTimeUs(row.time);
    r.prev_hash = text("prev_hash");
    r.hash = text("hash");
    r.stage = ParseStage(text("stage"));
    r.request_id = text("request_id");
    r.principal = text("principal");
    r.groups = text("groups");
    r.auth_method = text("auth_method");
    r.peer = text("peer");
    r.method = text("method");
    r.path = text("path");
    r.phone_number = text("phone_number");
    r.decision = text("decision");
    r.rule_id = text("rule_id");
    r.reason = text("reason");
    r.approval_id = text("approval_id");
    r.policy_hash = text("policy_hash");
    r.shadow = text("shadow");
    r.intent_seq = int64("intent_seq");
    r.upstream_status = int32("upstream_status");
    r.upstream_latency_us = int64("upstream_latency_us");
    r.response_status = int32("response_status");
    r.outcome = text("outcome");
    r.detail = text("detail");
    r.request_count = int64("request_count");
    rows.push_back(std::move(row));
  }
  return rows;
}

std::int64_t CountRows(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  return db.execAndGet("SELECT count(*) FROM audit_records").getInt64();
}

// What `audit verify` checks: gapless seq from 1, each prev_hash the previous
// hash (the first the genesis hash), each hash recomputable from the row.
void ExpectValidChain(const std::vector<Row>& rows) {
  std::string prev(kGenesisHash);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Record& r = rows[i].record;
    SCOPED_TRACE("seq " + std::to_string(r.seq));
    EXPECT_EQ(r.seq, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(r.prev_hash, prev);
    EXPECT_EQ(FormatTime(r.time_us), rows[i].time);
    EXPECT_EQ(r.hash, ChainHash(r));
    EXPECT_EQ(r.hash, Sha256Hex(r.prev_hash + CanonicalBytes(r)));
    prev = r.hash;
  }
}

// --- appending and reading back ----------------------------------------------

// Starts one caller thread per element of `results`, the i-th appending
// DecisionRecord("req-<i>") into results[i]. The caller joins them.
std::vector<std::jthread> AppendConcurrently(
    AuditStore& store, std::vector<AppendResult>& results) {
  std::vector<std::jthread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&store, &results, i] {
      results[i] = store.Append(DecisionRecord("req-" + std::to_string(i)));
    });
  }
  return threads;
}

// Every store test starts in an empty folder with an observer at hand.
class AuditStoreTest : public ::testing::Test {
 protected:
  // A leader has taken its batch (CommitInProgress: and waits for the lock).
  bool LeaderTookItsBatch() {
    return WaitFor([&] { return observer.taken() >= 1; });
  }

  testing::TempDir dir;
  const std::string db = dir.File("audit.db");
  TestObserver observer;
};

TEST_F(AuditStoreTest, AppendReturnsGaplessIncreasingSeqAndIsDurableOnReturn) {
  AuditStore store(Options(db));
  EXPECT_TRUE(store.Healthy());
  EXPECT_EQ(store.recovered_intents(), 0u);
  for (int i = 1; i <= 5; ++i) {
    const AppendResult r =
        store.Append(DecisionRecord("req-" + std::to_string(i)));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.seq, i);
    EXPECT_TRUE(r.error.empty());
    // Another connection sees the record as soon as Append returns.
    EXPECT_EQ(CountRows(db), i);
  }
}

TEST_F(AuditStoreTest, RecordFieldsAreStoredAndEmptyFieldsAreNull) {
  const std::int64_t now_us = 1'700'000'000'123'456;  // 2023-11-14T22:13:20Z
  {
    AuditStore store(Options(db), nullptr, [&] { return now_us; });
    Record full = IntentRecord("req-full", "+14155550100");
    full.stage = Stage::kOutcome;
    full.reason = "released";
    full.approval_id = "apr_123";
    full.shadow = "deny:try-deny";
    full.intent_seq = 7;
    full.upstream_status = 200;
    full.upstream_latency_us = 123'456;
    full.response_status = 200;
    full.outcome = "released";
    full.detail = "ok";
    full.request_count = 3;  // only summaries carry it; stored like any field
    ASSERT_TRUE(store.Append(full).ok);
    Record minimal;
    minimal.stage = Stage::kDecision;
    ASSERT_TRUE(store.Append(minimal).ok);
  }
  const std::vector<Row> rows = ReadRows(db);
  ASSERT_EQ(rows.size(), 2u);

  const Row& f = rows[0];
  EXPECT_EQ(f.time, "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(f.record.stage, Stage::kOutcome);
  EXPECT_EQ(f.record.request_id, "req-full");
  EXPECT_EQ(f.record.principal, "alice");
  EXPECT_EQ(f.record.groups, R"(["support"])");
  EXPECT_EQ(f.record.auth_method, "bearer");
  EXPECT_EQ(f.record.peer, "127.0.0.1");
  EXPECT_EQ(f.record.method, "DELETE");
  EXPECT_EQ(f.record.path, "/api/v1/phone-numbers/%2B14155550100/release/");
  EXPECT_EQ(f.record.phone_number, "+14155550100");
  EXPECT_EQ(f.record.decision, "allow");
  EXPECT_EQ(f.record.rule_id, "support-all");
  EXPECT_EQ(f.record.reason, "released");
  EXPECT_EQ(f.record.approval_id, "apr_123");
  EXPECT_EQ(f.record.policy_hash, Sha256Hex("policy"));
  EXPECT_EQ(f.record.shadow, "deny:try-deny");
  EXPECT_EQ(f.record.intent_seq, 7);
  EXPECT_EQ(f.record.upstream_status, 200);
  EXPECT_EQ(f.record.upstream_latency_us, 123'456);
  EXPECT_EQ(f.record.response_status, 200);
  EXPECT_EQ(f.record.outcome, "released");
  EXPECT_EQ(f.record.detail, "ok");
  EXPECT_EQ(f.record.request_count, 3);
  EXPECT_TRUE(f.null_columns.empty())
      << "unexpected NULL in " << *f.null_columns.begin();

  const std::set<std::string> all_optional = {"request_id",
                                              "principal",
                                              "groups",
                                              "auth_method",
                                              "peer",
                                              "method",
                                              "path",
                                              "phone_number",
                                              "decision",
                                              "rule_id",
                                              "reason",
                                              "approval_id",
                                              "policy_hash",
                                              "shadow",
                                              "intent_seq",
                                              "upstream_status",
                                              "upstream_latency_us",
                                              "response_status",
                                              "outcome",
                                              "detail",
                                              "request_count"};
  EXPECT_EQ(rows[1].null_columns, all_optional);
  EXPECT_EQ(rows[1].record.stage, Stage::kDecision);
  EXPECT_EQ(rows[1].record.seq, 2);
}

TEST_F(AuditStoreTest, ZeroValuedNumbersAreStoredAsZeroNotNull) {
  {
    AuditStore store(Options(db));
    Record r;
    r.stage = Stage::kOutcome;
    r.upstream_status = 0;
    r.upstream_latency_us = 0;
    ASSERT_TRUE(store.Append(r).ok);
  }
  const std::vector<Row> rows = ReadRows(db);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].record.upstream_status, 0);
  EXPECT_EQ(rows[0].record.upstream_latency_us, 0);
  EXPECT_EQ(rows[0].null_columns.count("upstream_status"), 0u);
}

TEST_F(AuditStoreTest, EveryRecordIsChainedToItsPredecessor) {
  std::vector<AppendResult> results;
  {
    AuditStore store(Options(db));
    results.push_back(store.Append(DecisionRecord("req-1")));
    results.push_back(store.Append(IntentRecord("req-2", "+14155550100")));
    Record outcome = IntentRecord("req-2", "+14155550100");
    outcome.stage = Stage::kOutcome;
    outcome.intent_seq = 2;
    outcome.upstream_status = 200;
    outcome.upstream_latency_us = 81'234;
    outcome.response_status = 200;
    outcome.outcome = "released";
    results.push_back(store.Append(outcome));
    // Text the canonical form must escape: quotes, backslashes, non-ASCII,
    // control characters.
    Record odd = DecisionRecord("req-\"4\"\\");
    odd.detail = "caf\xc3\xa9 \xe2\x98\x8e\n\ttab";
    odd.principal = "O'Brien";
    results.push_back(store.Append(odd));
  }
  for (const auto& r : results) ASSERT_TRUE(r.ok) << r.error;
  const std::vector<Row> rows = ReadRows(db);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].record.prev_hash, kGenesisHash);
  EXPECT_EQ(rows[1].record.prev_hash, rows[0].record.hash);
  EXPECT_EQ(rows[3].record.detail, "caf\xc3\xa9 \xe2\x98\x8e\n\ttab");
  ExpectValidChain(rows);
  std::set<std::string> hashes;
  for (const auto& row : rows) hashes.insert(row.record.hash);
  EXPECT_EQ(hashes.size(), rows.size());
}

TEST_F(AuditStoreTest, ReopeningContinuesSeqAndChain) {
  {
    AuditStore store(Options(db));
    ASSERT_TRUE(store.Append(DecisionRecord("a")).ok);
    ASSERT_TRUE(store.Append(DecisionRecord("b")).ok);
  }
  {
    AuditStore store(Options(db));
    const AppendResult r = store.Append(DecisionRecord("c"));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.seq, 3);
  }
  const std::vector<Row> rows = ReadRows(db);
  ASSERT_EQ(rows.size(), 3u);
  ExpectValidChain(rows);
}

// The statistics ANALYZE sampled on a log of a million records (the gateway
// runs ANALYZE at start). With them the planner answered "ORDER BY seq DESC
// LIMIT 1" by sorting the whole request_id index, about 110 ms paid by every
// commit. The head and the first record must stay primary-key lookups.
TEST_F(AuditStoreTest, TheHeadIsAKeyLookupUnderTheStatisticsOfALargeLog) {
  {
    AuditStore store(Options(db));
    ASSERT_TRUE(store.Append(DecisionRecord("a")).ok);
  }
  // What serve prepares for the read side (query indexes, ANALYZE), then the
  // statistics as they were sampled on that log.
  PrepareReadSide(db);
  {
    SQLite::Database raw(db, SQLite::OPEN_READWRITE);
    raw.exec("DELETE FROM sqlite_stat1");
    raw.exec(
        "INSERT INTO sqlite_stat1 VALUES "
        "('audit_probe', NULL, '1'), ('audit_checkpoints', NULL, '26'), "
        "('audit_intents_closed', NULL, '1'), "
        "('audit_records', 'audit_records_by_decision', '1201980 1001 1'), "
        "('audit_records', 'audit_records_by_request', '547008 2'), "
        "('audit_records', 'audit_records_by_principal', '1181600 334 1'), "
        "('audit_records', 'audit_records_by_number', '2033292 15 1'), "
        "('audit_records', 'audit_records_by_intent', '240975 1')");
  }
  SQLite::Database raw(db, SQLite::OPEN_READONLY);
  auto plan = [&](const std::string& sql) {
    std::string text;
    SQLite::Statement q(raw, "EXPLAIN QUERY PLAN " + sql);
    while (q.executeStep()) text += q.getColumn(3).getString() + "\n";
    return text;
  };
  // The statistics do mislead the usual form of the query.
  const std::string usual = plan(
      "SELECT seq, hash, time FROM audit_records ORDER BY seq DESC LIMIT 1");
  EXPECT_NE(usual.find("TEMP B-TREE"), std::string::npos) << usual;
  for (const char* sql : {kNewestRecordSql, kOldestRecordSql}) {
    const std::string p = plan(sql);
    EXPECT_EQ(p.find("TEMP B-TREE"), std::string::npos) << sql << "\n" << p;
    EXPECT_EQ(p.find("SCAN"), std::string::npos) << sql << "\n" << p;
  }
  AuditStore store(Options(db));
  const AppendResult r = store.Append(DecisionRecord("b"));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.seq, 2);
  ExpectValidChain(ReadRows(db));
}

TEST_F(AuditStoreTest, ObserverSeesCommittedRecordsWithTheirSeq) {
  AuditStore store(Options(dir.File("audit.db")), &observer);
  ASSERT_TRUE(store.Append(DecisionRecord("a")).ok);
  ASSERT_TRUE(store.Append(DecisionRecord("b")).ok);
  EXPECT_EQ(observer.committed_seqs(), (std::vector<std::int64_t>{1, 2}));
  EXPECT_TRUE(observer.failures().empty());
}

// --- tamper resistance -------------------------------------------------------

TEST_F(AuditStoreTest, UpdateAndDeleteAreRejectedAsAppendOnly) {
  AuditStore store(Options(db));
  ASSERT_TRUE(store.Append(IntentRecord("req-1", "+14155550100")).ok);
  ASSERT_TRUE(store.Append(DecisionRecord("req-2")).ok);
  const std::vector<Row> before = ReadRows(db);

  SQLite::Database other(db, SQLite::OPEN_READWRITE);
  other.setBusyTimeout(5000);
  for (const std::string sql :
       {"UPDATE audit_records SET decision = 'deny' WHERE seq = 1",
        "UPDATE audit_records SET hash = 'x'",
        "DELETE FROM audit_records WHERE seq = 2",
        "DELETE FROM audit_records"}) {
    SCOPED_TRACE(sql);
    try {
      other.exec(sql);
      ADD_FAILURE() << "statement succeeded";
    } catch (const SQLite::Exception& e) {
      EXPECT_NE(std::string(e.what()).find("append-only"), std::string::npos)
          << e.what();
    }
  }
  const std::vector<Row> after = ReadRows(db);
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].record.hash, before[i].record.hash);
    EXPECT_EQ(after[i].record.decision, before[i].record.decision);
  }
  // And the store keeps appending after the attempts.
  const AppendResult r = store.Append(DecisionRecord("req-3"));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.seq, 3);
}

TEST_F(AuditStoreTest, DatabaseIsInWalMode) {
  AuditStore store(Options(db));
  SQLite::Database other(db, SQLite::OPEN_READONLY);
  EXPECT_EQ(other.execAndGet("PRAGMA journal_mode").getString(), "wal");
}

TEST_F(AuditStoreTest, UnopenableDatabaseThrowsAReadableError) {
  const std::string db = dir.File("no-such-dir/audit.db");
  try {
    AuditStore store(Options(db));
    ADD_FAILURE() << "opened " << db;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(db), std::string::npos) << e.what();
  }
}

TEST_F(AuditStoreTest, AFileThatIsNotADatabaseIsRefused) {
  {
    std::FILE* f = std::fopen(db.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const std::string junk(8192, 'x');
    std::fwrite(junk.data(), 1, junk.size(), f);
    std::fclose(f);
  }
  EXPECT_THROW(AuditStore store(Options(db)), std::runtime_error);
}

// --- group commit ------------------------------------------------------------

TEST_F(AuditStoreTest, ConcurrentAppendsShareCommitsAndGetDistinctGaplessSeqs) {
  StoreOptions options = Options(db);
  options.busy_timeout = milliseconds(10'000);
  AuditStore store(options, &observer);

  // Hold the write lock so that all appends are queued before any commits;
  // batching then does not depend on thread scheduling.
  WriteLockHolder lock(db);
  constexpr int kThreads = 64;
  std::vector<AppendResult> results(kThreads);
  std::vector<std::jthread> threads = AppendConcurrently(store, results);
  ASSERT_TRUE(WaitFor([&] { return observer.queued() == kThreads; }))
      << observer.queued() << " of " << kThreads << " queued";
  lock.Release();
  for (auto& t : threads) t.join();

  std::set<std::int64_t> seqs;
  for (const auto& r : results) {
    EXPECT_TRUE(r.ok) << r.error;
    seqs.insert(r.seq);
  }
  EXPECT_EQ(seqs.size(), static_cast<std::size_t>(kThreads));
  EXPECT_EQ(*seqs.begin(), 1);
  EXPECT_EQ(*seqs.rbegin(), kThreads);

  const std::vector<std::size_t> batches = observer.batches();
  std::size_t total = 0;
  for (std::size_t b : batches) total += b;
  EXPECT_EQ(total, static_cast<std::size_t>(kThreads));
  EXPECT_LT(batches.size(), static_cast<std::size_t>(kThreads));
  EXPECT_GT(*std::max_element(batches.begin(), batches.end()), 1u);
  // At most the batch taken before the lock and the one queued behind it.
  EXPECT_LE(batches.size(), 2u);
  EXPECT_TRUE(observer.failures().empty());

  const std::vector<Row> rows = ReadRows(db);
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(kThreads));
  ExpectValidChain(rows);
}

TEST_F(AuditStoreTest, ALoneAppendIsCommittedOnTheCallersOwnThread) {
  // No hand-off to a writer thread and back: a lone request pays its fsync
  // and not two thread wake-ups besides (issue 20).
  AuditStore store(Options(db), &observer);
  for (int i = 0; i < 3; ++i) {
    const AppendResult r =
        store.Append(DecisionRecord("alone-" + std::to_string(i)));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.seq, i + 1);
  }
  EXPECT_TRUE(store.Probe());
  const std::vector<std::thread::id> threads = observer.commit_threads();
  ASSERT_EQ(threads.size(), 3u);  // the probe is not a record
  for (const std::thread::id& t : threads) {
    EXPECT_EQ(t, std::this_thread::get_id());
  }
  EXPECT_EQ(observer.batches(), (std::vector<std::size_t>{1, 1, 1}));
  ExpectValidChain(ReadRows(db));
}

// --- WAL checkpoints (issue 20)
// -----------------------------------------------

// Frames in the WAL file as it stands (it is reused from its start after a
// checkpoint, never truncated, so this is the most it ever held).
std::uintmax_t WalFrames(const std::string& db) {
  const std::uintmax_t size = fs::file_size(db + "-wal");
  constexpr std::uintmax_t kHeader = 32, kFrame = 24 + 4096;
  return size <= kHeader ? 0 : (size - kHeader) / kFrame;
}

TEST_F(AuditStoreTest, TheWalIsCheckpointedInTheBackgroundAndRestarts) {
  // SQLite's own checkpoint ran inside the commit that crossed 1000 frames,
  // so one caller in a few hundred waited for it (the 1-connection p99).
  // Here it runs off the commit path, every `checkpoint_frames`, and the
  // WAL still restarts from its beginning instead of growing.
  StoreOptions options = Options(db);
  options.checkpoint_frames = 40;
  AuditStore store(options, &observer);
  constexpr int kRecords = 600;  // several frames each: thousands in all
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_TRUE(store.Append(DecisionRecord("ck-" + std::to_string(i))).ok);
  }
  ASSERT_TRUE(WaitFor([&] { return store.background_checkpoints() >= 3; }))
      << store.background_checkpoints();
  // Without a restart the WAL would hold every frame of the 600 commits.
  EXPECT_LT(WalFrames(db), 400u) << "the WAL grew instead of restarting";
  const std::vector<Row> rows = ReadRows(db);
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(kRecords));
  ExpectValidChain(rows);
}

TEST_F(AuditStoreTest, ConcurrentAppendsAcrossCheckpointsStayChained) {
  StoreOptions options = Options(db);
  options.checkpoint_frames = 16;
  {
    AuditStore store(options, &observer);
    std::vector<std::jthread> threads;
    std::atomic<int> failed{0};
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&store, &failed, t] {
        for (int i = 0; i < 40; ++i) {
          const std::string id = std::to_string(t) + "-" + std::to_string(i);
          if (!store.Append(DecisionRecord(id)).ok) ++failed;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_GE(store.background_checkpoints(), 1u);
  }  // closed: the checkpointer is stopped and joined
  const std::vector<Row> rows = ReadRows(db);
  ASSERT_EQ(rows.size(), 320u);
  ExpectValidChain(rows);
  AuditStore reopened(options);
  const AppendResult next = reopened.Append(DecisionRecord("after"));
  ASSERT_TRUE(next.ok) << next.error;
  EXPECT_EQ(next.seq, 321);
}

TEST_F(AuditStoreTest, NoBatchIsLargerThanMaxBatch) {
  StoreOptions options = Options(db);
  options.busy_timeout = milliseconds(10'000);
  options.max_batch = 4;
  AuditStore store(options, &observer);

  WriteLockHolder lock(db);
  constexpr int kThreads = 10;
  std::vector<AppendResult> results(kThreads);
  std::vector<std::jthread> threads = AppendConcurrently(store, results);
  ASSERT_TRUE(WaitFor([&] { return observer.queued() == kThreads; }));
  lock.Release();
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_TRUE(r.ok) << r.error;

  const std::vector<std::size_t> batches = observer.batches();
  std::size_t total = 0;
  for (std::size_t b : batches) {
    EXPECT_LE(b, 4u);
    total += b;
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kThreads));
  EXPECT_EQ(CountRows(db), kThreads);
}

// --- failing closed ----------------------------------------------------------

TEST_F(AuditStoreTest, LockedDatabaseFailsTheAppendAndWritesNothing) {
  StoreOptions options = Options(db);
  options.busy_timeout = milliseconds(100);
  AuditStore store(options, &observer);
  const AppendResult first = store.Append(DecisionRecord("before"));
  ASSERT_TRUE(first.ok) << first.error;
  ASSERT_EQ(first.seq, 1);

  {
    WriteLockHolder lock(db);
    const auto started = Clock::now();
    const AppendResult r = store.Append(DecisionRecord("while-locked"));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.seq, 0);
    EXPECT_FALSE(r.error.empty());
    EXPECT_LT(Clock::now() - started, milliseconds(5000));
    EXPECT_FALSE(store.Healthy());
    EXPECT_EQ(observer.failures(), std::vector<std::size_t>{1});
    lock.Release();
  }
  EXPECT_EQ(CountRows(db), 1);

  const AppendResult next = store.Append(DecisionRecord("after"));
  ASSERT_TRUE(next.ok) << next.error;
  EXPECT_EQ(next.seq, 2) << "the failed record must not leave a gap";
  EXPECT_TRUE(store.Healthy());

  const std::vector<Row> rows = ReadRows(db);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].record.request_id, "before");
  EXPECT_EQ(rows[1].record.request_id, "after");
  ExpectValidChain(rows);
}

TEST_F(AuditStoreTest, ProbeRestoresHealthWithoutWritingARecord) {
  // Readiness must recover once the database is writable again even when no
  // traffic arrives to prove it (a load balancer stops sending to an unready
  // instance).
  StoreOptions options = Options(db);
  options.busy_timeout = milliseconds(100);
  AuditStore store(options, &observer);
  {
    WriteLockHolder lock(db);
    EXPECT_FALSE(store.Append(DecisionRecord("while-locked")).ok);
    EXPECT_FALSE(store.Probe());
    EXPECT_FALSE(store.Healthy());
    lock.Release();
  }
  EXPECT_TRUE(store.Probe());
  EXPECT_TRUE(store.Healthy());
  EXPECT_EQ(CountRows(db), 0);
  EXPECT_EQ(observer.failures(), std::vector<std::size_t>{1});
}

TEST_F(AuditStoreTest, LockedDatabaseFailsEveryRecordOfTheBatch) {
  StoreOptions options = Options(db);
  options.busy_timeout = milliseconds(100);
  AuditStore store(options, &observer);

  WriteLockHolder lock(db);
  std::vector<AppendResult> results(8);
  std::vector<std::jthread> threads = AppendConcurrently(store, results);
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_FALSE(r.ok);
  EXPECT_EQ(observer.failed_records(), 8u);
  EXPECT_FALSE(store.Healthy());
  lock.Release();

  EXPECT_EQ(CountRows(db), 0);
  const AppendResult r = store.Append(DecisionRecord("after"));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.seq, 1);
  EXPECT_TRUE(store.Healthy());
  ExpectValidChain(ReadRows(db));
}

TEST_F(AuditStoreTest, FullQueueRefusesImmediatelyInsteadOfWaiting) {
  StoreOptions options = Options(db);
  options.busy_timeout = milliseconds(10'000);
  options.max_queue = 1;
  AuditStore store(options, &observer);

  WriteLockHolder lock(db);
  AppendResult in_flight, queued;
  std::jthread a(
      [&] { in_flight = store.Append(DecisionRecord("in-flight")); });
  // The first caller leads: it takes its record and waits for the lock...
  ASSERT_TRUE(LeaderTookItsBatch());
  std::jthread b([&] { queued = store.Append(DecisionRecord("queued")); });
  // ...the second fills the one queue slot...
  ASSERT_TRUE(WaitFor([&] { return observer.queued() == 2; }));

  // ...so the third is refused at once, not after the busy timeout.
  const auto started = Clock::now();
  const AppendResult refused = store.Append(DecisionRecord("refused"));
  EXPECT_LT(Clock::now() - started, milliseconds(2000));
  EXPECT_FALSE(refused.ok);
  EXPECT_NE(refused.error.find("full"), std::string::npos) << refused.error;
  EXPECT_EQ(observer.failures(), std::vector<std::size_t>{1});

  lock.Release();
  a.join();
  b.join();
  EXPECT_TRUE(in_flight.ok) << in_flight.error;
  EXPECT_TRUE(queued.ok) << queued.error;
  EXPECT_EQ(in_flight.seq, 1);
  EXPECT_EQ(queued.seq, 2);
  const std::vector<Row> rows = ReadRows(db);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) EXPECT_NE(row.record.request_id, "refused");
  ExpectValidChain(rows);
}

// --- recovery and shutdown ---------------------------------------------------

TEST_F(AuditStoreTest, IntentWithoutOutcomeIsClosedAsUnknownOnceAtReopen) {
  std::int64_t orphan_seq = 0;
  {
    AuditStore store(Options(db));
    // A completed release: intent plus outcome, must not be touched.
    const AppendResult done =
        store.Append(IntentRecord("req-done", "+14155550101"));
    ASSERT_TRUE(done.ok);
    Record outcome = IntentRecord("req-done", "+14155550101");
    outcome.stage = Stage::kOutcome;
    outcome.intent_seq = done.seq;
    outcome.outcome = "released";
    ASSERT_TRUE(store.Append(outcome).ok);
    // The gateway then "crashes" between intent and outcome.
    const AppendResult orphan =
        store.Append(IntentRecord("req-orphan", "+14155550100"));
    ASSERT_TRUE(orphan.ok);
    orphan_seq = orphan.seq;
    ASSERT_TRUE(store.Append(DecisionRecord("req-later")).ok);
  }
  {
    AuditStore store(Options(db));
    EXPECT_EQ(store.recovered_intents(), 1u);
    // New records follow the recovery record.
    const AppendResult r = store.Append(DecisionRecord("req-after-restart"));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.seq, 6);
  }
  {
    AuditStore store(Options(db));
    EXPECT_EQ(store.recovered_intents(), 0u) << "recovered twice";
  }

  const std::vector<Row> rows = ReadRows(db);
  ASSERT_EQ(rows.size(), 6u);
  std::vector<const Record*> closing;
  for (const auto& row : rows) {
    if (row.record.stage == Stage::kOutcome &&
        row.record.intent_seq == orphan_seq) {
      closing.push_back(&row.record);
    }
  }
  ASSERT_EQ(closing.size(), 1u);
  const Record& c = *closing[0];
  EXPECT_EQ(c.seq, 5);
  EXPECT_EQ(c.outcome, "unknown");
  EXPECT_EQ(c.request_id, "req-orphan");
  EXPECT_EQ(c.principal, "alice");
  EXPECT_EQ(c.phone_number, "+14155550100");
  EXPECT_EQ(c.method, "DELETE");
  EXPECT_EQ(c.rule_id, "support-all");
  EXPECT_EQ(c.policy_hash, Sha256Hex("policy"));
  EXPECT_FALSE(c.upstream_status.has_value());
  EXPECT_FALSE(c.detail.empty());
  ExpectValidChain(rows);
}

TEST_F(AuditStoreTest, SeveralOrphanedIntentsAreAllRecovered) {
  {
    AuditStore store(Options(db));
    ASSERT_TRUE(store.Append(IntentRecord("r1", "+14155550100")).ok);
    ASSERT_TRUE(store.Append(IntentRecord("r2", "+14155550101")).ok);
    ASSERT_TRUE(store.Append(IntentRecord("r3", "+14155550102")).ok);
  }
  AuditStore store(Options(db));
  EXPECT_EQ(store.recovered_intents(), 3u);
  const std::vector<Row> rows = ReadRows(db);
  ASSERT_EQ(rows.size(), 6u);
  for (int i = 3; i < 6; ++i) {
    EXPECT_EQ(rows[i].record.outcome, "unknown");
    EXPECT_EQ(rows[i].record.intent_seq, i - 2);
  }
  ExpectValidChain(rows);
}

// Starts Close() on its own thread and returns once it has begun: an Append
// (DecisionRecord "probe") is refused as "closed". With the queue full, the
// probes before that are refused at once as "full", so none is queued.
std::jthread StartClosing(AuditStore& store) {
  std::jthread closer([&store] { store.Close(); });
  EXPECT_TRUE(WaitFor([&] {
    return store.Append(DecisionRecord("probe")).error.find("closed") !=
           std::string::npos;
  }));
  return closer;
}

TEST_F(AuditStoreTest, CloseCommitsQueuedRecordsThenRefusesNewOnes) {
  StoreOptions options = Options(db);
  options.busy_timeout = milliseconds(10'000);
  options.max_queue = 2;
  AuditStore store(options, &observer);

  WriteLockHolder lock(db);
  std::vector<AppendResult> results(3);
  std::vector<std::jthread> threads;
  threads.emplace_back(
      [&] { results[0] = store.Append(DecisionRecord("r0")); });
  ASSERT_TRUE(LeaderTookItsBatch());
  for (int i = 1; i < 3; ++i) {
    threads.emplace_back([&, i] {
      results[i] = store.Append(DecisionRecord("r" + std::to_string(i)));
    });
  }
  // One record is with its leader and two wait in the (full) queue.
  ASSERT_TRUE(WaitFor([&] { return observer.queued() == 3; }));

  // While the queue is full an Append is refused at once as "full"; once
  // Close() has begun it is refused as "closed". Neither is queued.
  std::jthread closer = StartClosing(store);
  lock.Release();
  closer.join();
  for (auto& t : threads) t.join();

  std::set<std::int64_t> seqs;
  for (const auto& r : results) {
    EXPECT_TRUE(r.ok) << r.error;
    seqs.insert(r.seq);
  }
  EXPECT_EQ(seqs, (std::set<std::int64_t>{1, 2, 3}));

  const AppendResult after = store.Append(DecisionRecord("after-close"));
  EXPECT_FALSE(after.ok);
  EXPECT_NE(after.error.find("closed"), std::string::npos) << after.error;
  store.Close();  // a second Close is harmless

  const std::vector<Row> rows = ReadRows(db);
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows) {
    EXPECT_NE(row.record.request_id, "probe");
    EXPECT_NE(row.record.request_id, "after-close");
  }
  ExpectValidChain(rows);
}

// --- AppendThen: committed without the caller waiting ----------------------

// What one AppendThen() callback saw. Thread-safe.
class Callback {
 public:
  explicit Callback(std::string db) : db_(std::move(db)) {}
  std::function<void(AppendResult)> Function() {
    return [this](AppendResult r) {
      // What an auditor reads at the moment of the call.
      const std::int64_t rows = CountRows(db_);
      std::lock_guard lock(mu_);
      result_ = std::move(r);
      rows_seen_ = rows;
      thread_ = std::this_thread::get_id();
      ++calls_;
    };
  }
  int calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  AppendResult result() const {
    std::lock_guard lock(mu_);
    return result_;
  }
  std::int64_t rows_seen() const {
    std::lock_guard lock(mu_);
    return rows_seen_;
  }
  std::thread::id thread() const {
    std::lock_guard lock(mu_);
    return thread_;
  }

 private:
  const std::string db_;
  mutable std::mutex mu_;
  int calls_ = 0;
  AppendResult result_;
  std::int64_t rows_seen_ = -1;
  std::thread::id thread_;
};

// A caller appending DecisionRecord("leader") on its own thread: with the
// write lock held by the test, its commit stays in progress (once
// `observer.taken()` counts it) until the lock goes.
class LeaderThread {
 public:
  explicit LeaderThread(AuditStore& store)
      : thread_([this, &store] {
          id_ = std::this_thread::get_id();
          result_ = store.Append(DecisionRecord("leader"));
        }) {}
  // Waits for the caller; its Append()'s result.
  AppendResult Join() {
    if (thread_.joinable()) thread_.join();
    return result_;
  }
  std::thread::id id() const { return id_; }  // after Join()

 private:
  AppendResult result_;
  std::thread::id id_;
  std::jthread thread_;  // last: started once the rest exists
};

// A store whose first commit is in progress: a LeaderThread's Append() takes
// its batch and waits for the test's write lock, up to the options'
// busy_timeout (AuditStoreTest::LeaderTookItsBatch() tells when).
struct CommitInProgress {
  CommitInProgress(const StoreOptions& options, TestObserver* observer)
      : store(options, observer), lock(options.path), leader(store) {}
  AuditStore store;
  WriteLockHolder lock;
  LeaderThread leader;  // last: starts once the lock is held
};

StoreOptions WithBusyTimeout(const std::string& path, milliseconds timeout) {
  StoreOptions o = Options(path);
  o.busy_timeout = timeout;
  return o;
}

TEST_F(AuditStoreTest, AppendThenOnAnIdleStoreCommitsAndCallsBackBeforeReturn) {
  AuditStore store(Options(db), &observer);
  Callback done(db);
  store.AppendThen(DecisionRecord("lone"), done.Function());
  ASSERT_EQ(done.calls(), 1);
  EXPECT_TRUE(done.result().ok) << done.result().error;
  EXPECT_EQ(done.result().seq, 1);
  EXPECT_EQ(done.rows_seen(), 1);  // durable before the callback
  EXPECT_EQ(done.thread(), std::this_thread::get_id());
  ExpectValidChain(ReadRows(db));
}

TEST_F(AuditStoreTest, AppendThenDuringACommitReturnsAtOnceAndCallsBackAfter) {
  CommitInProgress commit(WithBusyTimeout(db, milliseconds(10'000)), &observer);
  auto& [store, lock, leader] = commit;
  ASSERT_TRUE(LeaderTookItsBatch());

  Callback done(db);
  store.AppendThen(DecisionRecord("not-waited-for"), done.Function());
  // Returned while the commit in progress still waits: nothing called yet.
  EXPECT_EQ(done.calls(), 0);
  EXPECT_EQ(CountRows(db), 0);

  lock.Release();
  const AppendResult first = leader.Join();
  ASSERT_TRUE(first.ok) << first.error;
  EXPECT_EQ(first.seq, 1);
  ASSERT_TRUE(WaitFor([&] { return done.calls() == 1; }));
  EXPECT_TRUE(done.result().ok) << done.result().error;
  EXPECT_EQ(done.result().seq, 2);
  EXPECT_EQ(done.rows_seen(), 2);  // durable before the callback
  // Committed neither on the caller's thread nor by the waiting caller that
  // led the batch before it (that caller is not kept for records not its
  // own).
  EXPECT_NE(done.thread(), std::this_thread::get_id());
  EXPECT_NE(done.thread(), leader.id());
  store.Close();
  EXPECT_EQ(done.calls(), 1);
  ExpectValidChain(ReadRows(db));
}

// Holds the thread that commits the record "gate" in OnCommit() until
// Open(): the committer, paused between a batch and the next.
class GateObserver : public TestObserver {
 public:
  void OnCommit(const std::vector<const Record*>& records,
                std::chrono::nanoseconds took) override {
    TestObserver::OnCommit(records, took);
    if (records.size() != 1 || records[0]->request_id != "gate") return;
    std::unique_lock lock(mu_);
    reached_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  bool reached() const {
    std::lock_guard lock(mu_);
    return reached_;
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool reached_ = false;
  bool open_ = false;
};

TEST_F(AuditStoreTest, TheCommitterKeepsTheLeadForTheCallersQueuedBehindIt) {
  // Handing the lead to a sleeping caller left the log idle until that
  // thread ran again: a fifth of each commit's cycle for releases at 32
  // connections (issue 20). Once the committer leads, it commits whatever
  // is queued next, and its callers are woken with their results.
  GateObserver gate;
  StoreOptions options = WithBusyTimeout(db, milliseconds(10'000));
  CommitInProgress commit(options, &gate);
  // Named, not bound (`auto& [...]`): the lambdas below capture the store.
  AuditStore& store = commit.store;
  LeaderThread& leader = commit.leader;
  ASSERT_TRUE(WaitFor([&] { return gate.taken() == 1; }));
  Callback gated(db);
  AppendResult waited;
  std::thread::id waiter_id;
  std::jthread waiter;
  // Whatever fails below, the committer goes on and the store closes
  // before the waiter is joined and the callback's target goes.
  const std::shared_ptr<void> open_at_exit(nullptr, [&](void*) {
    gate.Open();
    store.Close();
  });
  store.AppendThen(DecisionRecord("gate"), gated.Function());
  commit.lock.Release();
  ASSERT_TRUE(WaitFor([&] { return gate.reached(); }));

  waiter = std::jthread([&] {
    waiter_id = std::this_thread::get_id();
    waited = store.Append(DecisionRecord("waiter"));
  });
  // The leader's, "gate" and the waiter's records were queued.
  ASSERT_TRUE(WaitFor([&] { return gate.queued() == 3; })) << gate.queued();
  gate.Open();
  waiter.join();
  ASSERT_TRUE(waited.ok) << waited.error;
  EXPECT_EQ(waited.seq, 3);
  ASSERT_TRUE(leader.Join().ok);
  ASSERT_TRUE(WaitFor([&] { return gated.calls() == 1; }));
  EXPECT_EQ(gated.result().seq, 2);

  const std::vector<std::thread::id> threads = gate.commit_threads();
  ASSERT_EQ(threads.size(), 3u);
  ASSERT_EQ(gate.batches(), (std::vector<std::size_t>{1, 1, 1}));
  EXPECT_EQ(threads[0], leader.id());
  EXPECT_NE(threads[1], leader.id());  // the committer
  EXPECT_EQ(threads[2], threads[1]) << "the lead went back to a caller";
  EXPECT_NE(threads[2], waiter_id);
  ExpectValidChain(ReadRows(db));
}

TEST_F(AuditStoreTest, AppendThenAndWaitingCallersMixedStayGaplessAndChained) {
  AuditStore store(Options(db), &observer);
  constexpr int kThreads = 8;
  constexpr int kEach = 40;
  std::mutex mu;
  std::vector<std::int64_t> seqs;
  std::atomic<int> callbacks{0};
  std::atomic<int> failures{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          const std::string id =
              "t" + std::to_string(t) + "-" + std::to_string(i);
          if ((t + i) % 2 == 0) {
            const AppendResult r = store.Append(DecisionRecord(id));
            if (!r.ok) ++failures;
            std::lock_guard lock(mu);
            seqs.push_back(r.seq);
          } else {
            store.AppendThen(DecisionRecord(id), [&](AppendResult r) {
              if (!r.ok) ++failures;
              {
                std::lock_guard lock(mu);
                seqs.push_back(r.seq);
              }
              ++callbacks;
            });
          }
        }
      });
    }
  }
  store.Close();  // every record queued is committed and called back
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(callbacks.load(), kThreads * kEach / 2);
  std::sort(seqs.begin(), seqs.end());
  ASSERT_EQ(seqs.size(), static_cast<std::size_t>(kThreads * kEach));
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    EXPECT_EQ(seqs[i], static_cast<std::int64_t>(i + 1));
  }
  const std::vector<Row> rows = ReadRows(db);
  EXPECT_EQ(rows.size(), seqs.size());
  ExpectValidChain(rows);
}

TEST_F(AuditStoreTest, CloseWaitsForAppendThenRecordsAndLaterOnesFailAtOnce) {
  StoreOptions options = WithBusyTimeout(db, milliseconds(10'000));
  // Full with the three below: the probing Append is refused at once.
  options.max_queue = 3;
  CommitInProgress commit(options, &observer);
  auto& [store, lock, leader] = commit;
  ASSERT_TRUE(LeaderTookItsBatch());
  std::vector<std::unique_ptr<Callback>> queued;
  for (int i = 0; i < 3; ++i) {
    queued.push_back(std::make_unique<Callback>(db));
    store.AppendThen(DecisionRecord("q" + std::to_string(i)),
                     queued.back()->Function());
  }
  std::jthread closer = StartClosing(store);
  lock.Release();
  closer.join();
  // Close() returned only after every queued record was committed and its
  // callback had run.
  for (std::size_t i = 0; i < queued.size(); ++i) {
    EXPECT_EQ(queued[i]->calls(), 1);
    EXPECT_TRUE(queued[i]->result().ok) << queued[i]->result().error;
    EXPECT_EQ(queued[i]->result().seq, static_cast<std::int64_t>(i + 2));
  }
  const AppendResult first = leader.Join();
  EXPECT_TRUE(first.ok) << first.error;

  Callback late(db);
  store.AppendThen(DecisionRecord("after-close"), late.Function());
  ASSERT_EQ(late.calls(), 1);  // at once, on this thread
  EXPECT_FALSE(late.result().ok);
  EXPECT_NE(late.result().error.find("closed"), std::string::npos);
  EXPECT_EQ(CountRows(db), 4);
  ExpectValidChain(ReadRows(db));
}

TEST_F(AuditStoreTest, AFailedCommitIsReportedToAppendThenCallbacks) {
  CommitInProgress commit(WithBusyTimeout(db, milliseconds(300)), &observer);
  auto& [store, lock, leader] = commit;
  ASSERT_TRUE(LeaderTookItsBatch());
  Callback queued(db);
  store.AppendThen(DecisionRecord("queued"), queued.Function());
  EXPECT_FALSE(leader.Join().ok);
  // Its own batch, after the leader's, fails on the same lock.
  ASSERT_TRUE(WaitFor([&] { return queued.calls() == 1; }));
  EXPECT_FALSE(queued.result().ok);
  EXPECT_FALSE(queued.result().error.empty());

  Callback alone(db);  // no commit in progress: led by this thread, fails
  store.AppendThen(DecisionRecord("alone"), alone.Function());
  ASSERT_EQ(alone.calls(), 1);
  EXPECT_FALSE(alone.result().ok);
  EXPECT_EQ(observer.failed_records(), 3u);
  EXPECT_FALSE(store.Healthy());
  lock.Release();
  EXPECT_EQ(CountRows(db), 0);
}

TEST_F(AuditStoreTest, ARecordAppendedByAnotherConnectionIsChainedOnto) {
  // The lock file keeps a second gateway out, and the store keeps the chain's
  // head in memory between commits; a row some other connection appends all
  // the same must not fork the chain: the store's next record follows it.
  AuditStore store(Options(db));
  ASSERT_TRUE(store.Append(DecisionRecord("before")).ok);
  const Record head = ReadRows(db).back().record;
  Record outside = DecisionRecord("outside");
  outside.seq = head.seq + 1;
  outside.prev_hash = head.hash;
  outside.time_us = head.time_us + 1;
  outside.hash = ChainHash(outside);
  {
    SQLite::Database other(db, SQLite::OPEN_READWRITE);
    SQLite::Statement insert(other, R"sql(
      INSERT INTO audit_records (seq, time, stage, request_id, decision, reason,
                                 response_status, prev_hash, hash)
      VALUES (?, ?, 'decision', ?, ?, ?, ?, ?, ?))sql");
    insert.bind(1, outside.seq);
    insert.bind(2, FormatTime(outside.time_us));
    insert.bind(3, outside.request_id);
    insert.bind(4, outside.decision);
    insert.bind(5, outside.reason);
    insert.bind(6, *outside.response_status);
    insert.bind(7, outside.prev_hash);
    insert.bind(8, outside.hash);
    insert.exec();
  }
  const AppendResult after = store.Append(DecisionRecord("after"));
  ASSERT_TRUE(after.ok) << after.error;
  EXPECT_EQ(after.seq, outside.seq + 1);
  const std::vector<Row> rows = ReadRows(db);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].record.request_id, "outside");
  EXPECT_EQ(rows[2].record.prev_hash, outside.hash);
  ExpectValidChain(rows);
}

TEST_F(AuditStoreTest, SecondWriterOnTheSameFileDoesNotWedgeTheFirst) {
  // A second gateway started by mistake on the same database (a rolling
  // deploy, a manual `serve`) must not leave the running one failing every
  // request until it is restarted: it may refuse to open, or the chain may
  // continue, but the first store has to keep (or get back to) working.
  AuditStore first(Options(db));
  ASSERT_TRUE(first.Append(DecisionRecord("first-1")).ok);
  try {
    AuditStore second(Options(db));
    second.Append(DecisionRecord("second-1"));
  } catch (const std::runtime_error&) {
    // Refusing to open a database another store writes to is fine.
  }
  first.Append(DecisionRecord("first-2"));  // may fail once, fail closed
  const AppendResult r = first.Append(DecisionRecord("first-3"));
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(first.Healthy());
  ExpectValidChain(ReadRows(db));
}

// --- the canonical form ------------------------------------------------------

TEST(RecordTest, CanonicalBytesAreSortedCompactAsciiAndOmitEmptyFields) {
  Record r;
  r.seq = 3;
  r.time_us = 1'700'000'000'000'001;
  r.prev_hash = std::string(kGenesisHash);
  r.stage = Stage::kDecision;
  r.detail = "caf\xc3\xa9";
  r.response_status = 403;
  EXPECT_EQ(CanonicalBytes(r),
            R"({"detail":"caf\u00e9","prev_hash":")" +
                std::string(kGenesisHash) +
                R"(","response_status":403,"seq":3,"stage":"decision",)"
                R"("time":"2023-11-14T22:13:20.000001Z"})");
}

TEST(RecordTest, HashCoversEveryField) {
  Record base = IntentRecord("req", "+14155550100");
  base.seq = 9;
  base.time_us = 1'700'000'000'000'000;
  base.prev_hash = Sha256Hex("prev");
  base.approval_id = "apr";
  base.reason = "r";
  base.shadow = "deny:x";
  base.intent_seq = 1;
  base.upstream_status = 200;
  base.upstream_latency_us = 5;
  base.response_status = 200;
  base.outcome = "released";
  base.detail = "d";
  const std::string h = ChainHash(base);

  std::vector<std::pair<std::string, std::function<void(Record&)>>> edits = {
      {"seq", [](Record& r) { r.seq = 10; }},
      {"time", [](Record& r) { r.time_us += 1; }},
      {"prev_hash", [](Record& r) { r.prev_hash = Sha256Hex("other"); }},
      {"stage", [](Record& r) { r.stage = Stage::kOutcome; }},
      {"request_id", [](Record& r) { r.request_id += "x"; }},
      {"principal", [](Record& r) { r.principal = "mallory"; }},
      {"groups", [](Record& r) { r.groups = "[]"; }},
      {"auth_method", [](Record& r) { r.auth_method = "api_key"; }},
      {"peer", [](Record& r) { r.peer = "10.0.0.1"; }},
      {"method", [](Record& r) { r.method = "GET"; }},
      {"path", [](Record& r) { r.path += "x"; }},
      {"phone_number", [](Record& r) { r.phone_number = "+19115550100"; }},
      {"decision", [](Record& r) { r.decision = "deny"; }},
      {"rule_id", [](Record& r) { r.rule_id = "other"; }},
      {"reason", [](Record& r) { r.reason = "other"; }},
      {"approval_id", [](Record& r) { r.approval_id.clear(); }},
      {"policy_hash", [](Record& r) { r.policy_hash = Sha256Hex("p2"); }},
      {"shadow", [](Record& r) { r.shadow = "allow:y"; }},
      {"intent_seq", [](Record& r) { r.intent_seq.reset(); }},
      {"upstream_status", [](Record& r) { r.upstream_status = 500; }},
      {"upstream_latency_us", [](Record& r) { r.upstream_latency_us = 6; }},
      {"response_status", [](Record& r) { r.response_status = 502; }},
      {"outcome", [](Record& r) { r.outcome = "unknown"; }},
      // Assigned from a std::string: GCC 12 at -O3 reports a false
      // -Wrestrict on a one-character literal here.
      {"detail", [](Record& r) { r.detail = std::string("e"); }},
  };
  for (auto& [name, edit] : edits) {
    SCOPED_TRACE(name);
    Record changed = base;
    edit(changed);
    EXPECT_NE(ChainHash(changed), h);
  }
  // `hash` itself is not part of what it covers.
  Record with_hash = base;
  with_hash.hash = "anything";
  EXPECT_EQ(ChainHash(with_hash), h);
}

TEST(RecordTest, FormatTimeIsUtcWithMicroseconds) {
  EXPECT_EQ(FormatTime(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatTime(1'700'000'000'123'456), "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(FormatTime(951'782'400'000'000), "2000-02-29T00:00:00.000000Z");
}

}  // namespace
}  // namespace agni::audit
