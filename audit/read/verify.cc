#include "audit/read/verify.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>

#include "audit/archive.h"
#include "audit/checkpoint.h"
#include "audit/lock_file.h"
#include "audit/read/trust.h"
#include "audit/record.h"
#include "audit/record_io.h"

namespace agni::audit {
namespace {

VerifyReport Unreadable(std::string why) {
  VerifyReport report;
  report.exit_code = kVerifyUnreadable;
  report.unreadable = std::move(why);
  return report;
}

void Conclude(ChainChecker& checker, VerifyReport& report) {
  checker.Finish();
  report.records = checker.records();
  report.last_seq = checker.pos().seq;
  report.last_hash = checker.pos().hash;
  report.problems = std::move(checker.problems());
  std::stable_sort(report.problems.begin(), report.problems.end(),
                   [](const ChainProblem& a, const ChainProblem& b) {
                     return a.seq < b.seq;
                   });
  if (!report.problems.empty()) report.exit_code = kVerifyTampered;
}

// Summaries of rejected requests (gateway/pipeline/rejection_ledger.h): each
// stands for request_count >= 1 requests and is a decision record; a note says
// how many requests they account for. Logs older than the column have none.
void CheckSummaries(SQLite::Database& db, ChainChecker& checker,
                    VerifyReport& report) {
  SQLite::Statement has(
      db,
      "SELECT count(*) FROM pragma_table_info('audit_records')"
      " WHERE name = 'request_count'");
  if (!has.executeStep() || has.getColumn(0).getInt64() == 0) return;
  SQLite::Statement bad(
      db,
      "SELECT seq FROM audit_records WHERE request_count IS NOT NULL AND "
      "(typeof(request_count) <> 'integer' OR request_count < 1 OR "
      "stage <> 'decision') ORDER BY seq");
  while (bad.executeStep()) {
    const std::int64_t seq = bad.getColumn(0).getInt64();
    checker.Problem(seq, "seq " + std::to_string(seq) +
                             " has a request_count that is not a positive "
                             "integer on a decision record");
  }
  SQLite::Statement sum(db,
                        "SELECT count(*), total(request_count) FROM "
                        "audit_records WHERE request_count IS NOT NULL");
  if (sum.executeStep() && sum.getColumn(0).getInt64() > 0) {
    report.notes.push_back(
        std::to_string(sum.getColumn(0).getInt64()) +
        " summary record(s) account for " +
        std::to_string(
            static_cast<std::int64_t>(sum.getColumn(1).getDouble())) +
        " rejected requests not recorded one by one (request_count)");
  }
}

// Intents without an outcome: in flight while a gateway runs, else a problem
// (a crash the gateway has not been restarted after).
void CheckOpenIntents(const std::string& db_path, ChainChecker& checker,
                      VerifyReport& report) {
  if (checker.open_intents().empty()) return;
  std::vector<std::int64_t> open(checker.open_intents().begin(),
                                 checker.open_intents().end());
  std::sort(open.begin(), open.end());
  // A gateway holds the lock on "<db>.lock" while it runs.
  if (FileLock::IsHeld(db_path + ".lock")) {
    report.notes.push_back(std::to_string(open.size()) +
                           " intent(s) without an outcome yet; a gateway "
                           "is running, so they may be in flight");
    return;
  }
  for (std::int64_t s : open) {
    checker.Problem(s, "intent seq " + std::to_string(s) +
                           " has no outcome record (if the gateway "
                           "crashed, starting it closes the intent as "
                           "unknown)");
  }
}

// Feeds the lines of a JSONL file (an export or an archive) to `checker`.
// Returns false when the file cannot be read.
bool FeedJsonl(const std::string& path, ChainChecker& checker) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::string line;
  std::int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    nlohmann::json rec = nlohmann::json::parse(line, nullptr, false);
    if (!rec.is_object()) {
      checker.Problem(checker.pos().seq + 1,
                      "line " + std::to_string(line_no) + " of \"" + path +
                          "\" is not a JSON object (file damaged or edited)");
      continue;
    }
    checker.Feed(CanonicalRowFromJson(std::move(rec)));
  }
  return true;
}

// One archive of `audit archive`, in chain order: its signed head
// (<archive>.head.json, when present) and its records. Returns why it
// cannot be read, empty when fed.
std::string FeedArchive(const std::string& archive, const std::string& pubkey,
                        ChainChecker& checker, VerifyReport& report) {
  const std::string head = archive + ".head.json";
  if (std::filesystem::exists(head)) {
    if (std::string why =
            ExpectExternalCheckpoint(head, pubkey, checker, report.notes);
        !why.empty()) {
      return why;
    }
  } else {
    report.notes.push_back("\"" + archive + "\" has no signed head (" + head +
                           "); only its chain was checked");
  }
  if (!FeedJsonl(archive, checker)) return "cannot read \"" + archive + "\"";
  return "";
}

