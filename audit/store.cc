#include "audit/store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <linux/futex.h>
#include <sqlite3.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <optional>
#include <stdexcept>
#include <utility>

#include "audit/record_io.h"

namespace agni::audit {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_records (
  seq                 INTEGER PRIMARY KEY,
  time                TEXT    NOT NULL,
  stage               TEXT    NOT NULL,
  request_id          TEXT,
  principal           TEXT,
  groups              TEXT,
  auth_method         TEXT,
  peer                TEXT,
  method              TEXT,
  path                TEXT,
  phone_number        TEXT,
  decision            TEXT,
  rule_id             TEXT,
  reason              TEXT,
  approval_id         TEXT,
  policy_hash         TEXT,
  shadow              TEXT,
  intent_seq          INTEGER,
  upstream_status     INTEGER,
  upstream_latency_us INTEGER,
  response_status     INTEGER,
  outcome             TEXT,
  detail              TEXT,
  prev_hash           TEXT    NOT NULL,
  hash                TEXT    NOT NULL,
  request_count       INTEGER
);
CREATE TRIGGER IF NOT EXISTS audit_records_no_update
  BEFORE UPDATE ON audit_records
  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_records_no_delete
  BEFORE DELETE ON audit_records
  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE INDEX IF NOT EXISTS audit_records_by_intent
  ON audit_records (intent_seq) WHERE intent_seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_records_by_number
  ON audit_records (phone_number, seq);
CREATE INDEX IF NOT EXISTS audit_records_by_principal
  ON audit_records (principal, seq);
CREATE INDEX IF NOT EXISTS audit_records_by_request
  ON audit_records (request_id);
CREATE INDEX IF NOT EXISTS audit_records_archived
  ON audit_records (seq) WHERE stage = 'archived';
CREATE TABLE IF NOT EXISTS audit_intents_closed (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  through_seq  INTEGER NOT NULL
);
)sql";

constexpr const char* kInsert = R"sql(
INSERT INTO audit_records (
  seq, time, stage, request_id, principal, groups, auth_method, peer, method,
  path, phone_number, decision, rule_id, reason, approval_id, policy_hash,
  shadow, intent_seq, upstream_status, upstream_latency_us, response_status,
  outcome, detail, prev_hash, hash, request_count)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
        ?, ?)
)sql";

// Logs written before summaries of rejected requests existed lack the column;
// it is added (NULL in every old row, so their hashes do not change).
void AddRequestCountColumn(SQLite::Database& db) {
  SQLite::Statement cols(db, "PRAGMA table_info(audit_records)");
  while (cols.executeStep()) {
    if (cols.getColumn(1).getString() == "request_count") return;
  }
  db.exec("ALTER TABLE audit_records ADD COLUMN request_count INTEGER");
}

std::int64_t SystemNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Binds without copying (`v` outlives the statement's exec; InsertLocked
// clears the bindings after it), saving a copy of every field of every record.
void BindText(SQLite::Statement& s, int index, const std::string& v) {
  if (v.empty()) {
    s.bind(index);  // NULL
  } else {
    s.bindNoCopy(index, v);
  }
}

template <typename T>
void BindOptional(SQLite::Statement& s, int index, const std::optional<T>& v) {
  if (v) {
    s.bind(index, static_cast<std::int64_t>(*v));
  } else {
    s.bind(index);
  }
}

// SQLite::Transaction (IMMEDIATE) over statements prepared once: rolls back
// unless Commit() succeeded.
class PreparedTransaction {
 public:
  PreparedTransaction(SQLite::Statement& begin, SQLite::Statement& commit,
                      SQLite::Statement& rollback)
      : commit_(commit), rollback_(rollback) {
    // tryReset(): reset() would throw the previous run's error again (a
    // BEGIN that met a locked database stays failed until reset).
    begin.tryReset();
    begin.exec();
  }
  ~PreparedTransaction() {
    if (committed_) return;
    try {
      rollback_.tryReset();
      rollback_.exec();
    } catch (...) {
      // Nothing to add: the batch already failed and says why.
    }
  }
  PreparedTransaction(const PreparedTransaction&) = delete;
  PreparedTransaction& operator=(const PreparedTransaction&) = delete;

  void Commit() {
    commit_.tryReset();
    commit_.exec();
    committed_ = true;
  }

 private:
  SQLite::Statement& commit_;
  SQLite::Statement& rollback_;
  bool committed_ = false;
};

}  // namespace

