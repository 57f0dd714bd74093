// `audit verify`: re-computes the hash chain of an audit database or of a
// JSONL export without trusting any stored hash, and checks the signed
// checkpoints. Also the check `serve` runs on its log before appending.
// Returns values; the CLI (gateway/cli/audit_cli.h) words the report.
//
// Works on a read-only connection, so it can run while a gateway writes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/chain_check.h"

namespace agni::audit {

// What `serve` checks before it appends anything. With this gateway's key
// (`public_key_hex`), the chain is trusted up to the newest checkpoint that
// key signed, once its signature verifies and the record at its seq still has
// its hash, and only the records after it are re-hashed: start-up does not
// grow with the log (the background verifier re-hashes the rest). Without a
// key, or when that checkpoint is unusable, the whole chain is re-hashed from
// seq 1 against every checkpoint of the key, which names the problem.
struct StartCheck {
  std::string error;             // for the operator; empty when fine
  std::int64_t trusted_seq = 0;  // the checkpoint the re-hash started from
  std::int64_t rehashed = 0;     // records re-hashed (those after it)
  // The last record checked; a Checkpointer given it starts from there
  // instead of re-hashing the same records again.
  std::optional<ChainPosition> verified;
};
StartCheck CheckBeforeServing(const std::string& db_path,
                              const std::string& public_key_hex);

// What `audit verify` reads: a database or an export, and what to trust.
struct VerifyOptions {
  std::string db_path;          // either this
  std::string jsonl_path;       // or this
  std::string public_key_file;  // optional: PEM of the signing key
  std::string checkpoint_file;  // optional: a checkpoint kept elsewhere
  // With db_path: archives of `audit archive`, oldest first; the chain is
  // then checked from seq 1 through them into the live part.
  std::vector<std::string> archives;
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
