#include "audit/chain_check.h"

#include <openssl/evp.h>

#include <stdexcept>
#include <utility>

#include "base/crypto.h"

namespace agni::audit {
namespace {

constexpr std::size_t kMaxProblems = 50;

}  // namespace

ChainHasher::ChainHasher()
    : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {
  if (!md_ || !ctx_) {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
    throw std::runtime_error("SHA-256 unavailable");
  }
}

ChainHasher::~ChainHasher() {
  EVP_MD_CTX_free(ctx_);
  EVP_MD_free(md_);
}

std::string ChainHasher::Hex(std::string_view a, std::string_view b) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestInit_ex(ctx_, md_, nullptr) != 1 ||
      EVP_DigestUpdate(ctx_, a.data(), a.size()) != 1 ||
      EVP_DigestUpdate(ctx_, b.data(), b.size()) != 1 ||
      EVP_DigestFinal_ex(ctx_, digest, &len) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return HexEncode(std::string_view(reinterpret_cast<char*>(digest), len));
}

ChainChecker::ChainChecker(ChainPosition start, bool partial_start)
    : pos_(std::move(start)), start_(pos_), partial_start_(partial_start) {
  // Checking on from a trusted point: intents before it may be closed by
  // outcomes fed here.
  if (!partial_start_) first_seq_ = pos_.seq + 1;
}

void ChainChecker::Expect(std::int64_t seq, Expectation e) {
  // A checkpoint at or before where the check starts (the records before it
  // were archived): only the start itself can be compared.
  if (!partial_start_ && seq > 0 && seq <= start_.seq) {
    if (seq == start_.seq && e.hash != start_.hash) {
      Problem(seq + 1, e.label + " says seq " + std::to_string(seq) +
                           " has hash " + e.hash.substr(0, 16) +
                           "... but the log continues from " +
                           start_.hash.substr(0, 16) +
                           "... (history rewritten or database replaced)");
    }
    return;
  }
  expect_[seq].push_back(std::move(e));
}

void ChainChecker::CheckOrder(std::int64_t seq, const std::string& prev) {
  if (seq != pos_.seq + 1) {
    if (seq <= pos_.seq) {
      Problem(seq, "seq " + std::to_string(seq) + " appears after seq " +
                       std::to_string(pos_.seq) +
                       " (records reordered or duplicated)");
    } else if (seq == pos_.seq + 2) {
      Problem(pos_.seq + 1, "seq " + std::to_string(pos_.seq + 1) +
                                " is missing (record deleted)");
    } else {
      Problem(pos_.seq + 1, "seqs " + std::to_string(pos_.seq + 1) + ".." +
                                std::to_string(seq - 1) +
                                " are missing (records deleted)");
    }
  } else if (prev != pos_.hash) {
    Problem(seq, "prev_hash is not the hash of seq " +
                     std::to_string(pos_.seq) +
                     " (records swapped, inserted or rewritten)");
  }
}

void ChainChecker::Feed(const CanonicalRow& row) {
  if (!row.has_seq) {
    Problem(pos_.seq + 1, "the record after seq " + std::to_string(pos_.seq) +
                              " has no integer seq");
    return;
  }
  const std::int64_t seq = row.seq;
  const std::string& stored_hash = row.hash;
  const std::string& prev = row.prev_hash;
  if (records_ == 0 && partial_start_) {
    pos_ = {seq - 1, prev};
    first_seq_ = seq;
  }
  ++records_;
  CheckOrder(seq, prev);
  const std::string computed = hasher_.Hex(prev, row.canonical);
  if (stored_hash.empty()) {
    Problem(seq, "the record has no hash");
  } else if (!ConstantTimeEquals(computed, stored_hash)) {
    Problem(seq,
            "the record's contents do not match its hash (record altered)");
  }
  if (auto e = expect_.find(seq); e != expect_.end()) {
    for (const Expectation& x : e->second) {
      if (x.hash != stored_hash) {
        Problem(seq, x.label + " says seq " + std::to_string(seq) +
                         " has hash " + x.hash.substr(0, 16) +
                         "... but the log has " + stored_hash.substr(0, 16) +
                         "... (history rewritten or database replaced)");
      }
    }
    expect_.erase(e);
  }
  if (row.stage == Stage::kIntent) {
    open_intents_.insert(seq);
  } else if (row.stage == Stage::kOutcome && row.intent_seq) {
    const std::int64_t intent = *row.intent_seq;
    if (open_intents_.erase(intent) == 0 &&
        (intent >= first_seq_ || intent < 1)) {
      Problem(seq, "outcome for intent seq " + std::to_string(intent) +
                       ", which is not an open intent (duplicate outcome "
                       "or missing intent)");
    }
  }
  pos_ = {seq, stored_hash};
}

void ChainChecker::Finish() {
  for (const auto& [seq, list] : expect_) {
    for (const Expectation& x : list) {
      if (seq == 0) {
        if (x.hash != kGenesisHash) {
          Problem(1, x.label + " of the empty log has a wrong hash");
        }
        continue;
      }
      Problem(pos_.seq + 1,
              x.label + " covers seq " + std::to_string(seq) +
                  " but the log ends at seq " + std::to_string(pos_.seq) +
                  ": records " + std::to_string(pos_.seq + 1) + ".." +
                  std::to_string(seq) +
                  " are missing (tail cut off, or the file was replaced by "
                  "an older copy)");
    }
  }
  expect_.clear();
}

void ChainChecker::Problem(std::int64_t seq, std::string what) {
  if (problems_.size() < kMaxProblems) {
    problems_.push_back({seq, std::move(what)});
  }
}

namespace {

void FeedQuery(RecordQuery& q, ChainChecker& checker, bool stop_at_problem) {
  const RowReader reader(q);
  CanonicalRow row;
  while (q.Step()) {
    reader.Read(q, row);
    checker.Feed(row);
    if (stop_at_problem && !checker.problems().empty()) return;
  }
}

}  // namespace

void FeedAllRecords(SQLite::Database& db, ChainChecker& checker,
                    bool stop_at_problem) {
  RecordQuery q(db, "SELECT * FROM audit_records ORDER BY seq");
  FeedQuery(q, checker, stop_at_problem);
}

void FeedRecordsAfter(SQLite::Database& db, std::int64_t after_seq,
                      ChainChecker& checker, bool stop_at_problem) {
  RecordQuery q(db, "SELECT * FROM audit_records WHERE seq > ? ORDER BY seq");
  q.Bind(1, after_seq);
  FeedQuery(q, checker, stop_at_problem);
}

void FeedRecordsRange(SQLite::Database& db, std::int64_t after_seq,
                      std::int64_t through_seq, ChainChecker& checker,
                      bool stop_at_problem) {
  RecordQuery q(
      db,
      "SELECT * FROM audit_records WHERE seq > ? AND seq <= ? ORDER BY seq");
  q.Bind(1, after_seq);
  q.Bind(2, through_seq);
  FeedQuery(q, checker, stop_at_problem);
}

std::optional<ChainProblem> CheckChainFrom(SQLite::Database& db,
                                           ChainPosition& pos) {
  ChainChecker checker(pos, false);
  FeedRecordsAfter(db, pos.seq, checker, /*stop_at_problem=*/true);
  if (!checker.problems().empty()) return checker.problems().front();
  pos = checker.pos();
  return std::nullopt;
}

}  // namespace agni::audit
