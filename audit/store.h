// The durable audit log: an append-only SQLite table written by one thread.
//
// Callers hand a record to Append() and block until the batch holding it has
// committed (WAL, synchronous=FULL): when Append() returns ok, the record is on
// disk. Records arriving while a commit is in progress form the next batch
// (group commit), so many concurrent requests share one fsync. A full queue or
// a failed commit is reported to the caller, never dropped silently: the
// gateway turns it into a 503 and forwards nothing.
//
// There is no writer thread: the caller that finds no commit in progress
// commits the queue itself (the leader), and the others wait for it; when it
// is done, the oldest waiter left leads the next batch. A lone request thus
// pays its fsync and nothing else, with no hand-off to another thread and
// back (two wake-ups per commit, a quarter of a release's latency when
// measured; BENCHMARKS.md, issue 20). A record given to AppendThen() has no
// caller waiting: when it is the oldest left, the committer thread leads, and
// keeps the lead while records are queued (no sleeping caller to wait for).
//
// Thread-safe: Append() may be called from any thread. The SQLite connection is
// used by one leader at a time (under mu_'s hand-over), never concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/lock_file.h"
#include "audit/record.h"

struct sqlite3;

namespace SQLite {
class Database;
class Statement;
}  // namespace SQLite

namespace agni::audit {

struct StoreOptions {
  std::string path;
  std::chrono::milliseconds busy_timeout{2000};
  std::size_t max_queue = 10000;
  std::size_t max_batch = 512;
  // WAL frames after which the log is checkpointed into the database, off the
  // commit path (a background pass, then a short catch-up by the next
  // leader); 0 leaves it to SQLite, inline in the commit that crosses 1000.
  // 10,000 frames (a WAL of about 40 MiB, reused from its start): a pass
  // slows the commits it overlaps, and every commit rewrites the same newest
  // pages, so ten times fewer passes copy half the pages per record
  // (BENCHMARKS.md, issue 20).
  std::size_t checkpoint_frames = 10000;
};

// Hooks for metrics; the store does not know Prometheus. Called from the
// callers' threads (the batch's leader, or a caller refused on a full queue),
// so implementations must be thread-safe. OnCommit calls never overlap and
// come in seq order (one leader at a time).
class StoreObserver {
 public:
  virtual ~StoreObserver() = default;
  virtual void OnCommit(const std::vector<const Record*>& records,
                        std::chrono::nanoseconds duration) = 0;
  virtual void OnFailure(std::size_t records) = 0;
  // After a record joins the queue and after a leader takes a batch off it.
  virtual void OnQueueDepth(std::size_t depth) = 0;
  // A leader took `records` off the queue to commit them (before the commit).
  virtual void OnBatchTaken(std::size_t records) { (void)records; }
};

struct AppendResult {
  bool ok = false;
  std::int64_t seq = 0;
  std::string error;  // why not, for logs; never shown to clients verbatim
};

// What the gateway's request path needs from an audit log.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Blocks until `record` is durably committed or has failed.
  virtual AppendResult Append(Record record) = 0;
  // Blocks until every one of `records` is committed or has failed; one
  // result each, in order. AuditStore queues them together so they share
  // commits instead of paying one durable write each.
  virtual std::vector<AppendResult> AppendAll(std::vector<Record> records) {
    std::vector<AppendResult> out;
    for (Record& r : records) out.push_back(Append(std::move(r)));
    return out;
  }
  // Commits `record` as Append() does, then calls `then` with its result,
  // exactly once, without the caller waiting for a commit in progress:
  // AuditStore queues the record and returns, and whoever commits it calls
  // `then` on its own thread. When no commit is in progress the record is
  // committed on the calling thread, and `then` runs before this returns.
  // The request path answers releases, refusals and served reads this way
  // (sent once the record is durable) instead of sleeping until the commit
  // is done and only then sending (BENCHMARKS.md, issue 20).
  virtual void AppendThen(Record record,
                          std::function<void(AppendResult)> then) {
    then(Append(std::move(record)));
  }
  // False after the most recent commit failed, until one succeeds.
  virtual bool Healthy() const = 0;
  // Checks now whether a record could be committed: commits a durable write
  // at least as large as a record's, outside the chain (AuditStore: one row
  // of the audit_probe table, replaced each time), and updates Healthy().
  // Blocks up to the busy timeout. Readiness asks it, so a full or read-only
  // file system shows even when no traffic arrives to prove it.
  virtual bool Probe() = 0;
  // Why the chain in the log cannot be trusted (a break the background
  // verifier found), for /readyz; empty when nothing was found.
  virtual std::string ChainBreak() const { return ""; }
};

