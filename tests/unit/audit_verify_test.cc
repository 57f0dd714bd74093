// `audit verify` is what an auditor trusts: on an intact log it says OK, and
// for every way of tampering with the file (a flipped byte, a deleted, swapped
// or rewritten record, a cut-off tail, an older copy, an edited checkpoint) it
// says TAMPERED and names the first bad seq. Each test writes a real log with
// the AuditStore and the Checkpointer, tampers with the file as an attacker
// with write access would (triggers dropped, raw bytes edited), and runs the
// same Verify() the CLI runs.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/read/export.h"
#include "audit/read/query.h"
#include "audit/read/verify.h"
#include "audit/record.h"
#include "audit/record_io.h"
#include "audit/store.h"
#include "base/crypto.h"
#include "gateway/cli/audit_cli.h"
#include "tests/support/temp_dir.h"

namespace agni::audit {
namespace {

namespace fs = std::filesystem;

// A log written by the real store: `pairs` releases (intent + outcome) and a
// denial between them, checkpoints signed by `key` along the way.
class LogFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    db = dir.File("audit.db");
    ASSERT_EQ(GenerateKeyFiles(dir.File("k.pem"), dir.File("k.pub")), "");
    key = std::make_unique<SigningKey>(SigningKey::LoadPem(dir.File("k.pem")));
  }

  // Appends `pairs` x (decision, intent, outcome); seqs continue.
  void Append(int pairs, bool checkpoint_after = true) {
    AuditStore store({db});
    for (int i = 0; i < pairs; ++i) {
      const int n = next_++;
      Record d;
      d.stage = Stage::kDecision;
      d.request_id = "deny-" + std::to_string(n);
      d.principal = "mallory";
      d.phone_number = "+15550" + std::to_string(1000 + n);
      d.decision = "deny";
      d.reason = "policy_denied";
      d.response_status = 403;
      ASSERT_TRUE(store.Append(d).ok);
      Record in;
      in.stage = Stage::kIntent;
      in.request_id = "rel-" + std::to_string(n);
      in.principal = "alice";
      in.phone_number = "+15551" + std::to_string(1000 + n);
      in.decision = "allow";
      in.detail = "marker-" + std::to_string(1000 + n) + "-x";
      const AppendResult ir = store.Append(in);
      ASSERT_TRUE(ir.ok);
      Record out = in;
      out.stage = Stage::kOutcome;
      out.detail.clear();
      out.intent_seq = ir.seq;
      out.outcome = "released";
      out.upstream_status = 200;
      out.response_status = 200;
      ASSERT_TRUE(store.Append(out).ok);
    }
    store.Close();
    if (checkpoint_after) Checkpoint();
  }

  audit::Checkpoint Checkpoint() {
    PrepareReadSide(db);
    Checkpointer cp(db, *key, std::chrono::hours(1));
    std::string error;
    auto c = cp.WriteNow(true, error);
    EXPECT_TRUE(c) << error;
    return c ? *c : audit::Checkpoint{};
  }

  // Runs SQL with the append-only triggers out of the way, as an attacker
  // with write access to the file would.
  void Tamper(const std::string& sql) {
    SQLite::Database d(db, SQLite::OPEN_READWRITE);
    d.exec(
        "DROP TRIGGER IF EXISTS audit_records_no_update;"
        "DROP TRIGGER IF EXISTS audit_records_no_delete;"
        "DROP TRIGGER IF EXISTS audit_checkpoints_no_update;"
        "DROP TRIGGER IF EXISTS audit_checkpoints_no_delete;");
    d.exec(sql);
  }

  VerifyReport Run(const std::string& checkpoint_file = "",
                   bool with_pubkey = true) {
    return Verify(
        {db, "", with_pubkey ? dir.File("k.pub") : "", checkpoint_file});
  }

  std::string SaveCheckpoint(const audit::Checkpoint& c,
                             const std::string& name = "head.json") {
    testing::WriteFile(dir.File(name), CheckpointToJson(c).dump());
    return dir.File(name);
  }

  testing::TempDir dir;
  std::string db;
  std::unique_ptr<SigningKey> key;
  int next_ = 0;
};

