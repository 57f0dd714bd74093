// The gateway's configuration: plain structs built once at start-up (and,
// later, on reload) and then shared read-only between threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "audit/ship/syslog_options.h"
#include "gateway/config/approvals_config.h"
#include "gateway/config/console_config.h"
#include "gateway/config/identity_config.h"
#include "gateway/config/tls_config.h"
#include "policies/approvals.h"
#include "policies/engine.h"
#include "policies/errors.h"

namespace agni {

using std::chrono::milliseconds;

struct Endpoint {
  std::string host;  // as written, brackets removed for IPv6
  int port = 0;      // 0 lets the OS choose (tests)
  std::string ToString() const;
};

struct UpstreamConfig {
  std::string base_url = "https://api.ravan.ai";
  bool tls = true;
  std::string host = "api.ravan.ai";
  int port = 443;
  std::string ca_file;  // empty: the system trust store
  milliseconds connect_timeout{3000};
  milliseconds read_timeout{30000};
  // Plain http sends the API key in clear text; only accepted towards a
  // loopback host, and only when the operator says so explicitly.
  bool allow_plain_http = false;
  std::size_t max_idle_connections = 32;
  // Releases forwarded at once; past it a release is answered 503
  // `overloaded` (+ Retry-After) and nothing is sent.
  std::size_t max_in_flight = 256;
};

struct ServerConfig {
  // Worker threads of the main listener kept warm. cpp-httplib holds a
  // thread for the whole life of a keep-alive connection, so the pool grows
  // on demand up to max_connections; past that, up to max_queued_connections
  // wait, and further connections are answered 503 `overloaded` at once.
  int threads = 64;
  int max_connections = 1024;
  int max_queued_connections = 256;
  int admin_threads = 2;
  int admin_max_connections = 64;
  // A connection that has not sent a complete request head this long after
  // it was accepted (or after its previous response and the keep-alive
  // wait) is closed: slow clients cannot hold the workers.
  milliseconds request_header_timeout{10000};
  milliseconds read_timeout{10000};
  milliseconds write_timeout{10000};
  milliseconds keep_alive_timeout{5000};
  std::size_t keep_alive_max_requests = 100000;
  int listen_backlog = 1024;
  // On SIGTERM/SIGINT: how long in-flight requests may take to finish.
  milliseconds drain_timeout{30000};
  // The Linux scheduling policy of every gateway thread, set at start.
  // Batch: a woken thread does not preempt the one running, so the audit
  // commit that every waiting request depends on is not cut off by the
  // requests it has just released (at 32 connections about a fifth more
  // requests a second for less CPU each: BENCHMARKS.md, issue 20).
  // Other: the default policy, for a host where the gateway must preempt
  // its neighbours on wake-up. Neither needs a privilege.
  enum class CpuScheduling { kBatch, kOther };
  CpuScheduling cpu_scheduling = CpuScheduling::kBatch;
};

// audit.rejections: how rejections of callers without identity are audited
// under a flood (gateway/pipeline/rejection_ledger.h).
struct AuditRejectionsConfig {
  std::size_t burst = 10;  // individual records per (peer, reason) and window
  milliseconds window{10000};
  std::size_t max_individual = 100;  // individual records per window, in all
  std::size_t max_keys = 1024;       // (peer, reason) keys per window
};

struct AuditConfig {
  std::string path;
  milliseconds busy_timeout{2000};
  std::size_t max_queue = 10000;
  std::size_t max_batch = 512;
  // Ed25519 private key (PEM) that signs checkpoints; empty: unsigned.
  std::string signing_key_file;
  milliseconds checkpoint_interval{60000};
  // Key for HMAC fingerprints of credentials (read from
  // audit.fingerprint_key_file); empty: no fingerprints.
  std::string fingerprint_key;
  AuditRejectionsConfig rejections;
  // The background verifier (audit/background_verifier.h): records per
  // second it re-hashes (0: off), and how often a new full pass starts.
  std::int64_t verify_records_per_second = 20000;
  milliseconds verify_full_pass_every{24 * 3600 * 1000};
  // A folder that gets a copy of every signed checkpoint; empty: none.
  std::string witness_dir;
  // audit.syslog: the syslog sink; unset: records stay on this machine.
  std::optional<audit::SyslogOptions> syslog;
};

struct User {
  std::string name;
  std::vector<std::string> groups;
  std::string token_sha256;  // lowercase hex
  // "expires" (RFC 3339) as seconds since the epoch; from then on the token
  // is refused with detail `expired`. Unset: the token does not expire.
  std::optional<std::int64_t> expires;
};

// Hashed: a decision looks its number up among possibly 100,000s.
using Inventory =
    std::unordered_map<std::string, std::map<std::string, std::string>>;

struct Config {
  std::string source_path;  // the config file itself
  Endpoint listen{"127.0.0.1", 8080};
  Endpoint admin_listen{"127.0.0.1", 9090};
  UpstreamConfig upstream;
  ServerConfig server;
  AuditConfig audit;
  TlsConfig tls;  // TLS (and mTLS) on the main listener; off by default
  std::vector<User> users;
  std::vector<std::string> auditors;
  // Groups that may use the policy tools (POST /v1/policy/explain) besides
  // the auditors.
  std::vector<std::string> admins;
  // Peers whose X-Forwarded-For is believed when judging source_cidrs.
  std::vector<policy::Cidr> trusted_proxies;
  std::string policy_file;
  std::string inventory_file;
  std::shared_ptr<const policy::Policy> policy;
  Inventory inventory;
  ApprovalsConfig approvals;
  // Groups that exist besides the static users' (DESIGN.md §10): rules and
  // group_map may name them, tokens from a provider may carry them.
  std::vector<std::string> groups;
  IdentityConfig identity;
  ConsoleConfig console;  // the web console and its sessions
};

struct ConfigLoad {
  std::optional<Config> config;  // set only when `errors` is empty
  ConfigErrors errors;
};

// Reads and validates the config file and the files it names, reporting every
// problem with its JSON path.
ConfigLoad LoadConfig(const std::string& path);

// Parses "host:port", "[v6]:port". Exposed for tests.
std::optional<Endpoint> ParseEndpoint(const std::string& text);

bool IsLoopbackHost(const std::string& host);

// With identity.oidc, any declared group may have people at the provider:
// appends one stand-in per declared group (policy::IdentityProviderMembers),
// shown as "members of G (identity provider)" among eligible approvers.
void AddIdentityProviderMembers(const Config& config,
                                std::vector<policy::Member>& members);

// A user or group name: 1-64 characters of [A-Za-z0-9._@-]. Shared by the
// config loader and `token new`, so both accept exactly the same names.
bool IsConfigName(std::string_view s);

// The upstream API key, from exactly one of AGNI_API_KEY or AGNI_API_KEY_FILE
// (their values passed in, so tests need not touch the environment).
struct ApiKeyLoad {
  std::string key;
  std::string error;  // empty on success; never contains the key
};
ApiKeyLoad LoadApiKey(const char* key_env, const char* key_file_env);

}  // namespace agni
