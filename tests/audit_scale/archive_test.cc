// Retention: `audit archive` moves old records into a JSONL file with a
// signed head and leaves an `archived` record in the chain; the archives and
// the live part verify as one chain, the live part alone still verifies, a
// tampered archive line is named, and a running gateway's database is never
// archived under it.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "audit/archive.h"
#include "audit/checkpoint.h"
#include "audit/read/query.h"
#include "audit/read/verify.h"
#include "audit/record.h"
#include "audit/store.h"
#include "gateway/cli/audit_cli.h"
#include "tests/support/helpers.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace agni::audit {
namespace {

constexpr std::int64_t kDay = 86'400'000'000;
constexpr std::int64_t kNov1 = 1'793'491'200'000'000;  // 2026-11-01T00:00:00Z

class ArchiveFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    db = dir.File("audit.db");
    ASSERT_EQ(GenerateKeyFiles(dir.File("k.pem"), dir.File("k.pub")), "");
    key = std::make_unique<SigningKey>(SigningKey::LoadPem(dir.File("k.pem")));
  }

  // On day `day` of November: `n` releases (intent + outcome), then a
  // checkpoint.
  void Releases(int day, int n) {
    const std::int64_t t = kNov1 + (day - 1) * kDay;
    {
      AuditStore store({db}, nullptr, [t] { return t; });
      for (int i = 0; i < n; ++i) {
        Record in;
        in.stage = Stage::kIntent;
        in.principal = "alice";
        in.request_id = "r" + std::to_string(day) + "-" + std::to_string(i);
        in.phone_number = "+1555000" + std::to_string(1000 + i);
        in.decision = "allow";
        const AppendResult ir = store.Append(in);
        ASSERT_TRUE(ir.ok) << ir.error;
        Record out = in;
        out.stage = Stage::kOutcome;
        out.intent_seq = ir.seq;
        out.outcome = "released";
        out.response_status = 200;
        ASSERT_TRUE(store.Append(out).ok);
      }
    }
    PrepareReadSide(db);
    Checkpointer cp(db, *key, std::chrono::hours(1));
    std::string error;
    ASSERT_TRUE(cp.WriteNow(true, error)) << error;
  }

  ArchiveResult Run(const std::string& before, const std::string& out) {
    return Archive({db, before, dir.File(out), dir.File("k.pem"), "olga"});
  }

  VerifyReport VerifyAll(std::vector<std::string> archives) {
    VerifyOptions o{db, "", dir.File("k.pub"), ""};
    for (auto& a : archives) o.archives.push_back(dir.File(a));
    return Verify(o);
  }

  testing::TempDir dir;
  std::string db;
  std::unique_ptr<SigningKey> key;
};

TEST_F(ArchiveFixture, TwoArchivesAndTheLivePartVerifyAsOneChain) {
  Releases(1, 3);  // seqs 1..6
  Releases(2, 2);  // 7..10
  Releases(3, 2);  // 11..14

  const ArchiveResult a1 = Run("2026-11-02", "a1.jsonl");
  ASSERT_EQ(a1.exit_code, 0) << a1.error;
  EXPECT_EQ(a1.records, 6);
  EXPECT_EQ(a1.through_seq, 6);
  EXPECT_EQ(a1.archived_record_seq, 15);

  const ArchiveResult a2 = Run("2026-11-03", "a2.jsonl");
  ASSERT_EQ(a2.exit_code, 0) << a2.error;
  EXPECT_EQ(a2.through_seq, 10);
  EXPECT_EQ(a2.records, 4);  // 7..10
  EXPECT_EQ(a2.archived_record_seq, 16);

  // The live part: 11..16, the newest archived record names seq 10.
  const std::vector<nlohmann::json> rows = testing::ReadAuditRows(db);
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows.front()["seq"], 11);
  EXPECT_EQ(rows.back()["stage"], "archived");
  EXPECT_EQ(rows.back()["principal"], "olga");
  const auto detail =
      nlohmann::json::parse(rows.back()["detail"].get<std::string>());
  EXPECT_EQ(detail["through_seq"], 10);
  EXPECT_EQ(detail["through_hash"], a2.through_hash);

  // The signed head of an archive is a checkpoint of its last record.
  std::string error;
  auto head = CheckpointFromJson(
      nlohmann::json::parse(testing::ReadFile(a1.head_file)), error);
  ASSERT_TRUE(head) << error;
  EXPECT_EQ(head->seq, 6);
  EXPECT_EQ(head->hash, a1.through_hash);
  EXPECT_TRUE(CheckpointSignatureValid(*head));

  const VerifyReport live = VerifyAll({});
  EXPECT_EQ(live.exit_code, kVerifyOk) << VerifyReportText(live);
  EXPECT_EQ(live.records, 6);
  const VerifyReport all = VerifyAll({"a1.jsonl", "a2.jsonl"});
  EXPECT_EQ(all.exit_code, kVerifyOk) << VerifyReportText(all);
  EXPECT_EQ(all.records, 16);
  EXPECT_EQ(all.last_seq, 16);

  // Out of order, or one missing, is a gap.
  const VerifyReport missing = VerifyAll({"a2.jsonl"});
  EXPECT_EQ(missing.exit_code, kVerifyTampered);
  ASSERT_FALSE(missing.problems.empty());
  EXPECT_EQ(missing.problems.front().seq, 1) << VerifyReportText(missing);

  // The gateway starts on the trimmed log and keeps appending.
  EXPECT_EQ(CheckBeforeServing(db, key->public_key_hex()).error, "");
  Releases(4, 1);
  const VerifyReport after = VerifyAll({"a1.jsonl", "a2.jsonl"});
  EXPECT_EQ(after.exit_code, kVerifyOk) << VerifyReportText(after);
  EXPECT_EQ(after.records, 18);

  // The command line says the same.
  const testing::CommandResult cli = testing::RunGateway(
      {"audit", "verify", "--db", db, "--pubkey", dir.File("k.pub"),
       "--archive", dir.File("a1.jsonl"), "--archive", dir.File("a2.jsonl")});
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_NE(cli.output.find("OK: 18 records"), std::string::npos) << cli.output;
}