// Records of one pair i (0-based): decision 3i+1, intent 3i+2, outcome 3i+3.
constexpr std::int64_t IntentSeq(int i) { return 3 * i + 2; }

#define EXPECT_TAMPERED_AT(report, want_seq, words)                         \
  do {                                                                      \
    const VerifyReport& r_ = (report);                                      \
    EXPECT_EQ(r_.exit_code, kVerifyTampered) << VerifyReportText(r_);       \
    ASSERT_FALSE(r_.problems.empty()) << VerifyReportText(r_);              \
    EXPECT_EQ(r_.problems.front().seq, (want_seq)) << VerifyReportText(r_); \
    EXPECT_NE(VerifyReportText(r_).find(words), std::string::npos)          \
        << VerifyReportText(r_);                                            \
    EXPECT_NE(VerifyReportText(r_).find("first bad seq " +                  \
                                        std::to_string(want_seq)),          \
              std::string::npos)                                            \
        << VerifyReportText(r_);                                            \
  } while (0)

TEST_F(LogFixture, IntactLogVerifiesWithItsCheckpoints) {
  Append(5);
  Append(5);
  const VerifyReport r = Run();
  EXPECT_EQ(r.exit_code, kVerifyOk) << VerifyReportText(r);
  EXPECT_EQ(r.records, 30);
  EXPECT_EQ(r.last_seq, 30);
  EXPECT_EQ(r.checkpoints, 2);
  EXPECT_NE(VerifyReportText(r).find("OK: 30 records"), std::string::npos)
      << VerifyReportText(r);
}

TEST_F(LogFixture, AwkwardCharactersHashTheSameForTheWriterAndTheVerifier) {
  {
    AuditStore store({db});
    for (const std::string& text :
         {std::string("tab\t quote\" backslash\\ ctrl\x01\x1f del\x7f"),
          std::string("caf\xc3\xa9 \xf0\x9f\x98\x80 cr\r lf\n ff\f bs\b"),
          std::string("invalid \xff\xfe utf-8 \xc3"), std::string("/,;=")}) {
      Record r;
      r.stage = Stage::kDecision;
      r.detail = text;
      r.principal = text;
      ASSERT_TRUE(store.Append(r).ok);
    }
  }
  const VerifyReport r = Run("", false);
  EXPECT_EQ(r.exit_code, kVerifyOk) << VerifyReportText(r);
  EXPECT_EQ(r.records, 4);
  std::ostringstream out;
  ASSERT_EQ(Export({db, "jsonl", "", ""}, out).records, 4);
  testing::WriteFile(dir.File("odd.jsonl"), out.str());
  for (unsigned char c : out.str()) EXPECT_LT(c, 0x80);  // ASCII only
  const VerifyReport j = Verify({"", dir.File("odd.jsonl"), "", ""});
  EXPECT_EQ(j.exit_code, kVerifyOk) << VerifyReportText(j);
}

TEST_F(LogFixture, FlippedByteInTheFileNamesThatRecord) {
  Append(10);
  std::string bytes = testing::ReadFile(db);
  const std::size_t at = bytes.find("marker-1004-x");  // pair 4's intent
  ASSERT_NE(at, std::string::npos);
  ASSERT_EQ(bytes.find("marker-1004-x", at + 1), std::string::npos);
  bytes[at + 12] = 'y';
  testing::WriteFile(db, bytes);
  EXPECT_TAMPERED_AT(Run(), IntentSeq(4), "record altered");
}

TEST_F(LogFixture, EditedFieldNamesThatRecord) {
  Append(6);
  Tamper("UPDATE audit_records SET principal = 'bob' WHERE seq = 7");
  EXPECT_TAMPERED_AT(Run(), 7, "record altered");
}

TEST_F(LogFixture, DeletedRecordIsNamedAsMissing) {
  Append(6);
  Tamper("DELETE FROM audit_records WHERE seq = 10");
  EXPECT_TAMPERED_AT(Run(), 10, "seq 10 is missing");
}

TEST_F(LogFixture, SwappedRecordsNameTheFirstPosition) {
  Append(6);
  // Exchange the contents of seq 4 and 5 (seq is the key, so swap via 0).
  Tamper(
      "UPDATE audit_records SET seq = 0 WHERE seq = 4;"
      "UPDATE audit_records SET seq = 4 WHERE seq = 5;"
      "UPDATE audit_records SET seq = 5 WHERE seq = 0;");
  EXPECT_TAMPERED_AT(Run(), 4, "prev_hash is not the hash of seq 3");
}

