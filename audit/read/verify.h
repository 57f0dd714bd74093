// `audit verify`: re-computes the hash chain of an audit database or of a
// JSONL export without trusting any stored hash, and checks the signed
// checkpoints. Also the check `serve` runs on its log before appending.
// Returns values; the CLI (gateway/cli/audit_cli.h) words the report.
//
// Works on a read-only connection, so it can run while a gateway writes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "audit/chain_check.h"

namespace agni::audit {

// What `serve` checks before it appends anything: the file (if it exists)
// re-hashes to an intact chain from seq 1, and every checkpoint signed with
// `public_key_hex` (if given) still matches its record (none lies beyond the
// last record: a cut tail or an older copy). Returns an error message for the
// operator, empty when fine.
std::string CheckBeforeServing(const std::string& db_path,
                               const std::string& public_key_hex);

// What `audit verify` reads: a database or an export, and what to trust.
struct VerifyOptions {
  std::string db_path;          // either this
  std::string jsonl_path;       // or this
  std::string public_key_file;  // optional: PEM of the signing key
  std::string checkpoint_file;  // optional: a checkpoint kept elsewhere
};

// Exit codes of `audit verify`.
inline constexpr int kVerifyOk = 0;
inline constexpr int kVerifyTampered = 1;
inline constexpr int kVerifyUnreadable = 2;

// What `audit verify` found; a plain value.
struct VerifyReport {
  int exit_code = kVerifyOk;
  std::int64_t records = 0;
  std::int64_t last_seq = 0;
  std::string last_hash;
  std::int64_t checkpoints = 0;        // stored checkpoints checked
  std::vector<ChainProblem> problems;  // sorted by seq; first is "the" one
  std::string unreadable;              // why, when exit_code == 2
  std::vector<std::string> notes;      // informational lines
};

VerifyReport Verify(const VerifyOptions& options);

}  // namespace agni::audit
