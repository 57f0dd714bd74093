// The syslog sink: every committed audit record, in seq order, to a syslog
// receiver (a SIEM, rsyslog) as RFC 5424 over TLS with RFC 5425 framing.
//
// The writer hands committed records over without waiting (a full queue
// drops them from memory only: the sink reads them back from the database by
// seq on its own read-only connection), so shipping never delays or fails a
// release. The sink's thread ships in sessions: it connects, writes what is
// waiting and what comes while the connection is busy or idle for less than
// idle_timeout, then (caught up and idle, or after max_session_records or
// confirm_interval) closes the connection and waits for the proof that the
// peer read everything (the
// peer closes its side and acknowledges ours without a reset;
// TlsStream::CloseConfirmed). Only then does that session's last seq count
// as taken: it is written to the state file and exported as
// agni_gateway_audit_shipped_seq. A failed session (peer down, reset, time
// out) is sent again from the record after the last one taken, after a
// backoff, so delivery is at least once and every message carries its seq
// for de-duplication. Records are sent twice only when the peer read them
// and then went away before reading the end of their session (rsyslog on
// SIGTERM closes without reading what is left in its socket); a peer
// restarted between sessions, or a sink restart, gets each record once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/ship/record_source.h"
#include "audit/ship/syslog_format.h"
#include "audit/ship/syslog_options.h"
#include "audit/ship/tls_stream.h"
#include "audit/store.h"

namespace agni::audit {

// What the sink reports, for metrics and logs. Called from the sink's thread.
struct SyslogHooks {
  std::function<void(std::int64_t seq)> shipped;  // the peer took up to seq
  std::function<void()> failed;                   // a session failed
  std::function<void()> connected;                // a connection was opened
  // level: "info" | "warn" | "error"; `detail` names the cause.
  std::function<void(std::string_view level, std::string_view message,
                     const std::string& detail)>
      log;
};

// Thread-safe: Offer() from the audit writer's thread, the rest from the
// owner's thread.
class SyslogSink {
 public:
  // Builds the TLS context (throws std::runtime_error naming the file that
  // did not load). Nothing is shipped before Start().
  SyslogSink(SyslogOptions options, SyslogHooks hooks);
  ~SyslogSink();  // Stop()
  SyslogSink(const SyslogSink&) = delete;
  SyslogSink& operator=(const SyslogSink&) = delete;

  // Opens the database read-only, reads the state file and starts shipping
  // from the record after the last one the peer took. Throws.
  void Start(const std::string& db_path);
  // Hands over committed records; never blocks on the network or the disk.
  void Offer(const std::vector<const Record*>& records);
  // Ships what is waiting for at most stop_flush, then stops the thread.
  // What is not confirmed by then is sent at the next start. Idempotent.
  void Stop();

  // The last seq the peer took (0: none yet).
  std::int64_t shipped_seq() const { return shipped_seq_.load(); }

 private:
  void Run();
  // One connection; false when it failed (counted, logged, backoff).
  bool Session();
  // Waits, connected, until records after `last` are committed (true), or
  // until idle_timeout passes, `confirm_by` comes, the sink stops or the
  // peer closes (false).
  bool WaitForMore(std::int64_t last,
                   std::chrono::steady_clock::time_point confirm_by,
                   TlsStream& stream);
  // The next records from `from` on, from memory or the database; sets
  // `skipped_to` when records from..skipped_to are no longer stored.
  void NextBatch(std::int64_t from, std::vector<ShipRecord>& out,
                 std::int64_t& skipped_to);
  void Confirm(std::int64_t seq);
  // `base`, or what is left of stop_flush once stopping.
  std::chrono::milliseconds Timeout(std::chrono::milliseconds base) const;
  bool Failed(const std::string& error);
  void Log(std::string_view level, std::string_view message,
           const std::string& detail) const;

  const SyslogOptions options_;
  const SyslogHooks hooks_;
  const SyslogHeader header_;
  std::unique_ptr<TlsClientContext> tls_;
  std::unique_ptr<ShipRecordSource> source_;  // sink thread only

  std::int64_t acked_ = 0;  // sink thread only
  bool failing_ = false;    // sink thread only: for log transitions
  std::atomic<std::int64_t> shipped_seq_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ShipRecord> queue_;
  std::int64_t committed_head_ = 0;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_deadline_;
  std::thread thread_;
};

// The audit store's observer while a sink runs: forwards every event to
// `next` (the metrics) and hands each commit to the sink. Thread-safe as its
// parts are.
class ShippingObserver final : public StoreObserver {
 public:
  ShippingObserver(StoreObserver* next, SyslogSink& sink)
      : next_(next), sink_(sink) {}
  void OnCommit(const std::vector<const Record*>& records,
                std::chrono::nanoseconds duration) override;
  void OnFailure(std::size_t records) override;
  void OnQueueDepth(std::size_t depth) override;

 private:
  StoreObserver* next_;
  SyslogSink& sink_;
};

// The state file: the seq of the last record the peer took. nullopt when it
// does not exist; throws std::runtime_error when it cannot be read or parsed.
std::optional<std::int64_t> ReadShippedSeq(const std::string& path);
// Replaces it atomically and durably (temp file, fsync, rename). Throws.
void WriteShippedSeq(const std::string& path, std::int64_t seq);

}  // namespace agni::audit
