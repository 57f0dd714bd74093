// AuditStore's WAL checkpoints (audit/store.h): requested by the leader whose
// commit crossed `checkpoint_frames`, run by a thread of their own on a second
// connection, finished by the next leader so that the WAL restarts.
#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <memory>
#include <mutex>

#include "audit/store.h"

namespace agni::audit {

std::size_t AuditStore::background_checkpoints() const {
  std::lock_guard lock(ckpt_mu_);
  return ckpt_done_;
}

int AuditStore::OnWalCommit(void* self, sqlite3* /*db*/, const char* /*name*/,
                            int frames) {
  static_cast<AuditStore*>(self)->wal_frames_ = frames;
  return SQLITE_OK;
}

namespace {

// SQLite syncs the database at the end of a checkpoint only when the pass
// copied the whole WAL. A pass overtaken by a commit (always, under load)
// left every page it copied unsynced, and the next leader's catch-up synced
// them all inside a caller's commit: 0.6-1.3 ms, the 1-connection tail
// (BENCHMARKS.md, issue 20). Synced here, off the commit path, the catch-up
// writes back only the frames committed since. A failure here is left to
// SQLite's own sync in the catch-up, which reports it to that commit.
void SyncDatabaseFile(sqlite3* db) {
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) !=
          SQLITE_OK ||
      file == nullptr || file->pMethods == nullptr) {
    return;
  }
  file->pMethods->xSync(file, SQLITE_SYNC_NORMAL);
}

}  // namespace

void AuditStore::CheckpointLoop() {
  std::unique_ptr<SQLite::Database> db;
  for (;;) {
    {
      std::unique_lock lock(ckpt_mu_);
      ckpt_wake_.wait(lock, [&] { return ckpt_requested_ || ckpt_stop_; });
      if (ckpt_stop_) return;
      ckpt_requested_ = false;
    }
    try {
      if (!db) {
        db = std::make_unique<SQLite::Database>(options_.path,
                                                SQLite::OPEN_READWRITE);
        // The database file is synced before the WAL may restart over
        // the frames copied into it.
        db->exec("PRAGMA synchronous=FULL");
      }
      // PASSIVE: copies what no reader still needs, never waits for a
      // lock, and lets commits go on meanwhile. A failure leaves the work
      // to the catch-up (as inline as before, no worse).
      sqlite3_wal_checkpoint_v2(db->getHandle(), nullptr,
                                SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      SyncDatabaseFile(db->getHandle());
    } catch (const std::exception&) {
      db.reset();
    }
    {
      std::lock_guard lock(ckpt_mu_);
      ++ckpt_done_;
    }
    ckpt_catch_up_ = true;
  }
}

void AuditStore::CatchUpCheckpointLocked() {
  // Only the frames committed during the background pass are left; once
  // they are in the database, the next commit restarts the WAL from its
  // beginning (unless a reader still holds an older snapshot).
  sqlite3_wal_checkpoint_v2(db_->getHandle(), nullptr,
                            SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  std::lock_guard lock(ckpt_mu_);
  ckpt_running_ = false;
}

void AuditStore::RequestCheckpointIfDue() {
  if (!checkpointer_.joinable()) return;
  const int frames = wal_frames_;
  if (frames < last_wal_frames_) {
    next_checkpoint_at_ = static_cast<int>(options_.checkpoint_frames);
  }
  last_wal_frames_ = frames;
  if (frames < next_checkpoint_at_) return;
  {
    std::lock_guard lock(ckpt_mu_);
    if (ckpt_running_ || ckpt_stop_) return;
    ckpt_running_ = ckpt_requested_ = true;
  }
  ckpt_wake_.notify_one();
  // A reader holding an old snapshot keeps the WAL from restarting: the
  // next pass waits for as many frames again rather than for every commit.
  next_checkpoint_at_ = frames + static_cast<int>(options_.checkpoint_frames);
}

}  // namespace agni::audit
