#include "gateway/app/app.h"

#include <exception>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "audit/approval_store.h"
#include "audit/background_verifier.h"
#include "audit/checkpoint.h"
#include "audit/read/query.h"
#include "audit/read/verify.h"
#include "audit/review_store.h"
#include "audit/ship/syslog_sink.h"
#include "audit/store.h"
#include "gateway/approvals/approvals_api.h"
#include "gateway/auth/identity.h"
#include "gateway/console/provider_sign_in.h"
#include "gateway/console/sessions.h"
#include "gateway/http/server.h"
#include "gateway/notify/notifications.h"
#include "gateway/ops/metrics.h"
#include "gateway/pipeline/audit_api.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/pipeline/policy_tools.h"
#include "gateway/pipeline/rejection_ledger.h"
#include "gateway/reviews/review_desk.h"
#include "gateway/upstream/http_upstream.h"

namespace agni {
namespace {

// Logs a start-up failure and returns it as the Build result.
BuildResult Fail(const Logger& log, std::string_view message,
                 const std::string& error) {
  log.Error(message, {{"error", error}});
  return {nullptr, error};
}

// The syslog sink's reports as metrics and log lines.
audit::SyslogHooks SyslogHooksFor(Metrics& metrics, const Logger& log) {
  return {
      .shipped =
          [&metrics](std::int64_t seq) { metrics.SetAuditShippedSeq(seq); },
      .failed = [&metrics] { metrics.CountAuditShipFailure(); },
      .connected = [&metrics] { metrics.CountAuditShipConnection(); },
      .log =
          [&log](std::string_view level, std::string_view message,
                 const std::string& detail) {
            nlohmann::json fields = {{"detail", detail}};
            if (level == "info") {
              log.Info(message, std::move(fields));
            } else if (level == "warn") {
              log.Warn(message, std::move(fields));
            } else {
              log.Error(message, std::move(fields));
            }
          },
  };
}

// The verifier of config.identity with its keys fetched once (the caller
// waits; an issuer that did not answer keeps /readyz at 503 `identity keys`
// and is retried in the background). Null without identity.oidc.
std::shared_ptr<const IdentityVerifier> StartIdentity(const Config& c,
                                                      Metrics& metrics,
                                                      const Logger& log) {
  if (c.identity.oidc.empty()) return nullptr;
  std::vector<std::string> declared = c.groups;
  for (const User& u : c.users) {
    declared.insert(declared.end(), u.groups.begin(), u.groups.end());
  }
  for (const OidcIssuerConfig& o : c.identity.oidc)
    metrics.DeclareIssuer(o.name);
  auto identity = std::make_shared<IdentityVerifier>(
      c.identity, declared,
      [&metrics, &log](const std::string& issuer, bool ok,
                       const std::string& error) {
        metrics.CountJwksRefresh(issuer, ok);
        if (!ok) {
          log.Warn(
              "identity provider keys not refreshed; the last good keys "
              "stay in use",
              {{"issuer", issuer}, {"error", error}});
        }
      },
      nullptr, [&metrics](bool hit) { metrics.CountJwtCache(hit); });
  identity->Start();
  return identity;
}

}  // namespace

Gateway::Gateway(Config config, const Logger& log, BuildOptions options)
    : config_(std::move(config)), log_(log), options_(std::move(options)) {}

Gateway::~Gateway() {
  if (started_ && !stopped_) Stop();
}

std::chrono::system_clock::time_point Gateway::Now() const {
  return options_.clock ? options_.clock() : std::chrono::system_clock::now();
}

std::function<std::int64_t()> Gateway::ClockMicros() const {
  return [this] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               Now().time_since_epoch())
        .count();
  };
}

