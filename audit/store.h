// The durable audit log: an append-only SQLite table written by one thread.
//
// Callers hand a record to Append() and block until the batch holding it has
// committed (WAL, synchronous=FULL): when Append() returns ok, the record is on
// disk. Records arriving while a commit is in progress form the next batch
// (group commit), so many concurrent requests share one fsync. A full queue or
// a failed commit is reported to the caller, never dropped silently: the
// gateway turns it into a 503 and forwards nothing.
//
// Thread-safe: Append() may be called from any thread. The SQLite connection is
// used only by the writer thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/lock_file.h"
#include "audit/record.h"

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
};

// Hooks for metrics; the store does not know Prometheus. Called from the writer
// thread, and OnFailure/OnQueueDepth also from callers' threads (a full queue),
// so implementations must be thread-safe.
class StoreObserver {
 public:
  virtual ~StoreObserver() = default;
  virtual void OnCommit(const std::vector<const Record*>& records,
                        std::chrono::nanoseconds duration) = 0;
  virtual void OnFailure(std::size_t records) = 0;
  virtual void OnQueueDepth(std::size_t depth) = 0;
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
  // (outcome "unknown"), and starts the writer. Throws std::runtime_error with
  // a readable message.
  AuditStore(StoreOptions options, StoreObserver* observer = nullptr,
             std::function<std::int64_t()> clock_us = nullptr);
  ~AuditStore() override;  // drains the queue, then stops the writer

  AuditStore(const AuditStore&) = delete;
  AuditStore& operator=(const AuditStore&) = delete;

  AppendResult Append(Record record) override;
  std::vector<AppendResult> AppendAll(std::vector<Record> records) override;
  bool Healthy() const override;
  bool Probe() override;
  std::string ChainBreak() const override;
  // Recorded by the background verifier; stays until the process ends.
  void ReportChainBreak(std::string why);

  // Commits everything queued so far and stops accepting records.
  void Close();

  // Number of intents closed as "unknown" when the store was opened.
  std::size_t recovered_intents() const { return recovered_intents_; }

 private:
  struct Pending {
    Record record;
    std::promise<AppendResult> done;
    bool probe = false;  // writes the probe row instead of a record
  };
  AppendResult Enqueue(Pending pending);
  void ReadChainHead();

  void WriterLoop();
  void CommitBatch(std::deque<Pending>& batch);
  void InsertLocked(Record& record);
  void WriteProbeLocked();
  void RecoverUnfinishedIntents();

  StoreOptions options_;
  StoreObserver* observer_;
  std::function<std::int64_t()> clock_us_;
  // On "<path>.lock", held for the store's life. Members are destroyed in
  // reverse order: the statements, then the connection, then the lock.
  FileLock lock_;
  std::unique_ptr<SQLite::Database> db_;  // writer thread only (after open)
  std::unique_ptr<SQLite::Statement> insert_;  // prepared once, writer only
  std::unique_ptr<SQLite::Statement> head_;    // prepared once, writer only
  // BEGIN IMMEDIATE / COMMIT / ROLLBACK, prepared once (writer only):
  // SQLite::Transaction parses the text again for every batch.
  std::unique_ptr<SQLite::Statement> begin_, commit_, rollback_;

  std::int64_t last_seq_ = 0;
  std::string last_hash_;
  std::int64_t last_time_us_ = 0;  // time never decreases along seq
  std::size_t recovered_intents_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool closing_ = false;
  std::atomic<bool> healthy_{true};
  std::string chain_break_;  // guarded by mu_
  std::thread writer_;
};

}  // namespace agni::audit