VerifyReport VerifyDb(const VerifyOptions& o, const std::string& pubkey) {
  if (!std::filesystem::is_regular_file(o.db_path)) {
    return Unreadable("\"" + o.db_path + "\" does not exist or is not a file");
  }
  VerifyReport report;
  try {
    // One thread uses this connection: no per-call mutex.
    SQLite::Database db(o.db_path, SQLite::OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    db.setBusyTimeout(5000);
    if (!db.tableExists("audit_records")) {
      return Unreadable("\"" + o.db_path +
                        "\" has no audit_records table (not an audit log)");
    }
    // One read transaction: records and checkpoints from the same snapshot
    // while a gateway keeps appending.
    db.exec("BEGIN");
    // Alone, the live part is checked from where its archived records end;
    // with the archives, the whole chain from seq 1.
    const LiveStartResult live = LiveStart(db);
    const ChainPosition genesis{0, std::string(kGenesisHash)};
    ChainChecker checker(
        o.archives.empty() && !live.problem ? live.pos : genesis, false);
    report.checkpoints =
        ExpectStoredCheckpoints(db, pubkey, checker, report.notes);
    if (!o.checkpoint_file.empty()) {
      report.unreadable = ExpectExternalCheckpoint(o.checkpoint_file, pubkey,
                                                   checker, report.notes);
      if (!report.unreadable.empty()) {
        report.exit_code = kVerifyUnreadable;
        return report;
      }
    }
    for (const std::string& archive : o.archives) {
      if (std::string why = FeedArchive(archive, pubkey, checker, report);
          !why.empty()) {
        report.exit_code = kVerifyUnreadable;
        report.unreadable = std::move(why);
        return report;
      }
    }
    if (o.archives.empty() && live.pos.seq > 0) {
      report.notes.push_back(
          "seqs 1.." + std::to_string(live.pos.seq) +
          " were archived (an archived record in the chain names them); "
          "pass the archives with --archive to verify them too");
    }
    FeedAllRecords(db, checker, /*stop_at_problem=*/false);
    CheckSummaries(db, checker, report);
    db.exec("COMMIT");
    CheckOpenIntents(o.db_path, checker, report);
    Conclude(checker, report);
  } catch (const std::exception& e) {
    report.exit_code = kVerifyUnreadable;
    report.unreadable = "cannot read \"" + o.db_path + "\": " + e.what();
  }
  return report;
}

VerifyReport VerifyJsonl(const VerifyOptions& o, const std::string& pubkey) {
  if (!std::ifstream(o.jsonl_path, std::ios::binary)) {
    return Unreadable("cannot read \"" + o.jsonl_path + "\"");
  }
  VerifyReport report;
  ChainChecker checker({0, std::string(kGenesisHash)}, true);
  if (!o.checkpoint_file.empty()) {
    std::string error = ExpectExternalCheckpoint(o.checkpoint_file, pubkey,
                                                 checker, report.notes);
    if (!error.empty()) return Unreadable(std::move(error));
  }
  if (!FeedJsonl(o.jsonl_path, checker)) {
    return Unreadable("cannot read \"" + o.jsonl_path + "\"");
  }
  if (checker.records() > 0 && checker.first_seq() != 1) {
    report.notes.push_back(
        "the export starts at seq " + std::to_string(checker.first_seq()) +
        "; its first prev_hash is taken as given (compare it with the hash of "
        "seq " +
        std::to_string(checker.first_seq() - 1) + " elsewhere)");
  }
  if (!checker.open_intents().empty()) {
    report.notes.push_back(std::to_string(checker.open_intents().size()) +
                           " intent(s) have no outcome within this export");
  }
  Conclude(checker, report);
  return report;
}

}  // namespace

StartCheck CheckBeforeServing(const std::string& db_path,
                              const std::string& public_key_hex) {
  StartCheck result;
  if (!std::filesystem::exists(db_path)) return result;
  const std::string hint = "; not starting. `agni-gateway audit verify --db " +
                           db_path +
                           "` lists every problem; keep the file as evidence "
                           "and start on a new audit.path";
  try {
    SQLite::Database db(db_path, SQLite::OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    db.setBusyTimeout(5000);
    if (!db.tableExists("audit_records")) return result;
    db.exec("BEGIN");
    std::optional<ChainPosition> anchor;
    if (!public_key_hex.empty()) anchor = NewestOwnAnchor(db, public_key_hex);
    const LiveStartResult live = LiveStart(db);
    if (live.problem) {
      result.error =
          "the audit chain in \"" + db_path + "\" is broken at seq " +
          std::to_string(live.problem->seq) + ": " + live.problem->what + hint;
      return result;
    }
    ChainChecker checker(anchor.value_or(live.pos), false);
    if (anchor) {
      FeedRecordsAfter(db, anchor->seq, checker, /*stop_at_problem=*/true);
    } else {
      // The whole chain, re-hashed, and every checkpoint this gateway's key
      // signed must still match: one of them beyond the last record means
      // the tail was cut off or the file replaced by an older copy.
      ExpectOwnCheckpoints(db, public_key_hex, checker);
      FeedAllRecords(db, checker, /*stop_at_problem=*/true);
    }
    db.exec("COMMIT");
    result.trusted_seq = anchor ? anchor->seq : live.pos.seq;
    result.rehashed = checker.records();
    if (checker.problems().empty()) checker.Finish();
    if (checker.problems().empty()) result.verified = checker.pos();
    if (!checker.problems().empty()) {
      auto& problems = checker.problems();
      const ChainProblem& first =
          *std::min_element(problems.begin(), problems.end(),
                            [](const ChainProblem& a, const ChainProblem& b) {
                              return a.seq < b.seq;
                            });
      result.error = "the audit chain in \"" + db_path +
                     "\" is broken at seq " + std::to_string(first.seq) + ": " +
                     first.what + hint;
    }
  } catch (const std::exception& e) {
    result.error =
        "cannot check the audit log \"" + db_path + "\": " + e.what() + hint;
  }
  return result;
}

VerifyReport Verify(const VerifyOptions& o) {
  std::string pubkey;
  if (!o.public_key_file.empty()) {
    try {
      pubkey = LoadPublicKeyHex(o.public_key_file);
    } catch (const std::exception& e) {
      return Unreadable(e.what());
    }
  }
  return o.jsonl_path.empty() ? VerifyDb(o, pubkey) : VerifyJsonl(o, pubkey);
}

}  // namespace agni::audit
