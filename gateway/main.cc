// agni-gateway: argv -> subcommands. Builds the object graph for `serve` and
// owns nothing else; everything testable lives in agni_core.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <pthread.h>

#include <CLI/CLI.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "audit/checkpoint.h"
#include "audit/read/query.h"
#include "audit/store.h"
#include "audit/read/verify.h"
#include "gateway/pipeline/audit_api.h"
#include "gateway/cli/audit_cli.h"
#include "audit/approval_store.h"
#include "audit/store.h"
#include "gateway/approvals/approval_webhook.h"
#include "gateway/approvals/approvals_api.h"
#include "gateway/config/config.h"
#include "base/crypto.h"
#include "gateway/ops/log.h"
#include "gateway/ops/metrics.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/cli/policy_cli.h"
#include "gateway/pipeline/policy_tools.h"
#include "gateway/pipeline/rejection_ledger.h"
#include "gateway/http/server.h"
#include "gateway/upstream/http_upstream.h"

namespace agni {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitConfig = 1;

void PrintErrors(const ConfigErrors& errors, std::ostream& out) {
  for (const ConfigError& e : errors) {
    out << "error: " << e.path << ": " << e.message << "\n";
  }
  out << errors.size() << (errors.size() == 1 ? " error" : " errors")
      << " in the configuration\n";
}

int CheckConfig(const std::string& path) {
  ConfigLoad load = LoadConfig(path);
  if (!load.errors.empty()) {
    PrintErrors(load.errors, std::cout);
    return kExitConfig;
  }
  std::cout << "OK\n";
  return kExitOk;
}

int Serve(const std::string& path, LogLevel log_level) {
  Logger log(log_level);
  ConfigLoad load = LoadConfig(path);
  if (!load.errors.empty()) {
    PrintErrors(load.errors, std::cerr);
    std::cerr << "agni-gateway: not starting; fix the errors above "
                 "(`agni-gateway check-config --config "
              << path << "` lists them)\n";
    return kExitConfig;
  }
  const Config config = std::move(*load.config);
  ApiKeyLoad key =
      LoadApiKey(std::getenv("AGNI_API_KEY"), std::getenv("AGNI_API_KEY_FILE"));
  if (!key.error.empty()) {
    std::cerr << "agni-gateway: not starting: " << key.error << "\n";
    return kExitConfig;
  }

  // Signals are taken by one thread with sigwait; every thread started from
  // here on inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  // A broken chain stops the gateway before it appends anything.
  std::optional<audit::SigningKey> signing_key;
  try {
    if (!config.audit.signing_key_file.empty()) {
      signing_key = audit::SigningKey::LoadPem(config.audit.signing_key_file);
    }
  } catch (const std::exception& e) {
    log.Error("cannot load the audit signing key; not starting",
              {{"error", e.what()}});
    return kExitConfig;
  }
  if (std::string broken = audit::CheckBeforeServing(
          config.audit.path,
          signing_key ? signing_key->public_key_hex() : std::string());
      !broken.empty()) {
    log.Error("audit log failed its start-up check", {{"error", broken}});
    std::cerr << "agni-gateway: " << broken << "\n";
    return kExitConfig;
  }

  Metrics metrics;
  std::unique_ptr<audit::AuditStore> store;
  try {
    store = std::make_unique<audit::AuditStore>(
        audit::StoreOptions{config.audit.path, config.audit.busy_timeout,
                            config.audit.max_queue, config.audit.max_batch},
        &metrics);
  } catch (const std::exception& e) {
    log.Error("cannot open the audit store; not starting",
              {{"error", e.what()}});
    return kExitConfig;
  }
  std::unique_ptr<audit::Checkpointer> checkpointer;
  try {
    audit::PrepareReadSide(config.audit.path);
    if (signing_key) {
      checkpointer = std::make_unique<audit::Checkpointer>(
          config.audit.path, *signing_key, config.audit.checkpoint_interval,
          [&log](const std::string& error) {
            log.Error("audit checkpoint not written", {{"error", error}});
          });
      checkpointer->Start();
    }
  } catch (const std::exception& e) {
    log.Error("cannot prepare the audit log; not starting",
              {{"error", e.what()}});
    return kExitConfig;
  }
  AuditApi audit_api(config.audit.path);
  if (store->recovered_intents() > 0) {
    log.Warn("closed release intents left open by an earlier stop as unknown",
             {{"count", store->recovered_intents()}});
  }
  HttpUpstream upstream(config.upstream, std::move(key.key));
  RequestPipeline pipeline(std::make_shared<const AccessSnapshot>(config),
                           *store, upstream, metrics, log);
  pipeline.SetAuditApi(&audit_api);
  pipeline.SetMaxInFlight(config.upstream.max_in_flight);
  RejectionLedger rejections(
      {config.audit.rejections.burst, config.audit.rejections.window,
       config.audit.rejections.max_individual,
       config.audit.rejections.max_keys},
      *store, &metrics, log);
  pipeline.SetRejectionLedger(&rejections);
  rejections.Start();
  std::unique_ptr<audit::SqliteApprovalStore> approval_store;
  try {
    approval_store =
        std::make_unique<audit::SqliteApprovalStore>(config.approvals.path);
  } catch (const std::exception& e) {
    log.Error("cannot open the approvals store; not starting",
              {{"error", e.what()}});
    return kExitConfig;
  }
  std::unique_ptr<WebhookNotifier> webhook;
  if (!config.approvals.webhook.url.empty()) {
    webhook = std::make_unique<WebhookNotifier>(config.approvals.webhook,
                                                metrics, log);
  }
  ApprovalsGateway approvals(*approval_store, *store, metrics, webhook.get(),
                             log, [] {
                               return std::chrono::duration_cast<
                                          std::chrono::microseconds>(
                                          std::chrono::system_clock::now()
                                              .time_since_epoch())
                                   .count();
                             });
  pipeline.SetApprovals(&approvals);
  ApprovalSweeper sweeper(approvals);
  try {
    metrics.DeclareRateLimits(*config.policy);
    const std::size_t counted = SeedLimiterFromAudit(
        config.audit.path, *config.policy, pipeline.limiter(),
        std::chrono::system_clock::now());
    log.Info("velocity limits count the releases already in the audit log",
             {{"releases", counted}});
  } catch (const std::exception& e) {
    // Without the history the limits would start from zero: fail closed.
    log.Error("cannot read recent releases from the audit log; not starting",
              {{"error", e.what()}});
    return kExitConfig;
  }
  GatewayServer server(config, pipeline, metrics, *store, log);
  if (std::string error = server.Start(); !error.empty()) {
    log.Error("cannot start", {{"error", error}});
    return kExitConfig;
  }
  log.Info("agni-gateway listening",
           {{"listen", config.listen.host + ":" + std::to_string(server.port())},
            {"admin_listen", config.admin_listen.host + ":" +
                                 std::to_string(server.admin_port())},
            {"upstream", config.upstream.base_url},
            {"version", AGNI_VERSION}});

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      ConfigLoad reload = LoadConfig(path);
      if (!reload.errors.empty()) {
        nlohmann::json errors = nlohmann::json::array();
        for (const auto& e : reload.errors) {
          errors.push_back(e.path + ": " + e.message);
        }
        log.Error("reload rejected; the previous users and policy keep serving",
                  {{"errors", errors}});
        metrics.CountConfigReload("failure");
        continue;
      }
      pipeline.ReplaceAccess(
          std::make_shared<const AccessSnapshot>(*reload.config));
      metrics.DeclareRateLimits(*reload.config->policy);
      log.Info("reloaded users and policy",
               {{"policy_hash", reload.config->policy->hash},
                {"inventory_numbers", reload.config->inventory.size()}});
      metrics.CountConfigReload("success");
      continue;
    }
    log.Info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    break;
  }
  // Graceful shutdown: /readyz turns 503 and new releases are refused, the
  // main listener stops accepting, in-flight requests finish (bounded by
  // server.drain_timeout), the audit queue is committed, then exit 0.
  pipeline.StartDraining();
  const bool drained = server.DrainMain(config.server.drain_timeout);
  if (!drained) {
    log.Error("drain timeout: requests still in flight are abandoned; their "
              "open intents are closed as unknown at the next start",
              {{"drain_timeout_ms", config.server.drain_timeout.count()}});
    rejections.Stop();  // summaries of counted rejections, before the close
    store->Close();
    log.Info("stopped");
    std::fflush(stderr);
    std::_Exit(kExitOk);
  }
  server.Stop();  // waits for in-flight requests on the worker threads
  sweeper.Stop();
  rejections.Stop();  // writes the open window's summaries
  store->Close();  // commits whatever is queued
  if (checkpointer) checkpointer->Stop();  // signs the final head
  log.Info("stopped");
  return kExitOk;
}

