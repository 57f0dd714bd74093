// Retention: `audit archive` moves the records older than a date out of the
// live database into a JSONL file (the export's lines) with a signed head,
// and leaves an `archived` record in the chain that names the archive's last
// seq and hash. The live database then starts after that seq; LiveStart()
// is where every chain check of it begins. The archive and the live part
// verify as one chain (`audit verify --db FILE --archive A1 --archive A2`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "audit/chain_check.h"

namespace SQLite {
class Database;
}

namespace agni::audit {

// Where the records of a database begin: genesis, or after the records an
// `archived` record of the same chain says were archived. `problem` is set
// (and `pos` is genesis) when records are missing from the front and no
// archived record accounts for them.
struct LiveStartResult {
  ChainPosition pos;
  std::optional<ChainProblem> problem;
};
LiveStartResult LiveStart(SQLite::Database& db);

struct ArchiveOptions {
  std::string db_path;
  std::string before;  // a UTC date or time; records strictly older go
  std::string out;     // the JSONL file to create (never overwritten)
  std::string signing_key_file;  // optional: signs the head
  std::string by;                // who runs it, recorded (principal)
};

// What `audit archive` did, or why not; a plain value.
struct ArchiveResult {
  int exit_code =
      0;  // 0 done, 1 refused (nothing to do, chain broken), 2 error
  std::string error;
  std::int64_t records = 0;
  std::int64_t through_seq = 0;
  std::string through_hash;
  std::int64_t archived_record_seq = 0;
  std::string head_file;  // <out>.head.json
};

// Refuses while a gateway holds "<db>.lock" (it keeps the lock for its whole
// life): the lock is taken for the archive's duration, so no gateway can
// start meanwhile. The part to archive is re-hashed first (a broken chain is
// not archived); the file is written and synced before the one transaction
// that deletes the records and appends the `archived` record.
ArchiveResult Archive(const ArchiveOptions& options);

}  // namespace agni::audit
