// The gateway's object graph, built in one place: `serve` runs it and the
// in-process tests run the same graph on port 0.
//
//   signing key -> audit start-up check -> metrics -> syslog sink
//     -> audit store -> read side + checkpointer + background verifier
//     + sink start -> audit API -> upstream client -> rejection ledger
//     -> approvals store, notification channels, gateway, sweeper
//     -> break-glass reviews store, desk, sweeper
//     -> request pipeline -> velocity limits seeded from the audit log
//     -> listeners
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "gateway/config/config.h"
#include "gateway/ops/log.h"

namespace agni {

namespace audit {
class AuditStore;
class BackgroundVerifier;
class Checkpointer;
class ShippingObserver;
class SyslogSink;
class SqliteApprovalStore;
class SqliteReviewStore;
}  // namespace audit

class ApprovalSweeper;
class ApprovalsGateway;
class AuditApi;
class ConsoleSessions;
class ProviderSignIn;
class SessionStore;
class GatewayServer;
class HttpUpstream;
class Metrics;
class RejectionLedger;
class RequestPipeline;
class Notifications;
class ReviewDesk;
class ReviewSweeper;

// What a caller of Build may change; `serve` takes the defaults.
struct BuildOptions {
  // The wall clock of the whole gateway: policy time windows, velocity
  // limits, approvals and audit timestamps (tests move it). Empty: the
  // system clock.
  std::function<std::chrono::system_clock::time_point()> clock;
};

// How a drain ended.
enum class DrainResult {
  kDrained,  // every in-flight request finished; everything is stopped
  // Requests were still running at server.drain_timeout. The rejection
  // summaries and the audit queue are committed, but request threads still
  // run: end the process without destructors (std::_Exit).
  kAbandoned,
};

class Gateway;

// A built gateway, or why not (already logged).
struct BuildResult {
  std::unique_ptr<Gateway> gateway;  // null when a start-up step failed
  std::string error;
};

// Runs every start-up step of `serve` in order, each failure logged with the
// message an operator sees today. Nothing is listening yet: call Start().
// `log` must outlive the gateway.
BuildResult Build(Config config, std::string upstream_api_key,
                  const Logger& log, BuildOptions options = {});

// The running gateway and everything it owns. Start, Reload, Drain and Stop
// are called from one thread (the signal thread in `serve`); the objects
// inside serve requests from the listeners' pools and are thread-safe.
class Gateway {
 public:
  ~Gateway();  // Stop() when started and not stopped yet
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Binds both listeners and logs "agni-gateway listening". Returns an error
  // message (already logged), or an empty string.
  std::string Start();

  // SIGHUP: a config that loaded replaces users and policy (the listeners,
  // audit and upstream settings stay as started); one that did not is
  // logged and counted as a failure, and the previous users and policy keep
  // serving.
  void Reload(const ConfigLoad& load);
  void Reload(const Config& config);

  // Graceful shutdown: /readyz turns 503 and new releases are refused, the
  // main listener stops accepting, in-flight requests finish (bounded by
  // server.drain_timeout), then Stop(). Logs "stopped".
  DrainResult Drain();
  // Stops the listeners, the sweeper and the rejection ledger (writing its
  // summaries), commits the audit queue and signs the final checkpoint.
  // Idempotent.
  void Stop();

  const Config& config() const { return config_; }
  int port() const;
  int admin_port() const;
  RequestPipeline& pipeline() { return *pipeline_; }
  RejectionLedger& rejections() { return *rejections_; }
  audit::AuditStore& audit_store() { return *store_; }

 private:
  friend BuildResult Build(Config, std::string, const Logger&, BuildOptions);
  Gateway(Config config, const Logger& log, BuildOptions options);
  std::chrono::system_clock::time_point Now() const;
  std::function<std::int64_t()> ClockMicros() const;
  void StartVerifier();

  // Declared in construction order, so that a failed Build unwinds as the
  // start-up steps ran, last first.
  const Config config_;
  const Logger& log_;
  const BuildOptions options_;
  std::unique_ptr<Metrics> metrics_;
  // audit.syslog; null when not configured. Declared before the store, so it
  // outlives every commit the store reports.
  std::unique_ptr<audit::SyslogSink> syslog_;
  std::unique_ptr<audit::ShippingObserver> ship_observer_;
  std::unique_ptr<audit::AuditStore> store_;
  std::unique_ptr<audit::Checkpointer> checkpointer_;  // null: no signing key
  // null: audit.verify_records_per_second 0
  std::unique_ptr<audit::BackgroundVerifier> verifier_;
  std::unique_ptr<AuditApi> audit_api_;
  std::unique_ptr<HttpUpstream> upstream_;
  std::unique_ptr<RejectionLedger> rejections_;
  std::unique_ptr<audit::SqliteApprovalStore> approval_store_;
  // approvals.notify[] (and approvals.webhook); no channels: publishes nothing.
  std::unique_ptr<Notifications> notifier_;
  std::unique_ptr<ApprovalsGateway> approvals_;
  std::unique_ptr<ApprovalSweeper> sweeper_;
  std::unique_ptr<audit::SqliteReviewStore> review_store_;
  std::unique_ptr<ReviewDesk> reviews_;
  std::unique_ptr<ReviewSweeper> review_sweeper_;
  std::unique_ptr<SessionStore> sessions_;    // null: console disabled
  std::unique_ptr<ConsoleSessions> console_;  // null: console disabled
  std::unique_ptr<ProviderSignIn> sign_in_;   // null: console disabled
  std::unique_ptr<RequestPipeline> pipeline_;
  std::unique_ptr<GatewayServer> server_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace agni
