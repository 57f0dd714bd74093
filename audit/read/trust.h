// Which checkpoints `audit verify` and the start-up check trust, and what
// each one makes the chain check expect. A checkpoint whose signature does
// not verify, or that another key signed when a key is pinned, is a problem
// of the log; one that verifies says which hash a record must have.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "audit/chain_check.h"

namespace SQLite {
class Database;
}

namespace agni::audit {

// Every stored checkpoint of `db` (for `audit verify`). With `pubkey` (64
// hex digits) given, each must be signed with it. Returns how many were
// checked; `notes` gets a line when no key was pinned.
std::int64_t ExpectStoredCheckpoints(SQLite::Database& db,
                                     const std::string& pubkey,
                                     ChainChecker& checker,
                                     std::vector<std::string>& notes);

// The stored checkpoints signed with this gateway's key `pubkey` (what
// `serve` checks before it appends); none when `pubkey` is empty.
void ExpectOwnCheckpoints(SQLite::Database& db, const std::string& pubkey,
                          ChainChecker& checker);

// The checkpoint kept outside the gateway in `path` (GET /v1/audit/head
// output, or its "checkpoint" member). Returns why the file cannot be used
// at all, empty when it was added as an expectation or a problem.
std::string ExpectExternalCheckpoint(const std::string& path,
                                     const std::string& pubkey,
                                     ChainChecker& checker,
                                     std::vector<std::string>& notes);

}  // namespace agni::audit
