// libFuzzer target: the config file as LoadConfig reads it from disk (JSON
// parsing with duplicate-key detection, every section reader, the endpoint,
// URL and duration parsers), with a valid policy and inventory next to it.
// Contract: a config comes back exactly when there is no error, every error
// names a JSON path, and a loaded config is complete (policy, audit path).
// The same bytes also go through ParseEndpoint and ParseDuration directly.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "gateway/config/config.h"
#include "policies/load/json_reader.h"
#include "tests/fuzz/contract.h"
#include "tests/support/temp_dir.h"

namespace {

using agni::fuzz::Fail;

std::string g_config_path;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // One private folder per process (libFuzzer -jobs/-fork run several),
  // removed at exit.
  static const agni::testing::TempDir dir;
  dir.Write(
      "policy.json",
      R"({"rules":[{"id":"deny-911","effect":"deny","numbers":["+1911*"]},)"
      R"({"id":"support","effect":"allow","groups":["support"],"numbers":["+1555*"]}]})");
  dir.Write("numbers.json", R"({"+15551234567":{"team":"support"}})");
  g_config_path = dir.File("gateway.json");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  agni::testing::WriteFile(g_config_path, text);

  const agni::ConfigLoad load = agni::LoadConfig(g_config_path);
  if (load.config.has_value() == !load.errors.empty()) {
    Fail("config loaded with errors, or refused without one");
  }
  for (const auto& e : load.errors) {
    if (e.path.empty() || e.message.empty()) Fail("error without path/message");
  }
  if (load.config) {
    if (!load.config->policy) Fail("loaded config without a policy");
    if (load.config->audit.path.empty())
      Fail("loaded config without audit.path");
    if (load.config->upstream.host.empty())
      Fail("loaded config without upstream host");
    if (!load.config->upstream.tls &&
        !(load.config->upstream.allow_plain_http &&
          agni::IsLoopbackHost(load.config->upstream.host))) {
      Fail("plain http accepted towards a non-loopback upstream");
    }
  }

  if (auto ep = agni::ParseEndpoint(text)) {
    if (ep->port < 0 || ep->port > 65535) Fail("endpoint port out of range");
  }
  if (auto d = agni::ParseDuration(text)) {
    if (d->count() < 0) Fail("negative duration");
  }
  return 0;
}