AuditStore::AuditStore(StoreOptions options, StoreObserver* observer,
                       std::function<std::int64_t()> clock_us)
    : options_(std::move(options)),
      observer_(observer),
      clock_us_(clock_us ? std::move(clock_us) : SystemNowUs),
      lock_(options_.path + ".lock",
            "the audit database \"" + options_.path +
                "\" is in use by another agni-gateway (lock \"" +
                options_.path + ".lock\")") {
  try {
    db_ = std::make_unique<SQLite::Database>(
        options_.path,
        SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_FULLMUTEX);
    db_->setBusyTimeout(static_cast<int>(options_.busy_timeout.count()));
    db_->exec("PRAGMA journal_mode=WAL");
    db_->exec("PRAGMA synchronous=FULL");
    // Checkpoints: see CheckpointLoop(). A background checkpointer alone
    // was measured worse: the WAL rarely restarts under load, so it grows,
    // every commit's fdatasync extends the file, and those syncs queue
    // behind the checkpoint's sync of the database (allowed-path p99 215 ms
    // against 13 ms, tests/bench/bench.sh, BENCHMARKS.md); hence the
    // catch-up by a leader, after which the WAL restarts.
    // No whole-file check here (PRAGMA quick_check reads every page, about
    // a second per million records): the background verifier runs it, so
    // start-up does not grow with the log.
    db_->exec(kSchema);
    AddRequestCountColumn(*db_);
    ReadChainHead();
    RecoverUnfinishedIntents();
    completer_ = std::thread([this] { CompleterLoop(); });
    committer_ = std::thread([this] { CommitterLoop(); });
    if (options_.checkpoint_frames > 0) {
      // Replaces SQLite's own hook, the inline auto-checkpoint: a commit
      // that crossed 1000 frames copied them all into the database and
      // synced it before its caller could go on (the 1-connection p99).
      next_checkpoint_at_ = static_cast<int>(options_.checkpoint_frames);
      sqlite3_wal_hook(db_->getHandle(), &AuditStore::OnWalCommit, this);
      checkpointer_ = std::thread([this] { CheckpointLoop(); });
    }
  } catch (const std::exception& e) {
    StopCommitter();  // started before what threw
    // The statements, the connection and then the lock are released as the
    // members unwind, in that order.
    throw std::runtime_error("cannot open the audit database \"" +
                             options_.path + "\": " + e.what());
  }
}

AuditStore::~AuditStore() { Close(); }

void AuditStore::ReadChainHead() {
  if (!head_) {
    head_ = std::make_unique<SQLite::Statement>(*db_, kNewestRecordSql);
  }
  SQLite::Statement& last = *head_;
  last.reset();
  if (last.executeStep()) {
    last_seq_ = last.getColumn(0).getInt64();
    last_hash_ = last.getColumn(1).getString();
    last_time_us_ =
        ParseTime(last.getColumn(2).getString()).value_or(last_time_us_);
  } else {
    last_seq_ = 0;
    last_hash_ = std::string(kGenesisHash);
  }
  last.reset();  // release the read cursor before the writes
}

std::optional<std::uint32_t> AuditStore::DataVersion() const {
  unsigned int version = 0;
  if (sqlite3_file_control(db_->getHandle(), "main", SQLITE_FCNTL_DATA_VERSION,
                           &version) != SQLITE_OK) {
    return std::nullopt;
  }
  return version;
}

void AuditStore::Close() {
  {
    std::unique_lock lock(mu_);
    closing_ = true;
    // Every record queued has a leader to come, which commits it (or fails
    // it) and wakes its caller; the callers then touch the store no more.
    idle_.wait(lock, [&] { return queue_.empty() && !leading_; });
  }
  StopCommitter();
  std::thread checkpointer;
  {
    std::lock_guard lock(ckpt_mu_);
    ckpt_stop_ = true;
    checkpointer = std::move(checkpointer_);  // joined by one Close() only
  }
  ckpt_wake_.notify_all();
  if (checkpointer.joinable()) checkpointer.join();
}

bool AuditStore::Healthy() const { return healthy_.load(); }

std::string AuditStore::ChainBreak() const {
  std::lock_guard lock(mu_);
  return chain_break_;
}