TEST_F(LogFixture, CutTailIsCaughtByTheStoredCheckpoint) {
  Append(8);  // 24 records, checkpoint at 24
  Tamper("DELETE FROM audit_records WHERE seq > 18");
  EXPECT_TAMPERED_AT(Run(), 19, "tail cut off");
}

TEST_F(LogFixture, CutTailAndCheckpointsIsCaughtOnlyByAnExternalCheckpoint) {
  Append(8);
  const std::string head = SaveCheckpoint(Checkpoint());
  Tamper(
      "DELETE FROM audit_records WHERE seq > 18;"
      "DELETE FROM audit_checkpoints;");
  // Without a copy kept elsewhere the shortened log is self-consistent...
  EXPECT_EQ(Run().exit_code, kVerifyOk);
  // ...with one, the missing tail is named.
  EXPECT_TAMPERED_AT(Run(head), 19, "records 19..24 are missing");
}

TEST_F(LogFixture, AnUnsignedHeadStillCatchesACutTail) {
  Append(4);  // 12 records
  {
    SQLite::Database d(db, SQLite::OPEN_READONLY);
    SQLite::Statement q(d, "SELECT hash FROM audit_records WHERE seq = 12");
    ASSERT_TRUE(q.executeStep());
    testing::WriteFile(
        dir.File("unsigned.json"),
        nlohmann::json{{"seq", 12}, {"hash", q.getColumn(0).getString()}}
            .dump());
  }
  const VerifyReport ok = Verify({db, "", "", dir.File("unsigned.json")});
  EXPECT_EQ(ok.exit_code, kVerifyOk) << VerifyReportText(ok);
  EXPECT_NE(VerifyReportText(ok).find("unsigned"), std::string::npos);
  Tamper(
      "DELETE FROM audit_records WHERE seq > 9; DELETE FROM audit_checkpoints");
  EXPECT_TAMPERED_AT(Verify({db, "", "", dir.File("unsigned.json")}), 10,
                     "records 10..12 are missing");
  // With a pinned key an unsigned head is not accepted.
  EXPECT_EQ(Run(dir.File("unsigned.json")).exit_code, kVerifyTampered);
}

TEST_F(LogFixture, OlderCopyOfTheDatabaseIsCaughtByAnExternalCheckpoint) {
  Append(4);  // 12 records
  fs::copy_file(db, dir.File("old.db"));
  Append(4);  // 24 records
  const std::string head = SaveCheckpoint(Checkpoint());
  EXPECT_EQ(Run(head).exit_code, kVerifyOk) << VerifyReportText(Run(head));
  fs::copy_file(dir.File("old.db"), db, fs::copy_options::overwrite_existing);
  EXPECT_EQ(Run().exit_code, kVerifyOk);  // self-consistent on its own
  EXPECT_TAMPERED_AT(Run(head), 13, "older copy");
}

TEST_F(LogFixture, RewrittenHistoryWithRecomputedHashesIsCaughtByCheckpoints) {
  Append(5);
  // Change seq 5 and re-chain everything after it: the chain alone is valid
  // again, but the signed checkpoint at 15 no longer matches.
  {
    Tamper("SELECT 1");
    SQLite::Database d(db, SQLite::OPEN_READWRITE);
    SQLite::Statement q(
        d, "SELECT * FROM audit_records WHERE seq >= 5 ORDER BY seq");
    std::vector<nlohmann::json> rows;
    while (q.executeStep()) rows.push_back(RowObject(q));
    std::string prev;
    {
      SQLite::Statement h(d, "SELECT hash FROM audit_records WHERE seq = 4");
      h.executeStep();
      prev = h.getColumn(0).getString();
    }
    rows[0]["principal"] = "bob";
    for (nlohmann::json& row : rows) {
      row.erase("hash");
      row["prev_hash"] = prev;
      const std::string hash = Sha256Hex(prev + row.dump(-1, ' ', true));
      SQLite::Statement u(d,
                          "UPDATE audit_records SET principal = ?, prev_hash = "
                          "?, hash = ? WHERE seq = ?");
      u.bind(1, row["principal"].get<std::string>());
      u.bind(2, prev);
      u.bind(3, hash);
      u.bind(4, row["seq"].get<std::int64_t>());
      u.exec();
      prev = hash;
    }
  }
  EXPECT_TAMPERED_AT(Run(), 15, "history rewritten");
}