// The mark below which every intent has an outcome ("audit_intents_closed"),
// so that finding open intents reads only the rows after it. Written by the
// store at start and advanced by the Checkpointer; 0 when never written.
std::int64_t IntentsClosedThrough(SQLite::Database& db);
// Raises the mark to `seq` (never lowers it).
void SetIntentsClosedThrough(SQLite::Database& db, std::int64_t seq);
// The first intent in (after_seq, through_seq] without an outcome.
std::optional<std::int64_t> FirstOpenIntent(SQLite::Database& db,
                                            std::int64_t after_seq,
                                            std::int64_t through_seq);

class AuditStore final : public AuditSink {
 public:
  // Opens (creating if needed) the database, takes an exclusive lock on
  // "<path>.lock" so that a second gateway cannot write to the same log, checks
  // integrity, closes any intent left without an outcome by a previous crash
  // (outcome "unknown"). Throws std::runtime_error with
  // a readable message.
  AuditStore(StoreOptions options, StoreObserver* observer = nullptr,
             std::function<std::int64_t()> clock_us = nullptr);
  ~AuditStore() override;  // waits for the records already queued

  AuditStore(const AuditStore&) = delete;
  AuditStore& operator=(const AuditStore&) = delete;

  AppendResult Append(Record record) override;
  void AppendThen(Record record,
                  std::function<void(AppendResult)> then) override;
  std::vector<AppendResult> AppendAll(std::vector<Record> records) override;
  bool Healthy() const override;
  bool Probe() override;
  std::string ChainBreak() const override;
  // Recorded by the background verifier; stays until the process ends.
  void ReportChainBreak(std::string why);

  // Stops accepting records and waits until those already queued are
  // committed (or failed).
  void Close();

  // Number of intents closed as "unknown" when the store was opened.
  std::size_t recovered_intents() const { return recovered_intents_; }

  // WAL checkpoints completed off the commit path (for tests).
  std::size_t background_checkpoints() const;

 private:
  // What the leader tells a waiting caller (Pending::state).
  static constexpr std::uint32_t kWaiting = 0;
  static constexpr std::uint32_t kDone = 1;  // `result` is final
  static constexpr std::uint32_t kLead = 2;  // lead the next batch

  // One caller's record, on the caller's stack while it waits in Enqueue().
  // Each caller sleeps on its own word (a futex), so that a leader finishing
  // a batch wakes each caller once, and a woken caller takes no lock that
  // the leader may still hold (with a mutex per caller, half the callers
  // woke only to sleep again on it: BENCHMARKS.md, issue 20).
  struct Pending {
    Record record;
    bool probe = false;  // writes the probe row instead of a record
    // Set for AppendThen(): nobody waits for this record; its leader calls
    // `then` and deletes it.
    std::function<void(AppendResult)> then;
    AppendResult result;  // written by the leader before `state` changes
    std::atomic<std::uint32_t> state{kWaiting};
  };
  // Sleeps until `p.state` is no longer kWaiting; returns it.
  static std::uint32_t AwaitTurn(Pending& p);
  // Sets `p.state` (kDone or kLead) and wakes its caller.
  static void Hand(Pending& p, std::uint32_t state);
  AppendResult Enqueue(Pending& pending);
  // Commits the oldest queued records, `own` among them, as their leader;
  // then wakes them and passes the lead to the oldest caller left. Given
  // `*completions` (the committer, which keeps the lead), the batch's other
  // records go there; else its AppendThen() ones are completed here.
  AppendResult Lead(Pending& own, std::vector<Pending*>* completions = nullptr);
  // Calls `p.then` with `result` and deletes `p` (an AppendThen() record).
  static void Complete(Pending* p, AppendResult result);
  // Leads from when the oldest record queued is an AppendThen() one (no
  // caller waits to be handed the lead) while any is queued. Its batches'
  // callers are woken and callbacks run on the completer thread, so that its
  // next commit does not wait for them.
  void CommitterLoop();
  void CompleterLoop();
  // Stops (and joins) the committer, then the completer; with the queue
  // empty and no leader (Close()), or before any record (a failed open).
  void StopCommitter();
  void ReadChainHead();
  // The database file's data version (SQLITE_FCNTL_DATA_VERSION): it moves
  // when any connection commits; nullopt when SQLite cannot tell.
  std::optional<std::uint32_t> DataVersion() const;

