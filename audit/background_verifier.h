// The background verifier: re-hashes the whole audit chain from seq 1 at a
// bounded pace, checks every stored checkpoint on the way, then follows the
// head, and runs the whole-file checks (PRAGMA quick_check) that start-up
// leaves out, so that start-up can trust its own newest checkpoint without
// the log going unchecked. A break it finds is reported once, with its seq,
// and the verifier stops (the evidence stays as it is).
//
// Thread-safe: verified_seq() and problem() may be called from any thread;
// Start/Stop from one. Uses its own read-only SQLite connection, in short
// read transactions, so the writer is never held up.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "audit/chain_check.h"

namespace SQLite {
class Database;
}

namespace agni::audit {

struct VerifierOptions {
  std::string db_path;
  std::int64_t records_per_second = 20000;  // the pace; > 0
  // A new full pass from seq 1 starts this long after the previous one
  // started (once the head is reached).
  std::chrono::milliseconds full_pass_every{std::chrono::hours(24)};
  // How often to look for new records once the head is reached.
  std::chrono::milliseconds poll{std::chrono::seconds(1)};
};

// Where the verifier's findings go; called from its thread.
struct VerifierHooks {
  std::function<void(std::int64_t seq)> progress;  // verified through seq
  std::function<void(const ChainProblem&)> broken;
  std::function<void(const std::string&)> error;  // could not read; retried
};

class BackgroundVerifier {
 public:
  BackgroundVerifier(VerifierOptions options, VerifierHooks hooks);
  ~BackgroundVerifier();  // Stop()
  BackgroundVerifier(const BackgroundVerifier&) = delete;
  BackgroundVerifier& operator=(const BackgroundVerifier&) = delete;

  void Start();
  void Stop();

  // The last seq of the current pass found intact (0 before the first).
  std::int64_t verified_seq() const { return verified_seq_.load(); }
  // The break found, if any.
  std::optional<ChainProblem> problem() const;
  // Records re-hashed since Start() (all passes).
  std::int64_t rehashed() const { return rehashed_.load(); }

 private:
  void Loop();
  // Verifies the next chunk of the pass; returns the records read (0: at
  // the head). Sets problem_ when it finds one.
  std::int64_t Step(SQLite::Database& db, ChainChecker& checker);
  bool WholeFileCheck(SQLite::Database& db);
  std::unique_ptr<SQLite::Database> Open() const;
  // Waits `d` or until Stop(); false when stopping.
  bool Sleep(std::chrono::nanoseconds d);
  void Report(ChainProblem p);

  VerifierOptions options_;
  VerifierHooks hooks_;
  std::atomic<std::int64_t> verified_seq_{0};
  std::atomic<std::int64_t> rehashed_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::optional<ChainProblem> problem_;
  std::thread thread_;
};

}  // namespace agni::audit
