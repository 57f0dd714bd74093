// The gateway the hostile tests attack: the real binary with recognisable
// secrets, so a leak search can find them anywhere, and short timeouts.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/fake_upstream.h"
#include "tests/support/helpers.h"
#include "tests/support/process.h"
#include "tests/support/raw_http.h"

namespace agni::testing {

// If this key (or a token below, or its SHA-256) shows up in a response, log
// line, metric or audit row, a leak test fails.
inline constexpr const char* kLeakApiKey = "LEAKCANARY-apikey-7Hq2Zx91vQ";

// What the hostile tests vary; the rest is fixed (8 threads, 2 s writes).
struct HostileOptions {
  std::string upstream_base_url;  // required
  std::string ca_file;
  std::string read_timeout = "2s";  // server.read_timeout
  std::string upstream_read_timeout = "2s";
  std::string keep_alive_timeout = "2s";
  std::map<std::string, std::string> env;  // more for the child
  nlohmann::json listen_tls;               // the config's "tls" section
};

inline GatewayProcess::Options HostileGateway(const HostileOptions& o) {
  GatewayConfig config{
      .upstream_base_url = o.upstream_base_url,
      .users = {{"alice", {"support"}, "LEAKCANARY-token-alice-Jx8Pq2"},
                {"olga", {"telecom-ops"}, "LEAKCANARY-token-olga-Vn3Wk7"},
                {"mallory",
                 {"contractors"},
                 "LEAKCANARY-token-mallory-Rt5Ye1"}},
      .patch = {{"upstream", {{"read_timeout", o.upstream_read_timeout}}},
                {"server",
                 {{"threads", 8},
                  {"read_timeout", o.read_timeout},
                  {"write_timeout", "2s"},
                  {"keep_alive_timeout", o.keep_alive_timeout}}}}};
  if (!o.ca_file.empty()) config.patch["upstream"]["ca_file"] = o.ca_file;
  if (!o.listen_tls.is_null()) config.patch["tls"] = o.listen_tls;
  return {.config = config, .api_key = kLeakApiKey, .env = o.env};
}

}  // namespace agni::testing
