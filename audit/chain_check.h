// Checking the hash chain: records fed in seq order are re-hashed from their
// canonical bytes without trusting any stored hash, and every problem that
// can be named is collected. Used by `audit verify`, by the start-up check
// and by the Checkpointer before it signs.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "audit/record_io.h"

namespace SQLite {
class Database;
}

namespace agni::audit {

// A point on the chain: the last record seen and its hash (seq 0 = genesis).
struct ChainPosition {
  std::int64_t seq = 0;
  std::string hash;
};

// One thing wrong with the chain, in words for the operator.
struct ChainProblem {
  std::int64_t seq = 0;  // the first seq the problem concerns
  std::string what;
};

// What a checkpoint says the record at `seq` hashes to.
struct Expectation {
  std::string hash;
  std::string label;  // "checkpoint #3 (seq 10, signed 2026-...)"
};

// hex(SHA-256(a || b)) with the digest fetched once: verify hashes a
// million records, and OpenSSL 3's implicit fetch per call costs more than
// the hash of a short record. Not thread-safe; one per checker.
class ChainHasher {
 public:
  ChainHasher();
  ~ChainHasher();
  ChainHasher(const ChainHasher&) = delete;
  ChainHasher& operator=(const ChainHasher&) = delete;

  std::string Hex(std::string_view a, std::string_view b);

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

// Feeds records in seq order and collects every problem it can name (up to
// a cap). Not thread-safe; one per check.
class ChainChecker {
 public:
  // `partial_start`: the first record fed may have any seq, and its
  // prev_hash is taken as given (a JSONL export of a range). Otherwise the
  // first record must follow `start`; outcomes of intents at or before
  // `start` are not questioned (they were open there).
  ChainChecker(ChainPosition start, bool partial_start);

  void Expect(std::int64_t seq, Expectation e);
  void Feed(const CanonicalRow& row);
  // Checkpoints beyond the last record mean the tail is gone.
  void Finish();
  void Problem(std::int64_t seq, std::string what);

  const ChainPosition& pos() const { return pos_; }
  std::int64_t records() const { return records_; }
  std::int64_t first_seq() const { return first_seq_; }
  const std::unordered_set<std::int64_t>& open_intents() const {
    return open_intents_;
  }
  std::vector<ChainProblem>& problems() { return problems_; }

 private:
  void CheckOrder(std::int64_t seq, const std::string& prev);

  ChainHasher hasher_;
  ChainPosition pos_;
  ChainPosition start_;
  bool partial_start_;
  std::int64_t first_seq_ = 1;
  std::int64_t records_ = 0;
  std::map<std::int64_t, std::vector<Expectation>> expect_;
  std::unordered_set<std::int64_t> open_intents_;
  std::vector<ChainProblem> problems_;
};

// Re-hashes every record of `db` after `pos` in seq order, advancing `pos`
// to the last good record. Returns the first problem, if any.
std::optional<ChainProblem> CheckChainFrom(SQLite::Database& db,
                                           ChainPosition& pos);

// Feeds every record of `db` in seq order to `checker`; with
// `stop_at_problem`, stops at the first problem found.
void FeedAllRecords(SQLite::Database& db, ChainChecker& checker,
                    bool stop_at_problem);

// The same for the records after `after_seq` only.
void FeedRecordsAfter(SQLite::Database& db, std::int64_t after_seq,
                      ChainChecker& checker, bool stop_at_problem);
// ... and those in (after_seq, through_seq].
void FeedRecordsRange(SQLite::Database& db, std::int64_t after_seq,
                      std::int64_t through_seq, ChainChecker& checker,
                      bool stop_at_problem);

}  // namespace agni::audit
