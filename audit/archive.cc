#include "audit/archive.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "audit/checkpoint.h"
#include "audit/lock_file.h"
#include "audit/read/query.h"
#include "audit/record.h"
#include "audit/record_io.h"
#include "audit/sqlite_store.h"

namespace agni::audit {
namespace {

namespace fs = std::filesystem;

constexpr const char* kNoDeleteTrigger = R"sql(
CREATE TRIGGER IF NOT EXISTS audit_records_no_delete
  BEFORE DELETE ON audit_records
  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
)sql";

// fsync of a file or folder by path; false on failure.
bool SyncPath(const std::string& path, bool folder) {
  const int fd = ::open(
      path.c_str(), (folder ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// Writes `text` to `path` through a temporary file, synced.
bool WriteSynced(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    if (!f.flush()) return false;
  }
  if (!SyncPath(tmp, false) || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

std::string FolderOf(const std::string& path) {
  const fs::path p = fs::absolute(path).parent_path();
  return p.empty() ? "." : p.string();
}

}  // namespace

LiveStartResult LiveStart(SQLite::Database& db) {
  LiveStartResult r{{0, std::string(kGenesisHash)}, std::nullopt};
  SQLite::Statement first(db, kOldestRecordSql);
  if (!first.executeStep()) return r;
  const std::int64_t seq = first.getColumn(0).getInt64();
  if (seq <= 1) return r;
  const std::string prev = first.getColumn(1).getString();
  // The archived records are few: the partial index finds them.
  SQLite::Statement archived(
      db,
      "SELECT detail FROM audit_records WHERE stage = 'archived' ORDER BY seq");
  while (archived.executeStep()) {
    const nlohmann::json d = nlohmann::json::parse(
        archived.getColumn(0).getString(), nullptr, false);
    if (d.is_object() && d.value("through_seq", std::int64_t{-1}) == seq - 1 &&
        d.value("through_hash", "") == prev) {
      r.pos = {seq - 1, prev};
      return r;
    }
  }
  r.problem = ChainProblem{
      1, "the log starts at seq " + std::to_string(seq) + ": seqs 1.." +
             std::to_string(seq - 1) +
             " are missing and no archived record accounts for them "
             "(records deleted)"};
  return r;
}

ArchiveResult Archive(const ArchiveOptions& o) {
  ArchiveResult result;
  auto fail = [&](int code, std::string why) {
    result.exit_code = code;
    result.error = std::move(why);
    return result;
  };
  if (!fs::is_regular_file(o.db_path)) {
    return fail(2, "\"" + o.db_path + "\" does not exist or is not a file");
  }
  const auto before = NormalizeTime(o.before, /*end_of=*/false);
  if (!before) {
    return fail(2, "--before \"" + o.before +
                       "\" is not a UTC date or time (2026-11-26 or "
                       "2026-11-26T16:00:00Z)");
  }
  if (fs::exists(o.out)) {
    return fail(2, "\"" + o.out + "\" exists; an archive is never overwritten");
  }
  std::optional<SigningKey> key;
  try {
    if (!o.signing_key_file.empty()) {
      key = SigningKey::LoadPem(o.signing_key_file);
    }
    // A running gateway holds this lock for its whole life; holding it here
    // keeps one from starting while the records move.
    FileLock lock(o.db_path + ".lock",
                  "a gateway is running on \"" + o.db_path + "\" (it holds \"" +
                      o.db_path +
                      ".lock\"); stop it, archive, then start it again");
    SQLite::Database db(o.db_path, SQLite::OPEN_READWRITE);
    db.setBusyTimeout(5000);
    if (!db.tableExists("audit_records")) {
      return fail(2, "\"" + o.db_path + "\" is not an audit log");
    }
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    const LiveStartResult start = LiveStart(db);
    if (start.problem) {
      return fail(1, "not archiving a broken chain: seq " +
                         std::to_string(start.problem->seq) + ": " +
                         start.problem->what);
    }
    const std::optional<std::int64_t> cut =
        LastSeqThrough(db, *before, /*inclusive=*/false);
    if (!cut) {
      return fail(1, "no record is older than " + *before + "; nothing to do");
    }
    const std::int64_t through = *cut;
    // Re-hash what is about to leave: an archive must be a valid chain.
    ChainChecker checker(start.pos, false);
    FeedRecordsRange(db, start.pos.seq, through, checker, true);
    if (!checker.problems().empty()) {
      return fail(1, "not archiving a broken chain: seq " +
                         std::to_string(checker.problems().front().seq) + ": " +
                         checker.problems().front().what +
                         " (`agni-gateway audit verify --db` lists all)");
    }
    result.through_seq = through;
    result.through_hash = checker.pos().hash;
    {
      const std::string tmp = o.out + ".tmp";
      std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
      if (!file) return fail(2, "cannot write \"" + tmp + "\"");
      WriteJsonlRows(db, start.pos.seq + 1, through, file, result.records);
      if (!file.flush()) return fail(2, "cannot write \"" + tmp + "\"");
      file.close();
      if (!SyncPath(tmp, false) || ::rename(tmp.c_str(), o.out.c_str()) != 0) {
        return fail(2,
                    "cannot write \"" + o.out + "\": " + std::strerror(errno));
      }
    }
    const std::int64_t now_us =
        std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count();
    Checkpoint head =
        key ? key->Sign(through, result.through_hash, FormatTime(now_us))
            : Checkpoint{
                  through, result.through_hash, FormatTime(now_us), "", "", ""};
    nlohmann::json head_json = CheckpointToJson(head);
    if (!key) {
      for (const char* k : {"key_id", "public_key", "signature", "algorithm"})
        head_json.erase(k);
    }
    result.head_file = o.out + ".head.json";
    if (!WriteSynced(result.head_file, head_json.dump() + "\n") ||
        !SyncPath(FolderOf(o.out), true)) {
      return fail(2, "cannot write \"" + result.head_file + "\"");
    }

    // One step: the records go, the archived record names them.
    SQLite::Statement head_row(db, kNewestRecordSql);
    head_row.executeStep();
    Record r;
    r.seq = head_row.getColumn(0).getInt64() + 1;
    r.prev_hash = head_row.getColumn(1).getString();
    r.time_us = std::max(
        now_us, ParseTime(head_row.getColumn(2).getString()).value_or(now_us));
    head_row.reset();
    r.stage = Stage::kArchived;
    r.principal = o.by.empty() ? "operator" : o.by;
    r.reason = "archived";
    r.detail = nlohmann::json{{"through_seq", through},
                              {"through_hash", result.through_hash},
                              {"records", result.records},
                              {"before", *before},
                              {"file", fs::path(o.out).filename().string()}}
                   .dump();
    r.hash = ChainHash(r);
    db.exec("DROP TRIGGER IF EXISTS audit_records_no_delete");
    ExecBound(db, "DELETE FROM audit_records WHERE seq <= ?", through);
    db.exec(kNoDeleteTrigger);
    ExecBound(db, R"sql(
      INSERT INTO audit_records (seq, time, stage, principal, reason, detail,
                                 prev_hash, hash)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?))sql",
              r.seq, FormatTime(r.time_us), std::string(StageColumn(r)),
              r.principal, r.reason, r.detail, r.prev_hash, r.hash);
    tx.commit();
    result.archived_record_seq = r.seq;
  } catch (const std::exception& e) {
    return fail(2, e.what());
  }
  return result;
}

}  // namespace agni::audit
