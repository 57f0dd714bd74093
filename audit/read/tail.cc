#include "audit/read/tail.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <ostream>
#include <thread>

#include "audit/record_io.h"

namespace agni::audit {
namespace {

// Records per read transaction: a backlog of millions is printed in many
// short snapshots.
constexpr std::int64_t kBatch = 5000;

}  // namespace

TailResult Tail(const TailOptions& o, std::ostream& out) {
  TailResult result;
  result.last_seq = o.after_seq;
  if (!std::filesystem::is_regular_file(o.db_path)) {
    result.exit_code = 2;
    result.error = "\"" + o.db_path + "\" does not exist or is not a file";
    return result;
  }
  try {
    // One thread uses this connection: no per-call mutex.
    SQLite::Database db(o.db_path, SQLite::OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    db.setBusyTimeout(5000);
    if (!db.tableExists("audit_records")) {
      result.exit_code = 2;
      result.error =
          "\"" + o.db_path + "\" has no audit_records table (not an audit log)";
      return result;
    }
    SQLite::Statement head(db, "SELECT max(seq) FROM audit_records");
    while (true) {
      std::int64_t printed = 0;
      bool behind = false;
      {
        SQLite::Transaction read(db, SQLite::TransactionBehavior::DEFERRED);
        head.reset();
        head.executeStep();
        const std::int64_t last =
            head.getColumn(0).isNull() ? 0 : head.getColumn(0).getInt64();
        head.reset();
        if (last > result.last_seq) {
          const std::int64_t to = std::min(last, result.last_seq + kBatch);
          WriteJsonlRows(db, result.last_seq + 1, to, out, printed);
          result.last_seq = to;
          behind = to < last;
        }
        read.commit();
      }
      result.records += printed;
      out.flush();
      if (!out) return result;  // the reader went away
      if (behind) continue;
      if (!o.follow || (o.stop && o.stop())) return result;
      std::this_thread::sleep_for(o.poll);
    }
  } catch (const std::exception& e) {
    result.exit_code = 2;
    result.error = "cannot read \"" + o.db_path + "\": " + e.what();
  }
  return result;
}

}  // namespace agni::audit
