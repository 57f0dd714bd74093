// agni-gateway: argv -> subcommands. `serve` runs the object graph of
// gateway/app; every command's work lives in agni_core.
#include <pthread.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "gateway/app/app.h"
#include "gateway/app/cpu_scheduling.h"
#include "gateway/app/memory.h"
#include "gateway/cli/audit_cli.h"
#include "gateway/cli/config_cli.h"
#include "gateway/cli/healthcheck_cli.h"
#include "gateway/cli/policy_cli.h"
#include "gateway/cli/token_cli.h"
#include "gateway/config/config.h"
#include "gateway/ops/log.h"

namespace agni {
namespace {

int Serve(const std::string& path, LogLevel log_level) {
  BoundProcessMemory();
  Logger log(log_level);
  ConfigLoad load = LoadConfig(path);
  if (!load.errors.empty()) {
    PrintConfigErrors(load.errors, std::cerr);
    std::cerr << "agni-gateway: not starting; fix the errors above "
                 "(`agni-gateway check-config --config "
              << path << "` lists them)\n";
    return kExitConfig;
  }
  ApiKeyLoad key =
      LoadApiKey(std::getenv("AGNI_API_KEY"), std::getenv("AGNI_API_KEY_FILE"));
  if (!key.error.empty()) {
    std::cerr << "agni-gateway: not starting: " << key.error << "\n";
    return kExitConfig;
  }
  // Like the signal mask below, inherited by every thread started after it.
  const ServerConfig::CpuScheduling policy = load.config->server.cpu_scheduling;
  if (std::string why = UseCpuScheduling(policy); !why.empty()) {
    log.Warn(
        "server.cpu_scheduling not applied; threads keep the policy "
        "they started with",
        {{"cpu_scheduling", CpuSchedulingName(policy)}, {"error", why}});
  } else {
    log.Info("cpu scheduling", {{"cpu_scheduling", CpuSchedulingName(policy)}});
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

  BuildResult built = Build(std::move(*load.config), std::move(key.key), log);
  if (!built.gateway) return kExitConfig;
  Gateway& gateway = *built.gateway;
  if (!gateway.Start().empty()) return kExitConfig;
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      gateway.Reload(LoadConfig(path));
      continue;
    }
    log.Info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    break;
  }
  if (gateway.Drain() == DrainResult::kAbandoned) {
    // Destructors would wait for the abandoned requests' threads.
    std::fflush(stderr);
    std::_Exit(kExitOk);
  }
  return kExitOk;
}

// Adds the required option `names` (e.g. "-c,--config") to `command`.
template <typename T>
CLI::Option* AddRequired(CLI::App* command, const std::string& names, T& into,
                         const std::string& help) {
  return command->add_option(names, into, help)->required();
}

// Adds the required -c,--config option that most commands take.
CLI::Option* AddConfigOption(CLI::App* command, std::string& into,
                             const std::string& help) {
  return AddRequired(command, "-c,--config", into, help);
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
  agni::AddConfigOption(serve, config_path, "Gateway config file (JSON)")
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
      "error with its JSON path (exit 1). Warnings (e.g. a main listener "
      "reachable from other hosts without TLS) go to stderr and keep exit 0");
  agni::AddConfigOption(check, check_path, "Gateway config file (JSON)");

  auto* token = app.add_subcommand("token", "Manage gateway tokens");
  token->require_subcommand(1);
  std::string token_user;
  std::vector<std::string> token_groups;
  bool token_json = false;
  auto* token_new = token->add_subcommand(
      "new",
      "Print a new random token (256 bits from OpenSSL's CSPRNG) once, and "
      "the config entry that holds only its SHA-256");
  agni::AddRequired(token_new, "-u,--user", token_user, "User name");
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
  auto* hc_url = health->add_option(
      "--url", health_url, "Admin base URL, e.g. http://127.0.0.1:9090");
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
  agni::AddConfigOption(policy_explain, pe_config, "Gateway config file");
  agni::AddRequired(
      policy_explain, "-u,--user", pe_user,
      "A user from the config (or, with --groups, a person from the "
      "identity provider)");
  agni::AddRequired(policy_explain, "-p,--phone", pe_phone, "E.164 number");
  auto* pe_at_opt = policy_explain->add_option(
      "--at", pe_at, "Time of the request, RFC 3339 (default: now)");
  auto* pe_from_opt = policy_explain->add_option(
      "--from", pe_from,
      "Client address (default: none, so source_cidrs "
      "conditions cannot match an allow)");
  std::vector<std::string> pe_groups;
  auto* pe_groups_opt =
      policy_explain
          ->add_option("--groups", pe_groups,
                       "For a person who exists only at the identity provider "
                       "(not in users[]): their groups, comma-separated, as "
                       "the token would carry them after group_map; each must "
                       "be declared in the config. --user is then the name "
                       "the provider gives (user_claim), e.g. an email")
          ->delimiter(',');
  std::string pt_config, pt_cases;
  auto* policy_test = policy_cmd->add_subcommand(
      "test",
      "Run a table of cases {user, number, time, source, groups, expect, "
      "rule} against the config's policy; exit 1 on any mismatch. A case "
      "with \"groups\" (an array) is a person who exists only at the "
      "identity provider, as explain's --groups");
  agni::AddConfigOption(policy_test, pt_config, "Gateway config file");
  agni::AddRequired(policy_test, "cases", pt_cases, "Cases file (JSON)");
  std::string pr_config, pr_db;
  auto* policy_replay = policy_cmd->add_subcommand(
      "replay",
      "Re-evaluate every release decision recorded in an audit db against a "
      "candidate config; list those that would change (exit 3 if any)");
  agni::AddConfigOption(policy_replay, pr_config,
                        "Candidate gateway config file");
  agni::AddRequired(policy_replay, "--db", pr_db, "Audit database");

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
    // `--groups ''`: a person from the provider in no group at all.
    std::erase(pe_groups, std::string());
    return agni::PolicyExplain(
        pe_config, pe_user, pe_phone,
        *pe_at_opt ? std::optional<std::string>(pe_at) : std::nullopt,
        *pe_from_opt ? std::optional<std::string>(pe_from) : std::nullopt,
        *pe_groups_opt ? std::optional(pe_groups) : std::nullopt, std::cout,
        std::cerr, now);
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
