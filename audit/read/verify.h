// `audit verify`: re-computes the hash chain of an audit database or of a
// JSONL export without trusting any stored hash, and checks the signed
// checkpoints. Also the smaller checks the gateway runs on itself (at start
// and before signing a checkpoint).
//
// Works on a read-only connection, so it can run while a gateway writes.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace SQLite {
class Database;
class Statement;
}

namespace agni::audit {

// A point on the chain: the last record seen and its hash (seq 0 = genesis).
struct ChainPosition {
  std::int64_t seq = 0;
  std::string hash;
};

struct ChainProblem {
  std::int64_t seq = 0;  // the first seq the problem concerns
  std::string what;
};

// Re-hashes every record after `pos` in seq order, advancing `pos` to the
// last good record. Returns the first problem, if any.
std::optional<ChainProblem> CheckChainFrom(SQLite::Database& db,
                                           ChainPosition& pos);

// The newest stored checkpoint signed by `public_key_hex` whose signature
// verifies and whose seq/hash match the record there: (seq, hash).
std::optional<std::pair<std::int64_t, std::string>> TrustedAnchor(
    SQLite::Database& db, const std::string& public_key_hex);

// What `serve` checks before it appends anything: the file (if it exists)
// re-hashes to an intact chain from seq 1, and every checkpoint signed with
// `public_key_hex` (if given) still matches its record (none lies beyond the
// last record: a cut tail or an older copy). Returns an error message for the
// operator, empty when fine.
std::string CheckBeforeServing(const std::string& db_path,
                               const std::string& public_key_hex);

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

struct VerifyReport {
  int exit_code = kVerifyOk;
  std::int64_t records = 0;
  std::int64_t last_seq = 0;
  std::string last_hash;
  std::int64_t checkpoints = 0;       // stored checkpoints checked
  std::vector<ChainProblem> problems;  // sorted by seq; first is "the" one
  std::string unreadable;              // why, when exit_code == 2
  std::vector<std::string> notes;      // informational lines

  // The report as printed by the CLI.
  std::string Text() const;
};

VerifyReport Verify(const VerifyOptions& options);

// The row the statement is on as a JSON object of its non-NULL columns,
// integers as numbers and text as strings (`hash` included). A REAL or BLOB
// value, which the gateway never writes, throws std::runtime_error.
nlohmann::json RowObject(SQLite::Statement& q);

// Writes the records with from_seq <= seq <= to_seq as JSONL, one line
// each: the canonical form with `hash` added, so the bytes are ASCII and a
// line re-serialised canonically hashes as the record did.
void WriteJsonlRows(SQLite::Database& db, std::int64_t from_seq,
                    std::int64_t to_seq, std::ostream& out,
                    std::int64_t& records);

}  // namespace agni::audit