BuildResult Build(Config config, std::string upstream_api_key,
                  const Logger& log, BuildOptions options) {
  std::unique_ptr<Gateway> gw(
      new Gateway(std::move(config), log, std::move(options)));
  const Config& c = gw->config_;

  // A broken chain stops the gateway before it appends anything.
  std::optional<audit::SigningKey> signing_key;
  try {
    if (!c.audit.signing_key_file.empty()) {
      signing_key = audit::SigningKey::LoadPem(c.audit.signing_key_file);
    }
  } catch (const std::exception& e) {
    return Fail(log, "cannot load the audit signing key; not starting",
                e.what());
  }
  const audit::StartCheck checked = audit::CheckBeforeServing(
      c.audit.path,
      signing_key ? signing_key->public_key_hex() : std::string());
  if (!checked.error.empty()) {
    log.Error("audit log failed its start-up check",
              {{"error", checked.error}});
    std::cerr << "agni-gateway: " << checked.error << "\n";
    return {nullptr, checked.error};
  }
  log.Info("audit chain checked at start",
           {{"trusted_through_seq", checked.trusted_seq},
            {"rehashed", checked.rehashed}});

  gw->metrics_ = std::make_unique<Metrics>();
  audit::StoreObserver* observer = gw->metrics_.get();
  if (c.audit.syslog) {
    try {
      gw->syslog_ = std::make_unique<audit::SyslogSink>(
          *c.audit.syslog, SyslogHooksFor(*gw->metrics_, log));
    } catch (const std::exception& e) {
      return Fail(log, "cannot set up the audit syslog sink; not starting",
                  e.what());
    }
    gw->ship_observer_ = std::make_unique<audit::ShippingObserver>(
        gw->metrics_.get(), *gw->syslog_);
    observer = gw->ship_observer_.get();
  }
  try {
    gw->store_ = std::make_unique<audit::AuditStore>(
        audit::StoreOptions{c.audit.path, c.audit.busy_timeout,
                            c.audit.max_queue, c.audit.max_batch},
        observer, gw->options_.clock ? gw->ClockMicros() : nullptr);
  } catch (const std::exception& e) {
    return Fail(log, "cannot open the audit store; not starting", e.what());
  }
  try {
    audit::PrepareReadSide(c.audit.path);
    if (signing_key) {
      gw->checkpointer_ = std::make_unique<audit::Checkpointer>(
          c.audit.path, *signing_key, c.audit.checkpoint_interval,
          [&log](const std::string& error) {
            log.Error("audit checkpoint not written", {{"error", error}});
          });
      if (!c.audit.witness_dir.empty()) {
        Metrics* metrics = gw->metrics_.get();
        gw->checkpointer_->SetWitness(
            c.audit.witness_dir, [&log, metrics](const std::string& error) {
              metrics->CountWitnessFailure();
              log.Error("signed checkpoint not copied to audit.witness_dir",
                        {{"error", error}});
            });
      }
      // The start check has just re-hashed the chain: the first checkpoint
      // signs after re-hashing only what the store appended since.
      gw->checkpointer_->Start(checked.verified);
      log.Info("audit head signed at start",
               {{"rehashed", gw->checkpointer_->rehashed()}});
    }
    // After the read side exists: the sink reads with its own connection.
    if (gw->syslog_) gw->syslog_->Start(c.audit.path);
  } catch (const std::exception& e) {
    return Fail(log, "cannot prepare the audit log; not starting", e.what());
  }
  if (c.audit.verify_records_per_second > 0) {
    gw->StartVerifier();
  }
  gw->audit_api_ = std::make_unique<AuditApi>(c.audit.path);
  if (gw->store_->recovered_intents() > 0) {
    log.Warn("closed release intents left open by an earlier stop as unknown",
             {{"count", gw->store_->recovered_intents()}});
  }
  gw->upstream_ =
      std::make_unique<HttpUpstream>(c.upstream, std::move(upstream_api_key));
  const AuditRejectionsConfig& rc = c.audit.rejections;
  gw->rejections_ = std::make_unique<RejectionLedger>(
      RejectionLedgerOptions{rc.burst, rc.window, rc.max_individual,
                             rc.max_keys},
      *gw->store_, gw->metrics_.get(), log);
  gw->rejections_->Start();
  try {
    gw->approval_store_ =
        std::make_unique<audit::SqliteApprovalStore>(c.approvals.path);
  } catch (const std::exception& e) {
    return Fail(log, "cannot open the approvals store; not starting", e.what());
  }
  gw->notifier_ = std::make_unique<Notifications>(
      c.approvals.notify, c.console.public_url, *gw->metrics_, log);
  gw->notifier_->UseInventory(std::make_shared<const Inventory>(c.inventory));
  gw->approvals_ = std::make_unique<ApprovalsGateway>(
      *gw->approval_store_, *gw->store_, *gw->metrics_, gw->notifier_.get(),
      log, gw->ClockMicros(), c.approvals.max_open_per_user);
  {
    const AccessSnapshot access(c);
    gw->approvals_->UseConfig(access.policy, access.members);
  }
  try {
    gw->approvals_->RecoverUnconfirmed(c.audit.path);
  } catch (const std::exception& e) {
    return Fail(log,
                "cannot settle approvals consumed before the last stop; not "
                "starting",
                e.what());
  }
  gw->sweeper_ = std::make_unique<ApprovalSweeper>(*gw->approvals_);
  try {
    gw->review_store_ =
        std::make_unique<audit::SqliteReviewStore>(c.approvals.reviews_path);
  } catch (const std::exception& e) {
    return Fail(log, "cannot open the break-glass reviews store; not starting",
                e.what());
  }
  gw->reviews_ = std::make_unique<ReviewDesk>(
      *gw->review_store_, *gw->store_, *gw->metrics_, gw->notifier_.get(), log,
      gw->ClockMicros());
  gw->review_sweeper_ = std::make_unique<ReviewSweeper>(*gw->reviews_);
  if (c.console.enabled) {
    try {
      gw->sessions_ = std::make_unique<SessionStore>(c.console.sessions_path);
    } catch (const std::exception& e) {
      return Fail(log, "cannot open the console sessions store; not starting",
                  e.what());
    }
    gw->console_ = std::make_unique<ConsoleSessions>(
        c.console, c.tls.enabled, IsLoopbackHost(c.listen.host), *gw->sessions_,
        gw->options_.clock);
    gw->sign_in_ =
        std::make_unique<ProviderSignIn>(*gw->sessions_, gw->options_.clock);
  }
  gw->pipeline_ = std::make_unique<RequestPipeline>(
      std::make_shared<const AccessSnapshot>(
          c, StartIdentity(c, *gw->metrics_, log)),
      RequestPipeline::Collaborators{
          .audit = *gw->store_,
          .upstream = *gw->upstream_,
          .metrics = *gw->metrics_,
          .log = log,
          .max_in_flight = c.upstream.max_in_flight,
          .rejections = gw->rejections_.get(),
          .audit_api = gw->audit_api_.get(),
          .approvals = gw->approvals_.get(),
          .clock = gw->options_.clock,
          .console = gw->console_.get(),
          .sign_in = gw->sign_in_.get(),
          .reviews = gw->reviews_.get(),
      });
  try {
    gw->metrics_->DeclareRateLimits(*c.policy);
    const std::size_t counted = SeedLimiterFromAudit(
        c.audit.path, *c.policy, gw->pipeline_->limiter(), gw->Now());
    log.Info("velocity limits count the releases already in the audit log",
             {{"releases", counted}});
  } catch (const std::exception& e) {
    // Without the history the limits would start from zero: fail closed.
    return Fail(log,
                "cannot read recent releases from the audit log; not starting",
                e.what());
  }
  gw->server_ = std::make_unique<GatewayServer>(
      c, *gw->pipeline_, *gw->metrics_, *gw->store_, log);
  return {std::move(gw), ""};
}

