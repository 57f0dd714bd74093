// GET /v1/audit's pages on a large log: time bounds found by a binary search
// over seq agree with a scan, whatever the ties and gaps; a filter that no
// single index answers searches a bounded window and says where to go on;
// the records are those of the table, column for column.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "audit/read/query.h"
#include "audit/record_io.h"
#include "audit/store.h"
#include "tests/support/temp_dir.h"

namespace agni::audit {
namespace {

// A log with the store's schema and the query indexes; rows are inserted
// directly (the chain plays no part in a query).
class QueryLog {
 public:
  QueryLog() : path_(dir_.File("audit.db")) {
    { AuditStore store({path_}); }
    PrepareReadSide(path_);
    db_ = std::make_unique<SQLite::Database>(path_, SQLite::OPEN_READWRITE);
    db_->exec("BEGIN");
    insert_ = std::make_unique<SQLite::Statement>(
        *db_,
        "INSERT INTO audit_records (seq, time, stage, principal, decision, "
        "prev_hash, hash) VALUES (?, ?, ?, ?, 'allow', 'p', 'h')");
  }
  void Add(std::int64_t seq, const std::string& time,
           const std::string& stage = "decision",
           const std::string& principal = "alice") {
    insert_->reset();
    insert_->bind(1, seq);
    insert_->bind(2, time);
    insert_->bind(3, stage);
    insert_->bind(4, principal);
    insert_->exec();
  }
  SQLite::Database& Commit() {
    insert_.reset();
    db_->exec("COMMIT");
    return *db_;
  }
  std::optional<std::int64_t> Scan(const std::string& sql,
                                   const std::string& time) {
    SQLite::Statement q(*db_, sql);
    q.bind(1, time);
    q.executeStep();
    if (q.getColumn(0).isNull()) return std::nullopt;
    return q.getColumn(0).getInt64();
  }

 private:
  testing::TempDir dir_;
  std::string path_;
  std::unique_ptr<SQLite::Database> db_;
  std::unique_ptr<SQLite::Statement> insert_;
};

std::string At(int second) {
  char text[40];
  std::snprintf(text, sizeof text, "2026-11-26T10:%02d:%02d.000000Z",
                second / 60, second % 60);
  return text;
}

TEST(AuditQueryScale, TimeBoundsAgreeWithAScanAcrossTiesAndGaps) {
  QueryLog log;
  // From seq 40 on (the front archived), gaps of 1-2 seqs, runs of equal
  // times (a busy second) and jumps.
  std::int64_t seq = 40;
  int second = 3;
  for (int i = 0; i < 300; ++i) {
    log.Add(seq, At(second));
    seq += 1 + (i % 7 == 0);
    if (i % 3 != 0) second += 1 + (i % 11 == 0) * 5;
  }
  SQLite::Database& db = log.Commit();
  std::set<std::string> probes = {At(0), At(second + 5),
                                  "2026-11-26T10:00:03.5Z"};
  for (int s = 0; s <= second + 1; ++s) {
    probes.insert(At(s));
    probes.insert(At(s).substr(0, 20) + "500000Z");
  }
  for (const std::string& t : probes) {
    EXPECT_EQ(FirstSeqFrom(db, t),
              log.Scan("SELECT min(seq) FROM audit_records WHERE time >= ?", t))
        << t;
    EXPECT_EQ(LastSeqThrough(db, t, true),
              log.Scan("SELECT max(seq) FROM audit_records WHERE time <= ?", t))
        << t;
    EXPECT_EQ(LastSeqThrough(db, t, false),
              log.Scan("SELECT max(seq) FROM audit_records WHERE time < ?", t))
        << t;
  }

  // A window query returns exactly the records a scan finds, column for
  // column as the table holds them.
  AuditQuery q;
  ASSERT_EQ(ParseAuditQuery("from=2026-11-26T10:01:00Z&to=2026-11-26T10:02:"
                            "00Z&limit=1000",
                            q),
            "");
  const nlohmann::json page = nlohmann::json::parse(RunAuditQuery(db, q));
  SQLite::Statement rows(db,
                         "SELECT * FROM audit_records WHERE time >= ? AND "
                         "time <= ? ORDER BY seq");
  rows.bind(1, q.from);
  rows.bind(2, q.to);
  std::vector<nlohmann::json> expected;
  while (rows.executeStep()) expected.push_back(RowObject(rows));
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(page["records"], nlohmann::json(expected));
  EXPECT_TRUE(page["next_after_seq"].is_null());
}

TEST(AuditQueryScale, AFilterNoIndexAnswersSearchesABoundedWindow) {
  QueryLog log;
  const std::int64_t head = kScanWindow * 2 + kScanWindow / 2;
  for (std::int64_t seq = 1; seq <= head; ++seq) {
    const bool outcome = seq == 5 || seq == head - 10;
    log.Add(seq, At(0), outcome ? "outcome" : "decision",
            seq == 7 || seq == head - 3 ? "mallory" : "alice");
  }
  SQLite::Database& db = log.Commit();

  // stage= reads rows that do not match: one window per page, and the
  // pages, followed to the end, find both records.
  AuditQuery q;
  ASSERT_EQ(ParseAuditQuery("stage=outcome&limit=10", q), "");
  std::vector<std::int64_t> found;
  std::vector<nlohmann::json> cursors;
  for (int i = 0; i < 10; ++i) {
    const nlohmann::json page = nlohmann::json::parse(RunAuditQuery(db, q));
    for (const auto& r : page["records"]) found.push_back(r["seq"]);
    cursors.push_back(page["next_after_seq"]);
    if (page["next_after_seq"].is_null()) break;
    q.after_seq = page["next_after_seq"].get<std::int64_t>();
  }
  EXPECT_EQ(found, (std::vector<std::int64_t>{5, head - 10}));
  EXPECT_EQ(nlohmann::json(cursors),
            nlohmann::json({kScanWindow, 2 * kScanWindow, nullptr}));

  // One indexed filter alone: its index holds only matches, one page.
  AuditQuery user;
  ASSERT_EQ(ParseAuditQuery("user=mallory", user), "");
  const nlohmann::json page = nlohmann::json::parse(RunAuditQuery(db, user));
  ASSERT_EQ(page["records"].size(), 2u);
  EXPECT_EQ(page["records"][1]["seq"], head - 3);
  EXPECT_TRUE(page["next_after_seq"].is_null());
}

}  // namespace
}  // namespace agni::audit