TEST_F(LogFixture, EditedStoredCheckpointIsNamedByItsSeq) {
  Append(3);
  Append(3);  // checkpoints at 9 and 18
  Tamper("UPDATE audit_checkpoints SET hash = '" + std::string(64, 'a') +
         "' WHERE seq = 9");
  EXPECT_TAMPERED_AT(Run(), 9, "invalid signature");
}

TEST_F(LogFixture, EditedExternalCheckpointIsReported) {
  Append(3);
  audit::Checkpoint c = Checkpoint();
  c.seq = 6;  // claims less than was signed
  EXPECT_TAMPERED_AT(Run(SaveCheckpoint(c)), 6, "invalid signature");
}

TEST_F(LogFixture, CheckpointsByAnotherKeyAreRejectedWhenTheKeyIsPinned) {
  Append(2);
  ASSERT_EQ(GenerateKeyFiles(dir.File("other.pem"), dir.File("other.pub")), "");
  const VerifyReport r = Verify({db, "", dir.File("other.pub"), ""});
  EXPECT_TAMPERED_AT(r, 6, "not signed by the given public key");
  // Without --pubkey the signature is still checked, with a note saying so.
  const VerifyReport unpinned = Run("", /*with_pubkey=*/false);
  EXPECT_EQ(unpinned.exit_code, kVerifyOk);
  EXPECT_NE(VerifyReportText(unpinned).find("pass --pubkey"),
            std::string::npos);
}

TEST_F(LogFixture, OpenIntentIsReportedAndRecoveryClosesIt) {
  Append(2);
  Tamper("DELETE FROM audit_records WHERE seq = 6");  // pair 1's outcome
  EXPECT_TAMPERED_AT(Run(), 5, "intent seq 5 has no outcome");
  // The same state after a real crash: the next start closes the intent.
  // (A real crash leaves the open intent above the closed-intents mark,
  // which the checkpointer never moves past an open intent.)
  {
    Tamper("DELETE FROM audit_checkpoints; DELETE FROM audit_intents_closed");
    AuditStore store({db});
    EXPECT_EQ(store.recovered_intents(), 1u);
  }
  const VerifyReport r = Run();
  EXPECT_EQ(r.exit_code, kVerifyOk) << VerifyReportText(r);
}

TEST_F(LogFixture, UnreadableInputsExitTwo) {
  EXPECT_EQ(Verify({dir.File("missing.db"), "", "", ""}).exit_code,
            kVerifyUnreadable);
  testing::WriteFile(dir.File("junk.db"), std::string(8192, 'j'));
  const VerifyReport junk = Verify({dir.File("junk.db"), "", "", ""});
  EXPECT_EQ(junk.exit_code, kVerifyUnreadable);
  EXPECT_NE(VerifyReportText(junk).find("UNREADABLE"), std::string::npos);
  Append(1);
  testing::WriteFile(dir.File("bad.json"), "{\"seq\": \"x\"}");
  EXPECT_EQ(Run(dir.File("bad.json")).exit_code, kVerifyUnreadable);
  EXPECT_EQ(Verify({db, "", dir.File("missing.pub"), ""}).exit_code,
            kVerifyUnreadable);
}