std::string Gateway::Start() {
  if (std::string error = server_->Start(); !error.empty()) {
    log_.Error("cannot start", {{"error", error}});
    return error;
  }
  started_ = true;
  log_.Info(
      "agni-gateway listening",
      {{"listen", config_.listen.host + ":" + std::to_string(server_->port())},
       {"admin_listen", config_.admin_listen.host + ":" +
                            std::to_string(server_->admin_port())},
       {"upstream", config_.upstream.base_url},
       {"version", AGNI_VERSION}});
  return "";
}

void Gateway::StartVerifier() {
  Metrics* metrics = metrics_.get();
  audit::AuditStore* store = store_.get();
  const Logger& log = log_;
  verifier_ = std::make_unique<audit::BackgroundVerifier>(
      audit::VerifierOptions{
          .db_path = config_.audit.path,
          .records_per_second = config_.audit.verify_records_per_second,
          .full_pass_every = config_.audit.verify_full_pass_every,
      },
      audit::VerifierHooks{
          .progress =
              [metrics](std::int64_t seq) {
                metrics->SetAuditVerifiedSeq(static_cast<double>(seq));
              },
          .broken =
              [&log, store](const audit::ChainProblem& p) {
                log.Error(
                    "the background verifier found the audit chain broken; "
                    "/readyz reports it. `agni-gateway audit verify --db` "
                    "lists every problem",
                    {{"seq", p.seq}, {"error", p.what}});
                store->ReportChainBreak("audit chain broken at seq " +
                                        std::to_string(p.seq) + ": " + p.what);
              },
          .error =
              [&log](const std::string& error) {
                log.Warn(
                    "the background verifier cannot read the audit log; "
                    "retrying",
                    {{"error", error}});
              },
      });
  verifier_->Start();
}

