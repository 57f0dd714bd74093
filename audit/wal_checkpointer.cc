#include "audit/wal_checkpointer.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <stdexcept>

namespace agni::audit {

WalCheckpointer::WalCheckpointer(const std::string& path, int threshold_frames,
                                 int inline_frames)
    : threshold_frames_(threshold_frames), inline_frames_(inline_frames) {
  db_ = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE);
  // A checkpoint that meets the writer's lock retries for a while instead of
  // giving up; PASSIVE never makes the writer wait.
  db_->setBusyTimeout(2000);
  // The checkpoint syncs the WAL before copying and the database after, as
  // the writer's own checkpoints did.
  db_->exec("PRAGMA synchronous=FULL");
  thread_ = std::thread([this] { Loop(); });
}

WalCheckpointer::~WalCheckpointer() {
  Stop();
  // The writer's connection may outlive this object: back to SQLite's own
  // automatic checkpoints, and no hook pointing here.
  if (writer_ != nullptr) sqlite3_wal_autocheckpoint(writer_, 1000);
  db_.reset();
}

void WalCheckpointer::Attach(sqlite3* writer) {
  writer_ = writer;
  sqlite3_wal_autocheckpoint(writer, 0);
  // Replaces the (now disabled) autocheckpoint hook: they share one slot.
  sqlite3_wal_hook(writer, &WalCheckpointer::WalHook, this);
}

void WalCheckpointer::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t WalCheckpointer::checkpoints() const {
  std::lock_guard lock(mu_);
  return checkpoints_;
}

int WalCheckpointer::WalHook(void* self, sqlite3* db, const char* name,
                             int frames) {
  auto* me = static_cast<WalCheckpointer*>(self);
  bool running = false;
  {
    std::lock_guard lock(me->mu_);
    running = !me->stopping_;
    // The writer restarted the WAL (a checkpoint had caught up with it).
    if (frames < me->signalled_at_) me->signalled_at_ = 0;
    // Ask again only after another `threshold` frames: under constant load
    // a checkpoint never quite catches up, and asking after every commit
    // would run them back to back, each with its own syncs.
    if (running && frames >= me->signalled_at_ + me->threshold_frames_) {
      me->signalled_at_ = frames;
      me->wanted_ = true;
      me->cv_.notify_one();
    }
  }
  // The WAL only restarts when a write begins with every frame copied back,
  // which commits arriving during each background checkpoint can keep from
  // happening; past `inline_frames`, or with no background thread, the
  // writer checkpoints itself as SQLite's own autocheckpoint would. The
  // background runs have copied all but the newest frames, so this is short.
  const int inline_at = running ? me->inline_frames_ : me->threshold_frames_;
  if (frames >= inline_at) {
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                              nullptr);
  }
  return SQLITE_OK;
}

void WalCheckpointer::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || wanted_; });
    if (stopping_) return;
    wanted_ = false;
    lock.unlock();
    int log = 0;
    int copied = 0;
    const int rc = sqlite3_wal_checkpoint_v2(
        db_->getHandle(), "main", SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    lock.lock();
    // SQLITE_BUSY (another checkpoint ran) is harmless: the next commit past
    // the threshold asks again.
    if (rc == SQLITE_OK) ++checkpoints_;
  }
}

}  // namespace agni::audit
