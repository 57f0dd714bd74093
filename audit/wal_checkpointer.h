// Moves SQLite's WAL checkpoints off the audit writer's commit path.
//
// With the default wal_autocheckpoint, the commit that takes the WAL past
// 1000 pages also copies them back into the database file and syncs it: one
// release in about 65 (at one connection) waits for an extra fdatasync, which
// lands in the gateway's p99. Instead the writer's connection disables
// automatic checkpoints and reports its WAL size after each commit
// (Attach()); this class runs PASSIVE checkpoints on its own connection and
// thread each time the WAL has grown by `threshold_frames`. A PASSIVE
// checkpoint never blocks the writer. The WAL file only starts over when a
// write begins with every frame copied back, which commits landing during a
// background run usually prevent; so once the WAL reaches `inline_frames`
// (4 KiB each; 4000 = 16 MiB) the writer checkpoints inline as SQLite would
// have. That run copies only the frames written since the last background
// one, and comes once per `inline_frames` instead of once per 1000.
//
// Thread-safe: the hook runs on the writer's thread, the checkpoints on this
// class's own thread; they share only the fields behind `mu_`.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

struct sqlite3;

namespace SQLite {
class Database;
}

namespace agni::audit {

class WalCheckpointer {
 public:
  // Opens a second connection to `path` (an existing WAL database) and starts
  // the checkpoint thread. Throws std::runtime_error.
  WalCheckpointer(const std::string& path, int threshold_frames = 1000,
                  int inline_frames = 4000);
  ~WalCheckpointer();  // stops the thread and closes its connection

  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Turns off `writer`'s automatic checkpoints and has its commits report
  // to this checkpointer. Call before the first write, from the thread that
  // uses `writer`; this object must outlive every commit on `writer`.
  void Attach(sqlite3* writer);

  // Stops the thread; later commits checkpoint inline (as SQLite's default).
  void Stop();

  // Checkpoints completed on the background connection (for tests).
  std::uint64_t checkpoints() const;

 private:
  static int WalHook(void* self, sqlite3* db, const char* name, int frames);
  void Loop();

  const int threshold_frames_;
  const int inline_frames_;
  std::unique_ptr<SQLite::Database> db_;  // checkpoint thread only
  sqlite3* writer_ = nullptr;             // set by Attach()

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool wanted_ = false;
  int signalled_at_ = 0;  // WAL frames when a checkpoint was last asked for
  bool stopping_ = false;
  std::uint64_t checkpoints_ = 0;
  std::thread thread_;
};

}  // namespace agni::audit
