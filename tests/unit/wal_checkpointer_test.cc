// The audit store's WAL checkpoints run on their own thread and connection
// (audit/wal_checkpointer.h): they must happen, keep the WAL file bounded
// whatever the load, and lose nothing.
#include "audit/wal_checkpointer.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

namespace agni::audit {
namespace {

using std::chrono::milliseconds;

constexpr std::uintmax_t kFrameBytes = 4096 + 24;  // page + frame header

class WalCheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/agni-walckpt-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/audit.db";
    db_ = std::make_unique<SQLite::Database>(
        path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db_->exec("PRAGMA journal_mode=WAL");
    db_->exec("PRAGMA synchronous=FULL");
    db_->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
    db_->exec("CREATE INDEX t_v ON t (v)");
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  // One transaction per row, as the audit writer commits at low load.
  void Insert(int from, int count) {
    SQLite::Statement insert(*db_, "INSERT INTO t (id, v) VALUES (?, ?)");
    for (int i = from; i < from + count; ++i) {
      insert.reset();
      insert.bind(1, i);
      insert.bind(2, "value-" + std::to_string(i * 7919 % 10007));
      insert.exec();
    }
  }
  std::uintmax_t WalBytes() const {
    std::error_code ec;
    const auto n = std::filesystem::file_size(path_ + "-wal", ec);
    return ec ? 0 : n;
  }
  std::int64_t Rows() {
    return db_->execAndGet("SELECT count(*) FROM t").getInt64();
  }

  std::string dir_, path_;
  std::unique_ptr<SQLite::Database> db_;
};

bool WaitFor(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(10'000);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return done();
}

TEST_F(WalCheckpointerTest, CheckpointsInTheBackgroundAndKeepsTheWalBounded) {
  WalCheckpointer checkpointer(path_, /*threshold_frames=*/20,
                               /*inline_frames=*/200);
  checkpointer.Attach(db_->getHandle());
  Insert(0, 50);
  ASSERT_TRUE(WaitFor([&] { return checkpointer.checkpoints() > 0; }))
      << "no background checkpoint after 50 commits";
  // Many more commits than the bound: the WAL never grows past it (plus the
  // frames of one commit), whether the background runs kept up or the
  // writer had to checkpoint inline.
  std::uintmax_t largest = 0;
  for (int round = 0; round < 20; ++round) {
    Insert(100 + round * 100, 100);
    largest = std::max(largest, WalBytes());
  }
  // (An inline checkpoint can meet a background one and retry at the next
  // commit, hence the slack.)
  EXPECT_LE(largest, (3 * 200) * kFrameBytes + 32);
  EXPECT_EQ(Rows(), 2050);
  EXPECT_EQ(db_->execAndGet("PRAGMA integrity_check").getString(), "ok");
}

TEST_F(WalCheckpointerTest, AfterStopTheWriterCheckpointsItself) {
  WalCheckpointer checkpointer(path_, 20, 200);
  checkpointer.Attach(db_->getHandle());
  checkpointer.Stop();
  std::uintmax_t largest = 0;
  for (int round = 0; round < 10; ++round) {
    Insert(round * 100, 100);
    largest = std::max(largest, WalBytes());
  }
  EXPECT_EQ(checkpointer.checkpoints(), 0u);
  EXPECT_LE(largest, (20 + 16) * kFrameBytes + 32);
  EXPECT_EQ(Rows(), 1000);
}

TEST_F(WalCheckpointerTest, WriterKeepsCheckpointingAfterTheCheckpointerIsGone) {
  {
    WalCheckpointer checkpointer(path_, 20, 200);
    checkpointer.Attach(db_->getHandle());
    Insert(0, 10);
  }
  // SQLite's own autocheckpoint (1000 frames) is back: the WAL is bounded
  // by it, and the hook no longer points at the destroyed object.
  std::uintmax_t largest = 0;
  for (int round = 0; round < 30; ++round) {
    Insert(100 + round * 100, 100);
    largest = std::max(largest, WalBytes());
  }
  EXPECT_LE(largest, (1000 + 16) * kFrameBytes + 32);
  EXPECT_EQ(Rows(), 3010);
}

}  // namespace
}  // namespace agni::audit