TEST_F(LogFixture, CheckpointerSignsAtStartPeriodicallyAndAtStop) {
  Append(1, /*checkpoint_after=*/false);  // seqs 1..3
  PrepareReadSide(db);
  AuditStore store({db});
  Checkpointer cp(db, *key, std::chrono::milliseconds(100));
  cp.Start();
  auto latest = [&] {
    SQLite::Database d(db, SQLite::OPEN_READONLY);
    return LatestCheckpoint(d);
  };
  ASSERT_TRUE(latest());
  EXPECT_EQ(latest()->seq, 3);
  Record r;
  r.stage = Stage::kDecision;
  ASSERT_TRUE(store.Append(r).ok);  // seq 4
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (latest()->seq != 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(latest()->seq, 4) << "no periodic checkpoint";
  ASSERT_TRUE(store.Append(r).ok);  // seq 5
  cp.Stop();
  EXPECT_EQ(latest()->seq, 5);  // the final one, at once
  EXPECT_TRUE(CheckpointSignatureValid(*latest()));
  EXPECT_EQ(latest()->public_key, key->public_key_hex());
  store.Close();
  const VerifyReport v = Run();
  EXPECT_EQ(v.exit_code, kVerifyOk) << VerifyReportText(v);
  EXPECT_GE(v.checkpoints, 3);
}

TEST_F(LogFixture, CheckpointerRefusesToSignABrokenChain) {
  Append(3);                              // signed at 9
  Append(2, /*checkpoint_after=*/false);  // 10..15, not yet signed
  // It re-hashes what came after its newest trusted checkpoint.
  Tamper("UPDATE audit_records SET reason = 'edited' WHERE seq = 13");
  Checkpointer cp(db, *key, std::chrono::hours(1));
  std::string error;
  EXPECT_FALSE(cp.WriteNow(true, error));
  EXPECT_NE(error.find("broken at seq 13"), std::string::npos) << error;
}

TEST_F(LogFixture, StartUpCheckStopsOnABrokenChainOrACutTail) {
  Append(3);
  EXPECT_EQ(CheckBeforeServing(db, key->public_key_hex()).error, "");
  EXPECT_EQ(CheckBeforeServing(dir.File("new.db"), "").error,
            "");  // first start
  Tamper("DELETE FROM audit_records WHERE seq > 6");
  const std::string cut = CheckBeforeServing(db, key->public_key_hex()).error;
  EXPECT_NE(cut.find("broken at seq 7"), std::string::npos) << cut;
  EXPECT_NE(cut.find("the log ends at seq 6"), std::string::npos) << cut;
  EXPECT_NE(cut.find("not starting"), std::string::npos) << cut;
  Tamper("UPDATE audit_records SET principal = 'eve' WHERE seq = 2");
  const std::string broken = CheckBeforeServing(db, "").error;
  EXPECT_NE(broken.find("broken at seq 2"), std::string::npos) << broken;
}

// --- export ------------------------------------------------------------

TEST_F(LogFixture, JsonlExportVerifiesAndAnEditedLineIsNamed) {
  Append(4);
  std::ostringstream out;
  const ExportResult e = Export({db, "jsonl", "", ""}, out);
  ASSERT_EQ(e.exit_code, 0) << e.error;
  EXPECT_EQ(e.records, 12);
  testing::WriteFile(dir.File("all.jsonl"), out.str());
  const VerifyReport ok = Verify({"", dir.File("all.jsonl"), "", ""});
  EXPECT_EQ(ok.exit_code, kVerifyOk) << VerifyReportText(ok);
  EXPECT_EQ(ok.records, 12);

  std::string text = out.str();
  const std::size_t line = text.rfind('\n', text.find("\"seq\":7,"));
  const std::size_t at = text.find("\"principal\":\"mallory\"", line);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 21, "\"principal\":\"mallorz\"");
  testing::WriteFile(dir.File("edited.jsonl"), text);
  EXPECT_TAMPERED_AT(Verify({"", dir.File("edited.jsonl"), "", ""}), 7,
                     "record altered");

  // A slice of the chain verifies too, anchored on its first prev_hash.
  std::ostringstream part;
  ASSERT_EQ(Export({db, "jsonl", "4", "9"}, part).records, 6);
  testing::WriteFile(dir.File("part.jsonl"), part.str());
  const VerifyReport slice = Verify({"", dir.File("part.jsonl"), "", ""});
  EXPECT_EQ(slice.exit_code, kVerifyOk) << VerifyReportText(slice);
  EXPECT_NE(VerifyReportText(slice).find("starts at seq 4"), std::string::npos);
}