  // Commits `batch` (the leader, without mu_) and fills in each result.
  void CommitBatch(std::vector<Pending*>& batch);
  void InsertLocked(Record& record);
  void WriteProbeLocked();
  void RecoverUnfinishedIntents();
  // The background checkpoint: copies the WAL into the database on its own
  // connection while commits go on; the next leader then checkpoints the
  // frames committed meanwhile (CatchUpCheckpointLocked), so that the WAL
  // restarts instead of growing under load.
  void CheckpointLoop();
  void CatchUpCheckpointLocked();
  void RequestCheckpointIfDue();  // the leader, after a commit
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int frames);

  StoreOptions options_;
  StoreObserver* observer_;
  std::function<std::int64_t()> clock_us_;
  // On "<path>.lock", held for the store's life. Members are destroyed in
  // reverse order: the statements, then the connection, then the lock.
  FileLock lock_;
  std::unique_ptr<SQLite::Database> db_;       // the leader only (after open)
  std::unique_ptr<SQLite::Statement> insert_;  // prepared once, leader only
  std::unique_ptr<SQLite::Statement> head_;    // prepared once, leader only
  // BEGIN IMMEDIATE / COMMIT / ROLLBACK, prepared once (leader only):
  // SQLite::Transaction parses the text again for every batch.
  std::unique_ptr<SQLite::Statement> begin_, commit_, rollback_;

  std::int64_t last_seq_ = 0;
  std::string last_hash_;
  std::int64_t last_time_us_ = 0;  // time never decreases along seq
  // The data version right after this store's last commit: while it is
  // unchanged at the next BEGIN, no other connection has appended, and the
  // head above is still the file's (nullopt: read it again).
  std::optional<std::uint32_t> head_version_;
  std::size_t recovered_intents_ = 0;

  mutable std::mutex mu_;
  std::deque<Pending*> queue_;  // waiting, oldest first; guarded by mu_
  // Some caller leads (or has just been handed the lead); guarded by mu_.
  // Never false while queue_ holds records.
  bool leading_ = false;
  std::condition_variable idle_;  // queue_ empty and no leader (Close())
  // The lead handed to the committer: the record at the front of the queue
  // (AppendThen()'s, or any while it leads; mu_; the committer clears it).
  Pending* committer_front_ = nullptr;
  bool committer_stop_ = false;  // guarded by mu_
  std::condition_variable committer_wake_;
  bool closing_ = false;
  std::atomic<bool> healthy_{true};
  std::string chain_break_;  // guarded by mu_

  // WAL frames after the last commit (set by SQLite's WAL hook in the
  // leader's COMMIT; leader only).
  int wal_frames_ = 0;
  int last_wal_frames_ = 0;     // leader only
  int next_checkpoint_at_ = 0;  // leader only: frames that request one
  mutable std::mutex ckpt_mu_;
  std::condition_variable ckpt_wake_;
  bool ckpt_requested_ = false;  // guarded by ckpt_mu_
  bool ckpt_running_ = false;    // guarded by ckpt_mu_: requested or running
  bool ckpt_stop_ = false;       // guarded by ckpt_mu_
  std::size_t ckpt_done_ = 0;    // guarded by ckpt_mu_
  // Set by the background pass when done; the next leader catches up.
  std::atomic<bool> ckpt_catch_up_{false};
  std::thread checkpointer_;  // last: stopped (in Close()) before the rest
  std::thread committer_;     // stopped in Close(), once the queue is empty
  // The committer's records, committed: CompleterLoop() wakes or calls back.
  std::mutex completions_mu_;
  std::condition_variable completions_wake_;
  std::vector<Pending*> completions_;  // guarded by completions_mu_
  bool completer_stop_ = false;        // guarded by completions_mu_
  std::thread completer_;  // stopped in Close(), after the committer
};

}  // namespace agni::audit