int TokenNew(const std::string& user, const std::vector<std::string>& groups,
             bool as_json) {
  for (const std::string& n : groups) {
    if (!IsConfigName(n)) {
      std::cerr << "error: group \"" << n
                << "\" must be 1-64 characters of [A-Za-z0-9._@-]\n";
      return 2;
    }
  }
  if (!IsConfigName(user)) {
    std::cerr << "error: --user must be 1-64 characters of [A-Za-z0-9._@-]\n";
    return 2;
  }
  const std::string token = NewToken();
  const nlohmann::json entry = {
      {"name", user}, {"groups", groups}, {"token_sha256", Sha256Hex(token)}};
  if (as_json) {
    std::cout << nlohmann::json{{"token", token}, {"user", entry}}.dump() << "\n";
    return kExitOk;
  }
  std::cout << "New token for " << user
            << " (shown only now; hand it over securely):\n\n  " << token
            << "\n\nAdd this entry to \"users\" in the gateway config; it "
               "holds only the token's SHA-256:\n\n  "
            << entry.dump() << "\n";
  return kExitOk;
}

int HealthCheck(const std::string& config_path, const std::string& url) {
  std::string host;
  int port = 0;
  if (!url.empty()) {
    httplib::Client probe(url);  // validates scheme://host:port
    if (!probe.is_valid()) {
      std::cerr << "unhealthy: invalid --url " << url << "\n";
      return 1;
    }
    probe.set_connection_timeout(2, 0);
    probe.set_read_timeout(2, 0);
    auto res = probe.Get("/readyz");
    if (!res || res->status != 200) {
      std::cerr << "unhealthy: " << url << "/readyz "
                << (res ? std::to_string(res->status)
                        : httplib::to_string(res.error()))
                << "\n";
      return 1;
    }
    std::cout << "healthy\n";
    return kExitOk;
  }
  ConfigLoad load = LoadConfig(config_path);
  if (!load.errors.empty()) {
    PrintErrors(load.errors, std::cerr);
    return 1;
  }
  host = load.config->admin_listen.host;
  port = load.config->admin_listen.port;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  httplib::Client probe(host, port);
  probe.set_connection_timeout(2, 0);
  probe.set_read_timeout(2, 0);
  auto res = probe.Get("/readyz");
  if (!res || res->status != 200) {
    std::cerr << "unhealthy: " << load.config->admin_listen.ToString()
              << "/readyz "
              << (res ? std::to_string(res->status) + " " + res->body
                      : httplib::to_string(res.error()))
              << "\n";
    return 1;
  }
  std::cout << "healthy\n";
  return kExitOk;
}

}  // namespace
}  // namespace agni