int Gateway::port() const { return server_->port(); }
int Gateway::admin_port() const { return server_->admin_port(); }

void Gateway::Reload(const ConfigLoad& load) {
  if (load.errors.empty()) {
    Reload(*load.config);
    return;
  }
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& e : load.errors) errors.push_back(e.path + ": " + e.message);
  log_.Error("reload rejected; the previous users and policy keep serving",
             {{"errors", errors}});
  metrics_->CountConfigReload("failure");
}

void Gateway::Reload(const Config& config) {
  auto access = std::make_shared<const AccessSnapshot>(
      config, StartIdentity(config, *metrics_, log_));
  // Approvals first: once the new policy serves, approvals are judged by it.
  approvals_->UseConfig(access->policy, access->members);
  notifier_->UseInventory(access->inventory);
  pipeline_->ReplaceAccess(std::move(access));
  if (server_)
    server_->ReplaceClientCertificates(config.tls.client_certificates);
  const TlsConfig& now = config_.tls;
  if (config.tls.cert_file != now.cert_file ||
      config.tls.key_file != now.key_file ||
      config.tls.client_ca_file != now.client_ca_file ||
      config.tls.require_client_certificate != now.require_client_certificate) {
    log_.Warn(
        "tls: the certificate, key, CA and client_auth settings take effect "
        "at the next start; client_certificates mappings are reloaded now");
  }
  metrics_->DeclareRateLimits(*config.policy);
  log_.Info("reloaded users and policy",
            {{"policy_hash", config.policy->hash},
             {"inventory_numbers", config.inventory.size()}});
  metrics_->CountConfigReload("success");
}

DrainResult Gateway::Drain() {
  pipeline_->StartDraining();
  if (!server_->DrainMain(config_.server.drain_timeout)) {
    log_.Error(
        "drain timeout: requests still in flight are abandoned; their "
        "open intents are closed as unknown at the next start",
        {{"drain_timeout_ms", config_.server.drain_timeout.count()}});
    stopped_ = true;      // the rest would wait for the abandoned requests
    rejections_->Stop();  // summaries of counted rejections, before the close
    store_->Close();
    log_.Info("stopped");
    return DrainResult::kAbandoned;
  }
  Stop();
  log_.Info("stopped");
  return DrainResult::kDrained;
}

void Gateway::Stop() {
  if (stopped_) return;
  stopped_ = true;
  server_->Stop();  // waits for in-flight requests on the worker threads
  sweeper_->Stop();
  review_sweeper_->Stop();
  if (verifier_) verifier_->Stop();
  rejections_->Stop();  // writes the open window's summaries
  store_->Close();      // commits whatever is queued
  if (checkpointer_) checkpointer_->Stop();  // signs the final head
  if (syslog_) syslog_->Stop();              // ships the last records, bounded
}

}  // namespace agni