TEST_F(ArchiveFixture, ATamperedArchiveLineIsNamed) {
  Releases(1, 3);
  Releases(2, 1);
  ASSERT_EQ(Run("2026-11-02", "a1.jsonl").exit_code, 0);
  std::string text = testing::ReadFile(dir.File("a1.jsonl"));
  const std::string from = "+15550001001", to = "+15550009999";
  const auto at = text.find(from);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, from.size(), to);  // seq 3, the second release's intent
  testing::WriteFile(dir.File("a1.jsonl"), text);
  const VerifyReport r = VerifyAll({"a1.jsonl"});
  EXPECT_EQ(r.exit_code, kVerifyTampered);
  ASSERT_FALSE(r.problems.empty());
  EXPECT_EQ(r.problems.front().seq, 3) << VerifyReportText(r);
  EXPECT_NE(r.problems.front().what.find("record altered"), std::string::npos);
}

TEST_F(ArchiveFixture, RefusesWhileAGatewayHoldsTheDatabase) {
  Releases(1, 2);
  Releases(2, 1);
  AuditStore running({db});
  const ArchiveResult r = Run("2026-11-02", "a1.jsonl");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.error.find("a gateway is running"), std::string::npos) << r.error;
  EXPECT_FALSE(std::filesystem::exists(dir.File("a1.jsonl")));
  EXPECT_EQ(testing::ReadAuditRows(db).size(), 6u);
}

TEST_F(ArchiveFixture, NothingOlderIsNotAnArchiveAndAnExistingFileIsKept) {
  Releases(3, 1);
  EXPECT_EQ(Run("2026-11-02", "a1.jsonl").exit_code, 1);
  testing::WriteFile(dir.File("old.jsonl"), "keep me");
  EXPECT_EQ(Run("2026-11-04", "old.jsonl").exit_code, 2);
  EXPECT_EQ(testing::ReadFile(dir.File("old.jsonl")), "keep me");
}

TEST_F(ArchiveFixture, RecordsCutFromTheFrontWithoutAnArchivedRecordAreNamed) {
  Releases(1, 3);
  {
    SQLite::Database d(db, SQLite::OPEN_READWRITE);
    d.exec("DROP TRIGGER audit_records_no_delete");
    d.exec("DELETE FROM audit_records WHERE seq <= 2");
  }
  const VerifyReport r = VerifyAll({});
  EXPECT_EQ(r.exit_code, kVerifyTampered);
  ASSERT_FALSE(r.problems.empty());
  EXPECT_EQ(r.problems.front().seq, 1) << VerifyReportText(r);
  EXPECT_NE(CheckBeforeServing(db, "").error.find("broken at seq 1"),
            std::string::npos);
}

}  // namespace
}  // namespace agni::audit
