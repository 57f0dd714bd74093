// Small free helpers the tests share: metrics, audit rows, paths, polling.
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agni::testing {

// The value of one sample line in a Prometheus text exposition ("name{...}"),
// or nullopt when absent.
std::optional<double> MetricValue(const std::string& exposition,
                                  const std::string& series);

std::string ReleasePath(const std::string& number_in_path);

// The Authorization header carrying `token` as a bearer credential.
httplib::Headers Bearer(const std::string& token);

// Appends every string in `j` to `out`, member names included.
void CollectJsonStrings(const nlohmann::json& j, std::vector<std::string>& out);

// `prefix` followed by `n` ("u" + 7 -> "u7"). Appends rather than writing
// "u" + std::to_string(n), on which GCC 12 at -O3 reports a false -Wrestrict.
std::string Numbered(std::string_view prefix, long long n);

// Every audit record of the database at `path`, in seq order, as JSON objects
// keyed by column name (NULL columns left out).
std::vector<nlohmann::json> ReadAuditRows(const std::string& path);

// One client round trip on the calling thread, so cpp-httplib's lazily built
// statics exist before a test spawns threads (see helpers.cc).
void WarmUpHttpClient(int admin_port);

// Polls `condition` every 20 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout);

// A free TCP port on 127.0.0.1 (bound and released; fine for tests).
int FreePort();

}  // namespace agni::testing
