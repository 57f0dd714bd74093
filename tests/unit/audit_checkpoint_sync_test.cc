// Who pays for a WAL checkpoint's sync of the database file. SQLite syncs the
// database at the end of a checkpoint only when it copied the whole WAL; a
// background pass overtaken by a commit copies the rest of it next time, so
// its pages stayed dirty until the next leader's catch-up synced them all,
// inside a caller's commit (BENCHMARKS.md, issue 20). The checkpointer now
// syncs what it copied itself. These tests watch every write and sync of the
// database file through a pass-through SQLite VFS, made the default for the
// test's duration so that the store's own connections go through it.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "audit/record.h"
#include "audit/store.h"
#include "tests/support/temp_dir.h"

namespace agni::audit {
namespace {

using std::chrono::seconds;

// What happened to the main database file, across every connection to it.
// Thread-safe (one mutex). Can hold the first write of the checkpointer's
// pass, so that a test commits while the pass is copying.
class DatabaseFileLog {
 public:
  struct Sync {
    std::thread::id thread;
    // Bytes written to the file since its previous sync by threads other
    // than the one syncing now.
    std::size_t others_bytes = 0;
    std::size_t own_bytes = 0;
  };

  // The next write by a thread other than `owner` waits for Release().
  void HoldNextWriteNotBy(std::thread::id owner) {
    std::lock_guard lock(mu_);
    owner_ = owner;
    armed_ = true;
  }
  bool WaitUntilHeld(seconds limit) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return held_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

  void OnWrite(std::size_t bytes) {
    std::unique_lock lock(mu_);
    const std::thread::id me = std::this_thread::get_id();
    if (armed_ && me != owner_) {
      armed_ = false;
      held_ = true;
      cv_.notify_all();
      // Bounded: a store that never commits meanwhile fails the test, not
      // the run.
      cv_.wait_for(lock, seconds(10), [&] { return released_; });
    }
    unsynced_.push_back({me, bytes});
  }
  void OnSync() {
    std::lock_guard lock(mu_);
    Sync s{std::this_thread::get_id()};
    for (const auto& [thread, bytes] : unsynced_) {
      (thread == s.thread ? s.own_bytes : s.others_bytes) += bytes;
    }
    unsynced_.clear();
    syncs_.push_back(s);
  }
  std::vector<Sync> syncs() const {
    std::lock_guard lock(mu_);
    return syncs_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::thread::id, std::size_t>> unsynced_;
  std::vector<Sync> syncs_;
  std::thread::id owner_;
  bool armed_ = false;
  bool held_ = false;
  bool released_ = false;
};

// A file of the pass-through VFS: the real one follows it in memory.
struct ShimFile {
  sqlite3_file base;
  sqlite3_file* real;
  DatabaseFileLog* log;  // null for every file but the main database
};

sqlite3_file* Real(sqlite3_file* f) {
  return reinterpret_cast<ShimFile*>(f)->real;
}

int ShimClose(sqlite3_file* f) { return Real(f)->pMethods->xClose(Real(f)); }
int ShimRead(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return Real(f)->pMethods->xRead(Real(f), buf, n, off);
}
int ShimWrite(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  if (DatabaseFileLog* log = reinterpret_cast<ShimFile*>(f)->log) {
    log->OnWrite(static_cast<std::size_t>(n));
  }
  return Real(f)->pMethods->xWrite(Real(f), buf, n, off);
}
int ShimTruncate(sqlite3_file* f, sqlite3_int64 size) {
  return Real(f)->pMethods->xTruncate(Real(f), size);
}
int ShimSync(sqlite3_file* f, int flags) {
  const int rc = Real(f)->pMethods->xSync(Real(f), flags);
  if (DatabaseFileLog* log = reinterpret_cast<ShimFile*>(f)->log) {
    if (rc == SQLITE_OK) log->OnSync();
  }
  return rc;
}
int ShimFileSize(sqlite3_file* f, sqlite3_int64* size) {
  return Real(f)->pMethods->xFileSize(Real(f), size);
}
int ShimLock(sqlite3_file* f, int level) {
  return Real(f)->pMethods->xLock(Real(f), level);
}
int ShimUnlock(sqlite3_file* f, int level) {
  return Real(f)->pMethods->xUnlock(Real(f), level);
}
int ShimCheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int ShimFileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int ShimSectorSize(sqlite3_file* f) {
  return Real(f)->pMethods->xSectorSize(Real(f));
}
int ShimDeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}
int ShimShmMap(sqlite3_file* f, int page, int size, int extend,
               void volatile** out) {
  return Real(f)->pMethods->xShmMap(Real(f), page, size, extend, out);
}
int ShimShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void ShimShmBarrier(sqlite3_file* f) {
  Real(f)->pMethods->xShmBarrier(Real(f));
}
int ShimShmUnmap(sqlite3_file* f, int delete_flag) {
  return Real(f)->pMethods->xShmUnmap(Real(f), delete_flag);
}
int ShimFetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  return Real(f)->pMethods->xFetch(Real(f), off, n, out);
}
int ShimUnfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return Real(f)->pMethods->xUnfetch(Real(f), off, p);
}

