#include "audit/background_verifier.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <limits>

#include "audit/archive.h"
#include "audit/checkpoint.h"
#include "audit/record.h"

namespace agni::audit {
namespace {

using Clock = std::chrono::steady_clock;

// Records per read transaction: short snapshots, so the WAL can restart.
constexpr std::int64_t kMaxChunk = 2000;

// Every stored checkpoint with `lo <= seq <= hi`: a valid one becomes an
// expectation of the checker, an invalid one a problem.
void ExpectCheckpoints(SQLite::Database& db, std::int64_t lo, std::int64_t hi,
                       ChainChecker& checker) {
  for (const auto& [id, c] : StoredCheckpointsBetween(db, lo, hi)) {
    const std::string label = "checkpoint #" + std::to_string(id) + " (seq " +
                              std::to_string(c.seq) + ")";
    if (!CheckpointSignatureValid(c)) {
      checker.Problem(c.seq,
                      label + " has an invalid signature (checkpoint edited)");
    } else {
      checker.Expect(c.seq, {c.hash, label});
    }
  }
}

}  // namespace

BackgroundVerifier::BackgroundVerifier(VerifierOptions options,
                                       VerifierHooks hooks)
    : options_(std::move(options)), hooks_(std::move(hooks)) {
  options_.records_per_second =
      std::max<std::int64_t>(1, options_.records_per_second);
}

BackgroundVerifier::~BackgroundVerifier() { Stop(); }

void BackgroundVerifier::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void BackgroundVerifier::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<ChainProblem> BackgroundVerifier::problem() const {
  std::lock_guard lock(mu_);
  return problem_;
}

bool BackgroundVerifier::Sleep(std::chrono::nanoseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stopping_; });
}

void BackgroundVerifier::Report(ChainProblem p) {
  {
    std::lock_guard lock(mu_);
    problem_ = p;
  }
  if (hooks_.broken) hooks_.broken(p);
}

std::int64_t BackgroundVerifier::Step(SQLite::Database& db,
                                      ChainChecker& checker) {
  const std::int64_t from = checker.pos().seq;
  const std::int64_t chunk =
      std::clamp<std::int64_t>(options_.records_per_second / 10, 1, kMaxChunk);
  SQLite::Transaction read(db, SQLite::TransactionBehavior::DEFERRED);
  // The last seq of this chunk first, so that the checkpoints of the chunk
  // are expected before its records are fed.
  SQLite::Statement end(db, R"sql(
    SELECT max(seq) FROM (SELECT seq FROM audit_records WHERE seq > ?
                          ORDER BY seq LIMIT ?))sql");
  end.bind(1, from);
  end.bind(2, chunk);
  end.executeStep();
  if (end.getColumn(0).isNull()) {
    // At the head: a checkpoint beyond it means the tail was cut off.
    ExpectCheckpoints(db, from + 1, std::numeric_limits<std::int64_t>::max(),
                      checker);
    checker.Finish();
    read.commit();
    return 0;
  }
  const std::int64_t to = end.getColumn(0).getInt64();
  ExpectCheckpoints(db, from + 1, to, checker);
  const std::int64_t before = checker.records();
  FeedRecordsRange(db, from, to, checker, /*stop_at_problem=*/true);
  read.commit();
  return checker.records() - before;
}

bool BackgroundVerifier::WholeFileCheck(SQLite::Database& db) {
  const std::string check = db.execAndGet("PRAGMA quick_check").getString();
  if (check == "ok") return true;
  Report({0, "the database file failed PRAGMA quick_check: " + check});
  return false;
}

std::unique_ptr<SQLite::Database> BackgroundVerifier::Open() const {
  // One thread uses this connection: no per-call mutex.
  auto db = std::make_unique<SQLite::Database>(
      options_.db_path, SQLite::OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
  db->setBusyTimeout(5000);
  return db;
}

void BackgroundVerifier::Loop() {
  std::unique_ptr<SQLite::Database> db;
  while (true) {
    const auto pass_started = Clock::now();
    // From seq 1, or after the records `audit archive` moved out.
    ChainPosition start{0, std::string(kGenesisHash)};
    try {
      if (!db) db = Open();
      const LiveStartResult live = LiveStart(*db);
      if (live.problem) {
        Report(*live.problem);
        return;
      }
      start = live.pos;
    } catch (const std::exception& e) {
      db.reset();
      if (hooks_.error) hooks_.error(e.what());
      if (!Sleep(options_.poll)) return;
      continue;
    }
    ChainChecker checker(start, false);
    bool whole_file_checked = false;
    while (true) {
      const auto chunk_started = Clock::now();
      std::int64_t read = 0;
      try {
        if (!db) db = Open();
        read = Step(*db, checker);
        if (!checker.problems().empty()) {
          auto& ps = checker.problems();
          const ChainProblem first = *std::min_element(
              ps.begin(), ps.end(),
              [](const ChainProblem& a, const ChainProblem& b) {
                return a.seq < b.seq;
              });
          // Intact up to the record before the break.
          verified_seq_ = std::max<std::int64_t>(0, first.seq - 1);
          if (hooks_.progress) hooks_.progress(verified_seq_.load());
          Report(first);
          return;
        }
        if (read == 0 && !whole_file_checked) {
          if (!WholeFileCheck(*db)) return;
          whole_file_checked = true;
        }
      } catch (const std::exception& e) {
        db.reset();
        if (hooks_.error) hooks_.error(e.what());
        if (!Sleep(options_.poll)) return;
        continue;
      }
      rehashed_ += read;
      verified_seq_ = checker.pos().seq;
      if (hooks_.progress) hooks_.progress(checker.pos().seq);
      if (read == 0) {
        if (Clock::now() - pass_started >= options_.full_pass_every) break;
        if (!Sleep(options_.poll)) return;
        continue;
      }
      // The pace: `read` records may take read / rate seconds.
      const auto budget = std::chrono::nanoseconds(read * 1'000'000'000 /
                                                   options_.records_per_second);
      const auto spent = Clock::now() - chunk_started;
      if (!Sleep(std::max<std::chrono::nanoseconds>(
              budget - spent, std::chrono::nanoseconds(0)))) {
        return;
      }
    }
  }
}

}  // namespace agni::audit