void AuditStore::ReportChainBreak(std::string why) {
  std::lock_guard lock(mu_);
  chain_break_ = std::move(why);
}

AppendResult AuditStore::Append(Record record) {
  Pending pending;
  pending.record = std::move(record);
  pending.record.time_us = clock_us_();
  return Enqueue(pending);
}

void AuditStore::AppendThen(Record record,
                            std::function<void(AppendResult)> then) {
  auto pending = std::make_unique<Pending>();
  pending->record = std::move(record);
  pending->record.time_us = clock_us_();
  pending->then = std::move(then);
  bool lead = false;
  const char* refused = nullptr;
  {
    std::lock_guard lock(mu_);
    if (closing_) {
      refused = "the audit store is closed";
    } else if (queue_.size() >= options_.max_queue) {
      if (observer_) observer_->OnFailure(1);
      refused = "the audit queue is full";
    } else {
      queue_.push_back(pending.get());
      if (observer_) observer_->OnQueueDepth(queue_.size());
      // As in Enqueue: no commit in progress, so this thread commits it.
      if (!leading_) leading_ = lead = true;
    }
  }
  if (refused != nullptr) {  // `then` runs without the store's lock
    Complete(pending.release(), {false, 0, refused});
    return;
  }
  Pending* const queued = pending.release();  // the leader's from here on
  if (lead) Complete(queued, Lead(*queued));
}

void AuditStore::Complete(Pending* p, AppendResult result) {
  const std::unique_ptr<Pending> owned(p);
  try {
    owned->then(std::move(result));
  } catch (...) {
    // `then` reports to its caller (it sends an answer); a failure there
    // (no memory) must not reach the leader's other records.
  }
}

void AuditStore::StopCommitter() {
  {
    std::lock_guard lock(mu_);
    committer_stop_ = true;
  }
  committer_wake_.notify_all();
  if (committer_.joinable()) committer_.join();
  {
    std::lock_guard lock(completions_mu_);
    completer_stop_ = true;  // after the committer: no more completions
  }
  completions_wake_.notify_all();
  if (completer_.joinable()) completer_.join();  // runs what was left first
}

void AuditStore::CommitterLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    committer_wake_.wait(
        lock, [&] { return committer_front_ != nullptr || committer_stop_; });
    // Close() stops the committer only once the queue is empty and no one
    // leads, so a lead handed to it is always taken first.
    if (committer_front_ == nullptr) return;
    Pending* const own = std::exchange(committer_front_, nullptr);
    lock.unlock();
    std::vector<Pending*> done;
    own->result = Lead(*own, &done);
    done.push_back(own);
    {
      std::lock_guard completions(completions_mu_);
      completions_.insert(completions_.end(), done.begin(), done.end());
    }
    completions_wake_.notify_one();
    lock.lock();
  }
}

void AuditStore::CompleterLoop() {
  std::unique_lock lock(completions_mu_);
  for (;;) {
    completions_wake_.wait(
        lock, [&] { return !completions_.empty() || completer_stop_; });
    if (completions_.empty()) return;  // stopping, and nothing left
    std::vector<Pending*> done = std::exchange(completions_, {});
    lock.unlock();
    for (Pending* p : done) {
      if (p->then) {
        Complete(p, std::move(p->result));
      } else {
        Hand(*p, kDone);  // a caller whose batch the committer led
      }
    }
    lock.lock();
  }
}

bool AuditStore::Probe() {
  Pending pending;
  pending.probe = true;
  return Enqueue(pending).ok;
}

std::vector<AppendResult> AuditStore::AppendAll(std::vector<Record> records) {
  std::vector<AppendResult> out(records.size());
  std::vector<std::unique_ptr<Pending>> queued(records.size());
  bool lead = false;
  {
    std::lock_guard lock(mu_);
    std::size_t refused = 0;
    bool any = false;
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (closing_) {
        out[i] = {false, 0, "the audit store is closed"};
      } else if (queue_.size() >= options_.max_queue) {
        out[i] = {false, 0, "the audit queue is full"};
        ++refused;
      } else {
        auto p = std::make_unique<Pending>();
        p->record = std::move(records[i]);
        p->record.time_us = clock_us_();
        queue_.push_back(p.get());
        queued[i] = std::move(p);
        any = true;
      }
    }
    if (observer_) {
      if (refused > 0) observer_->OnFailure(refused);
      observer_->OnQueueDepth(queue_.size());
    }
    // As in Enqueue: no commit in progress, so the first of these records
    // is the oldest queued and this thread commits it.
    if (any && !leading_) leading_ = lead = true;
  }
  // In queue order: an older record is always taken into a batch before a
  // younger one can be handed the lead, and that batch's leader marks it
  // done whatever follows, so waiting for it first cannot stall the lead.
  for (std::size_t i = 0; i < queued.size(); ++i) {
    if (!queued[i]) continue;
    Pending& p = *queued[i];
    if (!lead) {
      if (AwaitTurn(p) == kDone) {
        out[i] = std::move(p.result);
        continue;
      }
    }
    lead = false;
    out[i] = Lead(p);
  }
  return out;
}