TEST_F(LogFixture, ExportByTimeKeepsAContiguousSeqRange) {
  Append(2);
  std::ostringstream all;
  ASSERT_EQ(
      Export({db, "jsonl", "2000-01-01", "2999-12-31T00:00:00Z"}, all).records,
      6);
  std::ostringstream none;
  ASSERT_EQ(Export({db, "jsonl", "2999-01-01", ""}, none).records, 0);
  std::ostringstream bad;
  EXPECT_EQ(Export({db, "jsonl", "yesterday", ""}, bad).exit_code, 2);
  EXPECT_EQ(Export({dir.File("missing.db"), "jsonl", "", ""}, bad).exit_code,
            2);
}

TEST(ExportCsvTest, FieldsAreQuotedPerRfc4180) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvField("cr\rhere"), "\"cr\rhere\"");
  EXPECT_EQ(CsvField(""), "");
}

TEST_F(LogFixture, CsvExportHasAHeaderAndOneCrlfLinePerRecord) {
  Append(2);
  std::ostringstream out;
  ASSERT_EQ(Export({db, "csv", "", ""}, out).exit_code, 0);
  const std::string csv = out.str();
  EXPECT_EQ(csv.rfind("seq,time,stage,", 0), 0u) << csv.substr(0, 80);
  EXPECT_NE(csv.find(",prev_hash,hash,request_count\r\n"), std::string::npos);
  std::size_t lines = 0;
  for (std::size_t p = 0; (p = csv.find("\r\n", p)) != std::string::npos;
       p += 2) {
    ++lines;
  }
  EXPECT_EQ(lines, 7u);  // header + 6 records
}

// --- query ---------------------------------------------------------------

TEST_F(LogFixture, QueryFiltersAndPagesBySeq) {
  Append(5);  // seqs 1..15: decisions 1,4,7,10,13 by mallory
  PrepareReadSide(db);
  SQLite::Database d(db, SQLite::OPEN_READONLY);
  AuditQuery q;
  q.user = "mallory";
  q.limit = 2;
  nlohmann::json page = nlohmann::json::parse(RunAuditQuery(d, q));
  ASSERT_EQ(page["records"].size(), 2u);
  EXPECT_EQ(page["records"][0]["seq"], 1);
  EXPECT_EQ(page["records"][1]["seq"], 4);
  EXPECT_EQ(page["next_after_seq"], 4);
  q.after_seq = 4;
  page = nlohmann::json::parse(RunAuditQuery(d, q));
  EXPECT_EQ(page["records"][0]["seq"], 7);
  q.after_seq = 10;
  page = nlohmann::json::parse(RunAuditQuery(d, q));
  ASSERT_EQ(page["records"].size(), 1u);
  EXPECT_TRUE(page["next_after_seq"].is_null());
  EXPECT_TRUE(page["records"][0].contains("hash"));
  EXPECT_TRUE(page["records"][0].contains("prev_hash"));

  AuditQuery by_number;
  by_number.phone_number = "+155511003";
  page = nlohmann::json::parse(RunAuditQuery(d, by_number));
  ASSERT_EQ(page["records"].size(), 2u);  // intent and outcome
  EXPECT_EQ(page["records"][0]["stage"], "intent");

  AuditQuery denials;
  ASSERT_EQ(ParseAuditQuery("decision=deny&limit=1000", denials), "");
  EXPECT_EQ(nlohmann::json::parse(RunAuditQuery(d, denials))["records"].size(),
            5u);

  AuditQuery future;
  ASSERT_EQ(ParseAuditQuery("from=2999-01-01", future), "");
  EXPECT_EQ(nlohmann::json::parse(RunAuditQuery(d, future))["records"].size(),
            0u);
  AuditQuery window;
  ASSERT_EQ(ParseAuditQuery("from=2000-01-01T00:00:00Z&to=2999-01-01", window),
            "");
  EXPECT_EQ(nlohmann::json::parse(RunAuditQuery(d, window))["records"].size(),
            15u);
}

