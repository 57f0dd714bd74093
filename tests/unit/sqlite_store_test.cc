// The SQLite helpers the stores share (audit/sqlite_store.h) and the
// checkpoint rows read and written through them (audit/checkpoint.h): each
// argument lands in the next parameter, a store file is opened for durable
// writes, a seq range keeps both its ends.
#include "audit/sqlite_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "audit/checkpoint.h"
#include "tests/support/temp_dir.h"

namespace agni::testing {
namespace {

TEST(SqliteStoreTest, EachArgumentIsBoundToTheNextParameterInOrder) {
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE);
  db.exec("CREATE TABLE t (a TEXT, b INTEGER, c TEXT, d INTEGER)");
  const std::int64_t big = 9'007'199'254'740'993;  // not exact as a double
  EXPECT_EQ(audit::ExecBound(db, "INSERT INTO t VALUES (?, ?, ?, ?)",
                             std::string("temporary"), big, "literal", 7),
            1);
  EXPECT_EQ(audit::ExecBound(db, "INSERT INTO t VALUES (?, ?, ?, ?)",
                             std::string("second"), std::int64_t{2}, "x", 0),
            1);
  SQLite::Statement q = audit::BoundStatement(
      db, "SELECT a, b, c, d FROM t WHERE b = ? AND c = ?", big, "literal");
  ASSERT_TRUE(q.executeStep());
  EXPECT_EQ(q.getColumn(0).getString(), "temporary");
  EXPECT_EQ(q.getColumn(1).getInt64(), big);
  EXPECT_EQ(q.getColumn(2).getString(), "literal");
  EXPECT_EQ(q.getColumn(3).getInt(), 7);
  EXPECT_FALSE(q.executeStep());
  EXPECT_EQ(audit::ExecBound(db, "DELETE FROM t WHERE d < ?", 100), 2);
}

TEST(SqliteStoreTest, AStoreFileIsOpenedInWalModeWithFullSync) {
  TempDir dir;
  auto db = audit::OpenDurable(dir.File("store.db"));
  EXPECT_EQ(db->execAndGet("PRAGMA journal_mode").getString(), "wal");
  EXPECT_EQ(db->execAndGet("PRAGMA synchronous").getInt(), 2);  // FULL
}

TEST(SqliteStoreTest, CheckpointsBetweenTwoSeqsKeepBothEndsOldestFirst) {
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE);
  EXPECT_TRUE(audit::StoredCheckpointsBetween(db, 0, 100).empty());
  audit::EnsureCheckpointSchema(db);
  for (std::int64_t seq : {5, 1, 3, 4, 2}) {
    audit::InsertCheckpoint(
        db, {seq, "hash-" + std::to_string(seq), "t", "key", "pub", "sig"});
  }
  std::vector<std::pair<std::int64_t, std::int64_t>> id_seq;
  for (const auto& [id, c] : audit::StoredCheckpointsBetween(db, 2, 4)) {
    EXPECT_EQ(c.hash, "hash-" + std::to_string(c.seq));
    EXPECT_EQ(c.signature, "sig");
    id_seq.emplace_back(id, c.seq);
  }
  // Rows 3, 4 and 5 were inserted as seqs 3, 4 and 2.
  EXPECT_EQ(id_seq, (std::vector<std::pair<std::int64_t, std::int64_t>>{
                        {3, 3}, {4, 4}, {5, 2}}));
  EXPECT_EQ(audit::StoredCheckpoints(db).size(), 5u);
}

}  // namespace
}  // namespace agni::testing