AppendResult AuditStore::Enqueue(Pending& pending) {
  bool lead = false;
  {
    std::lock_guard lock(mu_);
    if (closing_) return {false, 0, "the audit store is closed"};
    if (queue_.size() >= options_.max_queue) {
      if (observer_ && !pending.probe) observer_->OnFailure(1);
      return {false, 0, "the audit queue is full"};
    }
    queue_.push_back(&pending);
    if (observer_) observer_->OnQueueDepth(queue_.size());
    // No commit in progress, so the queue held nothing before this record:
    // commit it at once, on this thread.
    if (!leading_) leading_ = lead = true;
  }
  if (!lead) {
    // Done: the leader touches neither this record nor the store any more.
    if (AwaitTurn(pending) == kDone) return std::move(pending.result);
  }
  return Lead(pending);
}

std::uint32_t AuditStore::AwaitTurn(Pending& p) {
  static_assert(sizeof p.state == sizeof(std::uint32_t) &&
                std::atomic<std::uint32_t>::is_always_lock_free);
  for (;;) {
    const std::uint32_t state = p.state.load(std::memory_order_acquire);
    if (state != kWaiting) return state;
    // Sleeps only while the word still says kWaiting; a wake-up, EINTR or
    // EAGAIN (the word changed first) all lead back to the check.
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&p.state),
            FUTEX_WAIT_PRIVATE, kWaiting, nullptr, nullptr, 0);
  }
}

