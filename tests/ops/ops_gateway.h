// The gateway the operations tests run: the real binary, a policy with a
// velocity limit (so its metric family has a series), 8 threads.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/fake_upstream.h"
#include "tests/support/helpers.h"
#include "tests/support/process.h"

namespace agni::testing {

// What the operations tests vary.
struct OpsOptions {
  std::string upstream_base_url;                           // required
  nlohmann::json extra_config = nlohmann::json::object();  // merge-patched
  std::string log_level = "info";
  std::string read_timeout = "10s";  // upstream.read_timeout
};

inline GatewayProcess::Options OpsGateway(const OpsOptions& o) {
  GatewayConfig config{
      .upstream_base_url = o.upstream_base_url,
      .policy_json =
          R"({"rules":[)"
          R"({"id":"never-emergency","effect":"deny","numbers":["+1911*"]},)"
          R"({"id":"support-sandbox","effect":"allow","groups":["support"],"numbers":["+1555*"]},)"
          R"({"id":"ops-anything","effect":"allow","groups":["telecom-ops"]}],)"
          R"("limits":[{"id":"per-user-hourly","per":"user","max":1000,"window":"1h"}]})",
      .patch = {{"upstream", {{"read_timeout", o.read_timeout}}},
                {"server", {{"threads", 8}}}}};
  config.patch.merge_patch(o.extra_config);
  return {.config = config, .log_level = o.log_level};
}

}  // namespace agni::testing