TEST(AuditQueryParseTest, ParsesDecodesAndRejectsWithTheParameterNamed) {
  AuditQuery q;
  ASSERT_EQ(
      ParseAuditQuery("phone_number=%2B14155550100&user=alice&after_seq=7", q),
      "");
  EXPECT_EQ(q.phone_number, "+14155550100");
  EXPECT_EQ(q.user, "alice");
  EXPECT_EQ(q.after_seq, 7);
  AuditQuery raw_plus;
  ASSERT_EQ(ParseAuditQuery("phone_number=+14155550100", raw_plus), "");
  EXPECT_EQ(raw_plus.phone_number, "+14155550100");
  struct Case {
    const char* query;
    const char* names;
  };
  for (const Case& c : std::vector<Case>{{"limit=0", "limit"},
                                         {"limit=1001", "limit"},
                                         {"after_seq=-1", "after_seq"},
                                         {"after_seq=x", "after_seq"},
                                         {"from=yesterday", "from"},
                                         {"colour=red", "colour"},
                                         {"user=%0a", "user"},
                                         {"user=%zz", "user"}}) {
    SCOPED_TRACE(c.query);
    AuditQuery bad;
    const std::string error = ParseAuditQuery(c.query, bad);
    EXPECT_NE(error.find(c.names), std::string::npos) << error;
  }
}

TEST(AuditQueryParseTest, NormalizesTimesToTheStoredForm) {
  EXPECT_EQ(NormalizeTime("2026-11-26", false), "2026-11-26T00:00:00.000000Z");
  EXPECT_EQ(NormalizeTime("2026-11-26", true), "2026-11-26T23:59:59.999999Z");
  EXPECT_EQ(NormalizeTime("2026-11-26T16:47:10Z", false),
            "2026-11-26T16:47:10.000000Z");
  EXPECT_EQ(NormalizeTime("2026-11-26T16:47:10Z", true),
            "2026-11-26T16:47:10.999999Z");
  EXPECT_EQ(NormalizeTime("2026-11-26T16:47:10.5Z", false),
            "2026-11-26T16:47:10.500000Z");
  EXPECT_FALSE(NormalizeTime("2026-11-26T16:47:10+01:00", false));
  EXPECT_FALSE(NormalizeTime("26-11-2026", false));
  EXPECT_FALSE(NormalizeTime("2026-11-26T16:47:10.1234567Z", false));
}

TEST(CheckpointTest, SignatureCoversSeqHashAndTime) {
  const SigningKey key = SigningKey::Generate();
  const audit::Checkpoint c =
      key.Sign(42, std::string(64, 'b'), "2026-11-26T16:00:00.000000Z");
  EXPECT_TRUE(CheckpointSignatureValid(c));
  for (auto edit : std::vector<std::function<void(audit::Checkpoint&)>>{
           [](audit::Checkpoint& x) { x.seq = 43; },
           [](audit::Checkpoint& x) { x.hash[0] = 'c'; },
           [](audit::Checkpoint& x) { x.time[0] = '3'; },
           [](audit::Checkpoint& x) { x.signature[5] ^= 1; },
           [](audit::Checkpoint& x) {
             x.public_key = SigningKey::Generate().public_key_hex();
           }}) {
    audit::Checkpoint edited = c;
    edit(edited);
    EXPECT_FALSE(CheckpointSignatureValid(edited));
  }
  std::string error;
  auto back = CheckpointFromJson(CheckpointToJson(c), error);
  ASSERT_TRUE(back) << error;
  EXPECT_TRUE(CheckpointSignatureValid(*back));
  EXPECT_EQ(CheckpointMessage(c),
            "{\"hash\":\"" + std::string(64, 'b') +
                "\",\"seq\":42,\"time\":\"2026-11-26T16:00:00.000000Z\"}");
}

TEST(CheckpointTest, KeyFilesAreCompatibleAndNeverOverwritten) {
  testing::TempDir dir;
  ASSERT_EQ(GenerateKeyFiles(dir.File("a.pem"), dir.File("a.pub")), "");
  EXPECT_EQ(fs::status(dir.File("a.pem")).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  const std::string before = testing::ReadFile(dir.File("a.pem"));
  EXPECT_NE(GenerateKeyFiles(dir.File("a.pem"), dir.File("b.pub"))
                .find("refusing to overwrite"),
            std::string::npos);
  EXPECT_EQ(testing::ReadFile(dir.File("a.pem")), before);
  EXPECT_EQ(SigningKey::LoadPem(dir.File("a.pem")).public_key_hex(),
            LoadPublicKeyHex(dir.File("a.pub")));
  EXPECT_THROW(SigningKey::LoadPem(dir.File("a.pub")), std::runtime_error);
}

}  // namespace
}  // namespace agni::audit
