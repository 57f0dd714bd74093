// The background verifier against a log that grows while it runs: it follows
// the head, re-hashing every record once, in one read transaction per poll
// rather than one per record or two as they commit.
#include "audit/background_verifier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "audit/record.h"
#include "audit/store.h"
#include "tests/support/temp_dir.h"

namespace agni::audit {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

Record Decision(int i) {
  Record r;
  r.stage = Stage::kDecision;
  r.request_id = "req-" + std::to_string(i);
  r.decision = "deny";
  r.response_status = 403;
  return r;
}

TEST(BackgroundVerifierTest, FollowsAGrowingLogInAReadPerPollNotPerRecord) {
  testing::TempDir dir;
  const std::string db = dir.File("audit.db");
  AuditStore store({.path = db});
  ASSERT_TRUE(store.Append(Decision(0)).ok);

  constexpr milliseconds kPoll{100};
  // 500 records a second: chunks of 50 at most, and reading a record takes
  // 2 ms of the pace, about as long as the next one takes to commit.
  constexpr std::int64_t kPace = 500;
  BackgroundVerifier verifier(
      {.db_path = db, .records_per_second = kPace, .poll = kPoll}, {});
  const auto started = Clock::now();
  verifier.Start();
  // Records commit one at a time, a few milliseconds apart, for longer than
  // several polls: the way a gateway's releases trickle in.
  constexpr int kRecords = 150;
  for (int i = 1; i < kRecords; ++i) {
    ASSERT_TRUE(store.Append(Decision(i)).ok);
    std::this_thread::sleep_for(milliseconds(2));
  }
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (verifier.verified_seq() < kRecords && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  const auto elapsed = Clock::now() - started;

  ASSERT_EQ(verifier.verified_seq(), kRecords);
  EXPECT_FALSE(verifier.problem().has_value());
  EXPECT_EQ(verifier.rehashed(), kRecords);
  // One chunk per poll that found records, and one per full chunk, however
  // slowly the machine runs; reading on as records committed, with the
  // pace's wait after each, took a chunk for about every record.
  const std::int64_t polls = elapsed / kPoll;
  EXPECT_LE(verifier.chunks(), polls + kRecords / (kPace / 10) + 2)
      << "in " << std::chrono::duration_cast<milliseconds>(elapsed).count()
      << " ms";
  verifier.Stop();
}

}  // namespace
}  // namespace agni::audit