const sqlite3_io_methods kShimMethods = {3,
                                         ShimClose,
                                         ShimRead,
                                         ShimWrite,
                                         ShimTruncate,
                                         ShimSync,
                                         ShimFileSize,
                                         ShimLock,
                                         ShimUnlock,
                                         ShimCheckReservedLock,
                                         ShimFileControl,
                                         ShimSectorSize,
                                         ShimDeviceCharacteristics,
                                         ShimShmMap,
                                         ShimShmLock,
                                         ShimShmBarrier,
                                         ShimShmUnmap,
                                         ShimFetch,
                                         ShimUnfetch};

// The default VFS wrapped, registered as the default while it lives.
class ShimVfs {
 public:
  explicit ShimVfs(DatabaseFileLog& log) : log_(log) {
    real_ = sqlite3_vfs_find(nullptr);
    vfs_ = *real_;
    vfs_.zName = "agni-test-sync-log";
    vfs_.szOsFile = static_cast<int>(sizeof(ShimFile)) + real_->szOsFile;
    vfs_.pAppData = this;
    vfs_.pNext = nullptr;
    vfs_.xOpen = &ShimVfs::Open;
    if (sqlite3_vfs_register(&vfs_, /*makeDflt=*/1) != SQLITE_OK) {
      throw std::runtime_error("cannot register the test VFS");
    }
  }
  ~ShimVfs() {
    sqlite3_vfs_unregister(&vfs_);
    sqlite3_vfs_register(real_, /*makeDflt=*/1);
  }
  ShimVfs(const ShimVfs&) = delete;
  ShimVfs& operator=(const ShimVfs&) = delete;

 private:
  static int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file,
                  int flags, int* out_flags) {
    auto* self = static_cast<ShimVfs*>(vfs->pAppData);
    auto* shim = reinterpret_cast<ShimFile*>(file);
    shim->real = reinterpret_cast<sqlite3_file*>(shim + 1);
    shim->log = (flags & SQLITE_OPEN_MAIN_DB) != 0 ? &self->log_ : nullptr;
    const int rc =
        self->real_->xOpen(self->real_, name, shim->real, flags, out_flags);
    shim->base.pMethods =
        shim->real->pMethods != nullptr ? &kShimMethods : nullptr;
    return rc;
  }

  DatabaseFileLog& log_;
  sqlite3_vfs* real_ = nullptr;
  sqlite3_vfs vfs_{};
};

// A decision record is all a checkpoint needs to copy.
bool Append(AuditStore& store, const std::string& request_id) {
  Record r;
  r.stage = Stage::kDecision;
  r.request_id = request_id;
  return store.Append(std::move(r)).ok;
}

TEST(AuditCheckpointSyncTest,
     ACallersCatchUpNeverSyncsTheBackgroundPassesPages) {
  DatabaseFileLog log;
  ShimVfs vfs(log);
  testing::TempDir dir;
  StoreOptions options{(dir.path() / "audit.db").string()};
  options.checkpoint_frames = 40;
  AuditStore store(options);
  const std::thread::id caller = std::this_thread::get_id();

  // Hold the background pass at its first page copied, commit meanwhile, let
  // it go on: SQLite's pass then copies only part of the WAL and does not
  // sync the database itself.
  log.HoldNextWriteNotBy(caller);
  int n = 0;
  while (n < 400 && !log.WaitUntilHeld(seconds(0))) {
    ASSERT_TRUE(Append(store, "r-" + std::to_string(n++)));
  }
  ASSERT_TRUE(log.WaitUntilHeld(seconds(10)))
      << "no background checkpoint began after " << n << " records";
  ASSERT_TRUE(Append(store, "during-the-pass"));
  log.Release();
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (store.background_checkpoints() == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_GE(store.background_checkpoints(), 1u);
  // The next commit's leader (this thread) finishes the checkpoint.
  ASSERT_TRUE(Append(store, "catch-up"));

  std::size_t checkpointer_synced = 0;
  bool caught_up = false;  // a caller's sync after the checkpointer's
  for (const DatabaseFileLog::Sync& s : log.syncs()) {
    if (s.thread == caller) {
      caught_up = caught_up || checkpointer_synced > 0;
      EXPECT_EQ(s.others_bytes, 0u)
          << "a caller's sync wrote back pages the checkpointer copied";
    } else {
      checkpointer_synced += s.own_bytes;
    }
  }
  EXPECT_GT(checkpointer_synced, 0u)
      << "the checkpointer never synced the pages it copied";
  EXPECT_TRUE(caught_up) << "no catch-up synced on the caller's thread";
}

}  // namespace
}  // namespace agni::audit