int main(int argc, char** argv) {
  CLI::App app{
      "agni-gateway: an authenticating, policy-enforcing, audited gateway in "
      "front of the Agni phone-number release API.\n"
      "The upstream API key comes from AGNI_API_KEY or AGNI_API_KEY_FILE "
      "(exactly one)."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "agni-gateway " AGNI_VERSION);

  std::string config_path;
  auto* serve = app.add_subcommand("serve", "Run the gateway");
  serve->add_option("-c,--config", config_path, "Gateway config file (JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  std::string log_level = "info";
  serve
      ->add_option("--log-level", log_level,
                   "debug | info | warn | error (default: info)")
      ->envname("AGNI_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));

  std::string check_path;
  auto* check = app.add_subcommand(
      "check-config",
      "Validate a config and the files it names; prints OK (exit 0) or every "
      "error with its JSON path (exit 1)");
  check->add_option("-c,--config", check_path, "Gateway config file (JSON)")
      ->required();

  auto* token = app.add_subcommand("token", "Manage gateway tokens");
  token->require_subcommand(1);
  std::string token_user;
  std::vector<std::string> token_groups;
  bool token_json = false;
  auto* token_new = token->add_subcommand(
      "new",
      "Print a new random token (256 bits from OpenSSL's CSPRNG) once, and "
      "the config entry that holds only its SHA-256");
  token_new->add_option("-u,--user", token_user, "User name")->required();
  token_new->add_option("-g,--groups", token_groups, "Groups (comma-separated)")
      ->delimiter(',');
  token_new->add_flag("--json", token_json,
                      "Print {\"token\":...,\"user\":{...}} as one JSON line");

  std::string health_config, health_url;
  auto* health = app.add_subcommand(
      "healthcheck",
      "Exit 0 when the gateway's admin listener reports ready (/readyz); for "
      "container health checks");
  auto* hc_config = health->add_option("-c,--config", health_config,
                                       "Gateway config (its admin_listen)");
  auto* hc_url = health->add_option("--url", health_url,
                                    "Admin base URL, e.g. http://127.0.0.1:9090");
  hc_config->excludes(hc_url);

  auto* version = app.add_subcommand("version", "Print the version");
  agni::AuditCommands audit_commands(app);

  auto* policy_cmd = app.add_subcommand(
      "policy", "Explain, test and replay policies before shipping them");
  policy_cmd->require_subcommand(1);
  std::string pe_config, pe_user, pe_phone, pe_at, pe_from;
  auto* policy_explain = policy_cmd->add_subcommand(
      "explain",
      "Print the decision for one request, the deciding rule, and for every "
      "rule whether it matched and which selector or condition failed");
  policy_explain->add_option("-c,--config", pe_config, "Gateway config file")
      ->required();
  policy_explain->add_option("-u,--user", pe_user, "A user from the config")
      ->required();
  policy_explain->add_option("-p,--phone", pe_phone, "E.164 number")
      ->required();
  auto* pe_at_opt = policy_explain->add_option(
      "--at", pe_at, "Time of the request, RFC 3339 (default: now)");
  auto* pe_from_opt = policy_explain->add_option(
      "--from", pe_from, "Client address (default: none, so source_cidrs "
                         "conditions cannot match an allow)");
  std::string pt_config, pt_cases;
  auto* policy_test = policy_cmd->add_subcommand(
      "test",
      "Run a table of cases {user, number, time, source, expect, rule} "
      "against the config's policy; exit 1 on any mismatch");
  policy_test->add_option("-c,--config", pt_config, "Gateway config file")
      ->required();
  policy_test->add_option("cases", pt_cases, "Cases file (JSON)")->required();
  std::string pr_config, pr_db;
  auto* policy_replay = policy_cmd->add_subcommand(
      "replay",
      "Re-evaluate every release decision recorded in an audit db against a "
      "candidate config; list those that would change (exit 3 if any)");
  policy_replay->add_option("-c,--config", pr_config,
                            "Candidate gateway config file")
      ->required();
  policy_replay->add_option("--db", pr_db, "Audit database")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (*serve) {
    return agni::Serve(config_path, *agni::ParseLogLevel(log_level));
  }
  if (*check) return agni::CheckConfig(check_path);
  if (*token_new) return agni::TokenNew(token_user, token_groups, token_json);
  if (*health) {
    if (health_config.empty() && health_url.empty()) {
      std::cerr << "healthcheck: give --config FILE or --url URL\n";
      return 2;
    }
    return agni::HealthCheck(health_config, health_url);
  }
  if (audit_commands.Parsed()) return audit_commands.Run();
  auto now = [] { return std::chrono::system_clock::now(); };
  if (*policy_explain) {
    return agni::PolicyExplain(
        pe_config, pe_user, pe_phone,
        *pe_at_opt ? std::optional<std::string>(pe_at) : std::nullopt,
        *pe_from_opt ? std::optional<std::string>(pe_from) : std::nullopt,
        std::cout, std::cerr, now);
  }
  if (*policy_test) {
    return agni::PolicyTest(pt_config, pt_cases, std::cout, std::cerr, now);
  }
  if (*policy_replay) {
    return agni::PolicyReplay(pr_config, pr_db, std::cout, std::cerr);
  }
  if (*version) {
    std::cout << "agni-gateway " << AGNI_VERSION << " (commit " << AGNI_COMMIT
              << ")\n";
    return 0;
  }
  return 2;
}