void AuditStore::Hand(Pending& p, std::uint32_t state) {
  std::uint32_t* const word = reinterpret_cast<std::uint32_t*>(&p.state);
  p.state.store(state, std::memory_order_release);
  // From the store on, the caller may return and its Pending be gone.
  // FUTEX_WAKE only names the address (nothing is read or written there),
  // and a later sleeper at the same address re-checks its own word.
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

AppendResult AuditStore::Lead(Pending& own,
                              std::vector<Pending*>* completions) {
  std::vector<Pending*> batch;
  {
    std::lock_guard lock(mu_);
    // `own` is the oldest record queued: the lead goes to the front.
    const std::size_t n = std::min(queue_.size(), options_.max_batch);
    batch.assign(queue_.begin(),
                 queue_.begin() + static_cast<std::ptrdiff_t>(n));
    queue_.erase(queue_.begin(),
                 queue_.begin() + static_cast<std::ptrdiff_t>(n));
    if (observer_) {
      observer_->OnBatchTaken(n);
      observer_->OnQueueDepth(queue_.size());
    }
  }
  try {
    CommitBatch(batch);
  } catch (...) {
    // CommitBatch reports SQLite's errors as results; anything else (no
    // memory) must not leave the callers, or the lead, stranded.
    for (Pending* p : batch) {
      if (!p->result.ok) p->result = {false, 0, "audit commit failed"};
    }
  }
  // The next batch first: its commit (and fsync) then runs while this batch's
  // callers are woken, instead of after the last of them.
  Pending* next = nullptr;
  bool to_committer = false;
  {
    std::lock_guard lock(mu_);
    if (queue_.empty()) {
      leading_ = false;
      idle_.notify_all();
    } else if (completions != nullptr) {
      // The committer keeps the lead, whoever waits at the front: handing
      // it to a sleeping caller left the log idle until that thread ran, a
      // fifth of each commit's cycle at 32 connections (BENCHMARKS.md).
      committer_front_ = queue_.front();
    } else if (queue_.front()->then) {
      // No caller waits for it: the committer leads next. Not this thread,
      // whose caller (a connection) would wait for records not its own.
      committer_front_ = queue_.front();
      to_committer = true;
    } else {
      next = queue_.front();  // waits for `lead`, so it stays alive
    }
  }
  if (next != nullptr) Hand(*next, kLead);
  if (to_committer) committer_wake_.notify_one();
  // Only the batch's own records from here on: no member of the store.
  for (Pending* p : batch) {
    if (p == &own) continue;
    if (completions != nullptr) {
      completions->push_back(p);
    } else if (p->then) {
      Complete(p, std::move(p->result));
    } else {
      Hand(*p, kDone);
    }
  }
  return std::move(own.result);
}

void AuditStore::InsertLocked(Record& r) {
  r.seq = last_seq_ + 1;
  r.prev_hash = last_hash_;
  // Times follow seq, so a time range is a seq range (GET /v1/audit); if the
  // clock steps back, records keep the last time until it catches up.
  r.time_us = std::max(r.time_us, last_time_us_);
  r.hash = ChainHash(r);
  if (!insert_) insert_ = std::make_unique<SQLite::Statement>(*db_, kInsert);
  SQLite::Statement& s = *insert_;
  s.reset();
  int i = 1;
  s.bind(i++, r.seq);
  const std::string time = FormatTime(r.time_us);
  s.bindNoCopy(i++, time);
  s.bind(i++, std::string(StageColumn(r)));
  for (const std::string* v :
       {&r.request_id, &r.principal, &r.groups, &r.auth_method, &r.peer,
        &r.method, &r.path, &r.phone_number, &r.decision, &r.rule_id, &r.reason,
        &r.approval_id, &r.policy_hash, &r.shadow}) {
    BindText(s, i++, *v);
  }
  BindOptional(s, i++, r.intent_seq);
  BindOptional(s, i++, r.upstream_status);
  BindOptional(s, i++, r.upstream_latency_us);
  BindOptional(s, i++, r.response_status);
  BindText(s, i++, r.outcome);
  BindText(s, i++, r.detail);
  s.bindNoCopy(i++, r.prev_hash);
  s.bindNoCopy(i++, r.hash);
  BindOptional(s, i++, r.request_count);
  s.exec();
  s.clearBindings();  // nothing keeps pointing into `r` or `time`
  last_seq_ = r.seq;
  last_hash_ = r.hash;
  last_time_us_ = r.time_us;
}

// The probe's row: replaced by every probe, so the table never grows, while
// each probe still writes (and syncs) more pages than a record needs.
void AuditStore::WriteProbeLocked() {
  db_->exec(
      "CREATE TABLE IF NOT EXISTS audit_probe "
      "(id INTEGER PRIMARY KEY CHECK (id = 1), time TEXT NOT NULL, "
      "pad BLOB NOT NULL)");
  SQLite::Statement write(
      *db_, "INSERT OR REPLACE INTO audit_probe VALUES (1, ?, zeroblob(4096))");
  write.bind(1, FormatTime(clock_us_()));
  write.exec();
}

void AuditStore::CommitBatch(std::vector<Pending*>& batch) {
  const auto started = std::chrono::steady_clock::now();
  const std::int64_t seq_before = last_seq_;
  const std::string hash_before = last_hash_;
  const std::int64_t time_before = last_time_us_;
  std::string error;
  const std::size_t records = static_cast<std::size_t>(std::count_if(
      batch.begin(), batch.end(), [](const Pending* p) { return !p->probe; }));
  if (ckpt_catch_up_.exchange(false)) CatchUpCheckpointLocked();
  try {
    if (!begin_) {
      begin_ = std::make_unique<SQLite::Statement>(*db_, "BEGIN IMMEDIATE");
      commit_ = std::make_unique<SQLite::Statement>(*db_, "COMMIT");
      rollback_ = std::make_unique<SQLite::Statement>(*db_, "ROLLBACK");
    }
    PreparedTransaction tx(*begin_, *commit_, *rollback_);
    // The lock file keeps other gateways out; if something else appended all
    // the same, BEGIN has seen it (the data version moved), and the chain
    // goes on from its head, gapless. Otherwise the head is already known:
    // reading it cost a fifth of a lone commit's instructions (issue 20).
    if (!head_version_ || DataVersion() != head_version_) ReadChainHead();
    for (Pending* p : batch) {
      if (p->probe) {
        WriteProbeLocked();
      } else {
        InsertLocked(p->record);
      }
    }
    tx.Commit();
    head_version_ = DataVersion();
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (!error.empty()) {
    // The transaction rolled back: the chain continues from where it was,
    // read again from the file at the next batch.
    head_version_.reset();
    last_seq_ = seq_before;
    last_hash_ = hash_before;
    last_time_us_ = time_before;
    healthy_ = false;
    if (observer_ && records > 0) observer_->OnFailure(records);
    for (Pending* p : batch) {
      p->result = {false, 0, "audit commit failed: " + error};
    }
    return;
  }
  healthy_ = true;
  RequestCheckpointIfDue();
  if (observer_ && records > 0) {
    std::vector<const Record*> committed;
    committed.reserve(batch.size());
    for (const Pending* p : batch) {
      if (!p->probe) committed.push_back(&p->record);
    }
    observer_->OnCommit(committed, std::chrono::steady_clock::now() - started);
  }
  for (Pending* p : batch) p->result = {true, p->record.seq, ""};
}

std::int64_t IntentsClosedThrough(SQLite::Database& db) {
  if (!db.tableExists("audit_intents_closed")) return 0;
  SQLite::Statement q(
      db, "SELECT through_seq FROM audit_intents_closed WHERE id = 1");
  return q.executeStep() ? q.getColumn(0).getInt64() : 0;
}

void SetIntentsClosedThrough(SQLite::Database& db, std::int64_t seq) {
  SQLite::Statement q(db, R"sql(
    INSERT INTO audit_intents_closed (id, through_seq) VALUES (1, ?)
    ON CONFLICT (id) DO UPDATE SET through_seq = excluded.through_seq
    WHERE excluded.through_seq > through_seq)sql");
  q.bind(1, seq);
  q.exec();
}

std::optional<std::int64_t> FirstOpenIntent(SQLite::Database& db,
                                            std::int64_t after_seq,
                                            std::int64_t through_seq) {
  SQLite::Statement q(db, R"sql(
    SELECT i.seq FROM audit_records i
    WHERE i.seq > ? AND i.seq <= ? AND i.stage = 'intent'
      AND NOT EXISTS (SELECT 1 FROM audit_records o
                      WHERE o.intent_seq = i.seq AND o.stage = 'outcome')
    ORDER BY i.seq LIMIT 1)sql");
  q.bind(1, after_seq);
  q.bind(2, through_seq);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getInt64();
}

void AuditStore::RecoverUnfinishedIntents() {
  // Intents at or before the mark all have outcomes (the last start closed
  // them, the checkpointer advances it): only the rows after it are read,
  // through the seq index, so this does not grow with the log. The mark is
  // no more than the head, whatever the table says.
  const std::int64_t closed_through =
      std::min(IntentsClosedThrough(*db_), last_seq_);
  SQLite::Statement q(*db_, R"sql(
    SELECT i.seq, i.request_id, i.principal, i.method, i.path, i.phone_number,
           i.rule_id, i.policy_hash
    FROM audit_records i
    WHERE i.seq > ? AND i.stage = 'intent'
      AND NOT EXISTS (SELECT 1 FROM audit_records o
                      WHERE o.stage = 'outcome' AND o.intent_seq = i.seq)
    ORDER BY i.seq)sql");
  q.bind(1, closed_through);
  std::vector<Record> closing;
  while (q.executeStep()) {
    Record r;
    r.stage = Stage::kOutcome;
    r.intent_seq = q.getColumn(0).getInt64();
    auto text = [&](int col) {
      return q.getColumn(col).isNull() ? std::string()
                                       : q.getColumn(col).getString();
    };
    r.request_id = text(1);
    r.principal = text(2);
    r.method = text(3);
    r.path = text(4);
    r.phone_number = text(5);
    r.rule_id = text(6);
    r.policy_hash = text(7);
    r.decision = "allow";
    r.outcome = OutcomeName(ReleaseOutcome::kUnknown);
    r.reason = "recovered_at_start";
    r.detail =
        "the gateway stopped after recording the intent and before recording "
        "an outcome; the upstream may or may not have released the number";
    closing.push_back(std::move(r));
  }
  q.reset();
  SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
  for (Record& r : closing) {
    r.time_us = clock_us_();
    InsertLocked(r);
  }
  SetIntentsClosedThrough(*db_, last_seq_);
  tx.commit();
  recovered_intents_ = closing.size();
}

}  // namespace agni::audit
