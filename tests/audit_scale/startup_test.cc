// Start-up that does not grow with the log: `serve` trusts the chain up to
// the newest checkpoint its own key signed and re-hashes only what follows;
// intents left open are found from a mark, not by reading every row.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "audit/checkpoint.h"
#include "audit/read/query.h"
#include "audit/read/verify.h"
#include "audit/record.h"
#include "audit/store.h"
#include "tests/support/temp_dir.h"

namespace agni::audit {
namespace {

class StartupFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    db = dir.File("audit.db");
    key = std::make_unique<SigningKey>(SigningKey::Generate());
  }

  // Appends `n` denial records; returns the last seq.
  std::int64_t Denials(AuditStore& store, int n) {
    std::int64_t seq = 0;
    for (int i = 0; i < n; ++i) {
      Record d;
      d.stage = Stage::kDecision;
      d.principal = "mallory";
      d.decision = "deny";
      d.reason = "policy_denied";
      d.response_status = 403;
      const AppendResult r = store.Append(d);
      EXPECT_TRUE(r.ok) << r.error;
      seq = r.seq;
    }
    return seq;
  }

  std::int64_t Intent(AuditStore& store) {
    Record in;
    in.stage = Stage::kIntent;
    in.principal = "alice";
    in.phone_number = "+15551230000";
    in.decision = "allow";
    const AppendResult r = store.Append(in);
    EXPECT_TRUE(r.ok) << r.error;
    return r.seq;
  }

  std::int64_t Outcome(AuditStore& store, std::int64_t intent) {
    Record out;
    out.stage = Stage::kOutcome;
    out.principal = "alice";
    out.decision = "allow";
    out.intent_seq = intent;
    out.outcome = "released";
    out.response_status = 200;
    const AppendResult r = store.Append(out);
    EXPECT_TRUE(r.ok) << r.error;
    return r.seq;
  }

  std::int64_t Sign() {
    PrepareReadSide(db);
    Checkpointer cp(db, *key, std::chrono::hours(1));
    std::string error;
    auto c = cp.WriteNow(true, error);
    EXPECT_TRUE(c) << error;
    return c ? c->seq : -1;
  }

  void Tamper(const std::string& sql) {
    SQLite::Database d(db, SQLite::OPEN_READWRITE);
    d.exec("DROP TRIGGER IF EXISTS audit_records_no_update;");
    d.exec(sql);
  }

  testing::TempDir dir;
  std::string db;
  std::unique_ptr<SigningKey> key;
};

TEST_F(StartupFixture, RehashesOnlyTheRecordsAfterItsOwnNewestCheckpoint) {
  {
    AuditStore store({db});
    Denials(store, 500);
  }
  ASSERT_EQ(Sign(), 500);
  {
    AuditStore store({db});
    Denials(store, 7);  // 501..507, not signed yet (a crash, say)
  }
  const StartCheck with_key = CheckBeforeServing(db, key->public_key_hex());
  EXPECT_EQ(with_key.error, "");
  EXPECT_EQ(with_key.trusted_seq, 500);
  EXPECT_EQ(with_key.rehashed, 7);

  // Without the key nothing is trusted: the whole chain.
  const StartCheck without = CheckBeforeServing(db, "");
  EXPECT_EQ(without.error, "");
  EXPECT_EQ(without.trusted_seq, 0);
  EXPECT_EQ(without.rehashed, 507);

  // Another key's checkpoint is not this gateway's to trust.
  const SigningKey other = SigningKey::Generate();
  EXPECT_EQ(CheckBeforeServing(db, other.public_key_hex()).rehashed, 507);
}

TEST_F(StartupFixture, ARecordAlteredAfterTheCheckpointStillStopsTheStart) {
  {
    AuditStore store({db});
    Denials(store, 20);
  }
  ASSERT_EQ(Sign(), 20);
  {
    AuditStore store({db});
    Denials(store, 5);
  }
  Tamper("UPDATE audit_records SET principal = 'eve' WHERE seq = 23");
  const StartCheck c = CheckBeforeServing(db, key->public_key_hex());
  EXPECT_NE(c.error.find("broken at seq 23"), std::string::npos) << c.error;
}

TEST_F(StartupFixture, AnUnusableNewestCheckpointFallsBackToTheWholeChain) {
  {
    AuditStore store({db});
    Denials(store, 10);
  }
  ASSERT_EQ(Sign(), 10);
  // The record it vouches for was rewritten (and re-chained from there on):
  // the full check names the checkpoint's seq.
  Tamper("UPDATE audit_records SET hash = 'x' WHERE seq = 10");
  const StartCheck c = CheckBeforeServing(db, key->public_key_hex());
  EXPECT_EQ(c.trusted_seq, 0);
  EXPECT_NE(c.error.find("broken at seq 10"), std::string::npos) << c.error;
}

// Signing while a release is in flight, then again after its outcome: the
// outcome of an intent before the previous checkpoint is not a problem.
TEST_F(StartupFixture, CheckpointerSignsOverAnOutcomeOfAnEarlierIntent) {
  AuditStore store({db});
  Denials(store, 2);
  const std::int64_t intent = Intent(store);
  PrepareReadSide(db);
  Checkpointer cp(db, *key, std::chrono::hours(1));
  std::string error;
  ASSERT_TRUE(cp.WriteNow(true, error)) << error;
  const std::int64_t out = Outcome(store, intent);
  auto c = cp.WriteNow(true, error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(c->seq, out);
  store.Close();
  EXPECT_EQ(CheckBeforeServing(db, key->public_key_hex()).error, "");
}

TEST_F(StartupFixture, OpenIntentsAreLookedForAfterTheMarkOnly) {
  std::int64_t open = 0;
  {
    AuditStore store({db});
    Denials(store, 3);
    open = Intent(store);  // no outcome: the process "crashes"
    Denials(store, 2);
  }
  {
    AuditStore store({db});
    EXPECT_EQ(store.recovered_intents(), 1u);
    Denials(store, 1);
  }
  SQLite::Database d(db, SQLite::OPEN_READONLY);
  // The start closed it and marked everything up to its own head closed.
  EXPECT_EQ(IntentsClosedThrough(d), open + 3);
  EXPECT_FALSE(FirstOpenIntent(d, 0, 1000));

  // The checkpointer moves the mark to just before the first open intent.
  std::int64_t in_flight = 0;
  {
    AuditStore store({db});
    Denials(store, 2);
    in_flight = Intent(store);
    Denials(store, 2);
    ASSERT_GT(Sign(), in_flight);
    EXPECT_EQ(IntentsClosedThrough(d), in_flight - 1);
    Outcome(store, in_flight);
    Denials(store, 1);
    const std::int64_t head = Sign();
    EXPECT_EQ(IntentsClosedThrough(d), head);
  }
}

// An intent older than the mark is not read again: proof that the start
// looks at the rows after the mark only (a whole-table scan would close it).
TEST_F(StartupFixture, StartDoesNotReadIntentsBeforeTheMark) {
  {
    AuditStore store({db});
    Denials(store, 5);
  }
  { AuditStore restarted({db}); }  // marks 1..5 closed
  {
    SQLite::Database d(db, SQLite::OPEN_READONLY);
    ASSERT_EQ(IntentsClosedThrough(d), 5);
  }
  Tamper("UPDATE audit_records SET stage = 'intent' WHERE seq = 2");
  AuditStore store({db});
  EXPECT_EQ(store.recovered_intents(), 0u);
}

}  // namespace
}  // namespace agni::audit
