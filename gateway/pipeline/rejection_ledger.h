// Bounded audit growth under floods of rejected requests that carry no
// identity (401 unauthenticated; the same mechanism takes any reason a caller
// routes through it, e.g. 503 overloaded before authentication).
//
// Every such request is still accounted for in the audit chain, but not
// necessarily by a record of its own. Per key (peer address as the pipeline
// sees it, reason) and per window (audit.rejections.window):
//   - the first `burst` rejections are recorded individually, as before, as
//     long as the window's global budget of individual records
//     (`max_individual`, across all keys) lasts;
//   - the rest are only counted. When the window closes the ledger appends
//     one summary record per key that had counted requests: stage "decision",
//     decision "deny", the reason, the peer, the response status, and
//     `request_count` = how many requests it stands for (first and last time,
//     distinct credential fingerprints in `detail`).
// So, for any reason r: (records with reason r and no request_count) +
// sum(request_count of summaries with reason r) = requests rejected with r.
//
// Memory is bounded: at most `max_keys` keys per window; a rejection from a
// further peer is counted under the key ("*", reason), so nothing goes
// uncounted. Each key keeps at most kMaxFingerprints distinct fingerprints.
// Audit growth per window is bounded by max_individual + max_keys + (number
// of reasons) records, whatever the request rate.
//
// Crash bound: the counts of the window in progress (at most `window` of
// suppressed rejections) are lost if the process dies without a clean
// shutdown; none of those requests was forwarded. Stop() (clean shutdown)
// writes them before the audit store closes.
//
// Thread-safe. Admit() takes one mutex and never waits for the audit log.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "audit/store.h"
#include "gateway/ops/log.h"

namespace agni {

class Metrics;

struct RejectionLedgerOptions {
  std::size_t burst = 10;                   // individual records per key
  std::chrono::milliseconds window{10000};  // counting window
  std::size_t max_individual = 100;         // individual records per window
  std::size_t max_keys = 1024;              // keys per window, then "*"
};

class RejectionLedger {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // Distinct credential fingerprints remembered per key and window.
  static constexpr std::size_t kMaxFingerprints = 32;
  // The peer of the key that counts rejections past max_keys.
  static constexpr std::string_view kOverflowPeer = "*";

  // `metrics` may be null (unit tests). `clock` defaults to the system clock.
  RejectionLedger(RejectionLedgerOptions options, audit::AuditSink& audit,
                  Metrics* metrics, const Logger& log, Clock clock = nullptr);
  ~RejectionLedger();  // Stop()

  RejectionLedger(const RejectionLedger&) = delete;
  RejectionLedger& operator=(const RejectionLedger&) = delete;

  // One rejected request without identity. True: the caller records (and
  // logs) it individually as usual. False: it has been counted into its key's
  // summary; the caller writes no record and no request log line.
  bool Admit(std::string_view peer, std::string_view reason, int status,
             std::string_view credential_fingerprint);

  // When the current window has ended: appends its summaries (and any left
  // over by a failed write). Returns the number of summary records written.
  std::size_t CloseWindowIfDue();
  // Ends the current window now and appends every summary.
  std::size_t Flush();

  // A thread that closes windows as they end (checks at least once a second).
  void Start();
  // Stops that thread and Flush()es. Call before the audit store closes.
  void Stop();

  // Totals since construction, for tests and the shutdown log line.
  struct Totals {
    std::uint64_t individual = 0;       // admitted for an individual record
    std::uint64_t summarized = 0;       // counted into summaries
    std::uint64_t summary_records = 0;  // summary records committed
    std::uint64_t written = 0;          // requests those summaries stand for
    std::uint64_t unwritten = 0;        // counted, summary not (yet) committed
  };
  Totals totals() const;
  const RejectionLedgerOptions& options() const { return options_; }

 private:
  struct Entry {
    std::string peer;
    std::string reason;
    int status = 0;
    std::size_t individual = 0;
    std::uint64_t suppressed = 0;
    std::int64_t first_us = 0;
    std::int64_t last_us = 0;
    std::uint64_t without_credential = 0;
    std::map<std::string, std::uint64_t> fingerprints;  // capped
    bool more_fingerprints = false;
  };
  struct Summary {
    Entry entry;
    std::int64_t window_start_us = 0;
  };

  std::int64_t NowUs() const;
  // Moves the open window's counted keys to pending_ and resets. Locked.
  void RotateLocked();
  std::size_t WritePending(bool rotate_always);
  audit::Record SummaryRecord(const Summary& s) const;

  const RejectionLedgerOptions options_;
  audit::AuditSink& audit_;
  Metrics* metrics_;
  const Logger& log_;
  Clock clock_;

  mutable std::mutex mu_;
  bool window_open_ = false;
  std::int64_t window_start_us_ = 0;
  std::size_t individual_in_window_ = 0;
  // Key: peer + '\n' + reason (neither can hold a newline).
  std::unordered_map<std::string, Entry> keys_;
  std::size_t ordinary_keys_ = 0;  // keys_ other than the overflow keys
  std::vector<Summary> pending_;   // closed, not yet committed
  Totals totals_;

  std::mutex write_mu_;  // one writer of summaries at a time, in order

  std::mutex thread_mu_;
  std::condition_variable thread_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace agni
