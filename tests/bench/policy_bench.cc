// One policy decision with 1,000 rules and a 100,000-number inventory: the
// inventory lookup plus Evaluate(), as the pipeline does per release. Reports
// Google Benchmark's mean and, as counters, the p50/p99 of single decisions
// timed one by one.
//
//   build/policy_bench --benchmark_repetitions=1
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "gateway/config/config.h"
#include "policies/engine.h"
#include "policies/load/policy_loader.h"

namespace {

using agni::Inventory;
using nlohmann::json;
namespace policy = agni::policy;

constexpr int kRules = 1000;
constexpr int kNumbers = 100000;
constexpr int kGroups = 40;

std::string Number(int i) { return "+1415" + std::to_string(5000000 + i); }

// A policy shaped like a big real one: denies on prefixes and labels first,
// then allows per team on labels, some with time windows and source ranges.
// The rule that allows the benchmarked request comes last, so every request
// walks all 1,000 rules.
policy::Policy BuildPolicy(policy::KnownPrincipals& known) {
  json rules = json::array();
  for (int g = 0; g < kGroups; ++g)
    known.groups.insert("team-" + std::to_string(g));
  known.users.insert("alice");
  for (int i = 0; i < kRules - 1; ++i) {
    const std::string id = "rule-" + std::to_string(i);
    const std::string group = "team-" + std::to_string(i % (kGroups - 1) + 1);
    if (i % 10 == 0) {
      rules.push_back({{"id", id},
                       {"effect", "deny"},
                       {"numbers", {"+1911" + std::to_string(i) + "*"}}});
    } else if (i % 10 == 1) {
      rules.push_back({{"id", id},
                       {"effect", "deny"},
                       {"labels", {{"env", "frozen-" + std::to_string(i)}}}});
    } else if (i % 10 == 2) {
      rules.push_back({{"id", id},
                       {"effect", "allow"},
                       {"groups", {group}},
                       {"labels", {{"env", "prod"}}},
                       {"when",
                        {{"time_zone", "America/New_York"},
                         {"days", {"mon", "tue", "wed", "thu", "fri"}},
                         {"hours", {"09:00-17:00"}}}}});
    } else if (i % 10 == 3) {
      rules.push_back({{"id", id},
                       {"effect", "allow"},
                       {"groups", {group}},
                       {"source_cidrs", {"10.0.0.0/8", "2001:db8::/32"}}});
    } else {
      rules.push_back(
          {{"id", id},
           {"effect", "allow"},
           {"groups", {group}},
           {"labels", {{"team", std::string("t").append(std::to_string(i))}}}});
    }
  }
  rules.push_back({{"id", "team-0-test"},
                   {"effect", "allow"},
                   {"groups", {"team-0"}},
                   {"labels", {{"env", "test"}}}});
  agni::ConfigErrors errors;
  auto p = policy::ParsePolicy({{"rules", rules}}, "bench", known, errors);
  if (!p)
    throw std::runtime_error("bench policy invalid: " + errors[0].message);
  return *p;
}

Inventory BuildInventory() {
  Inventory inv;
  for (int i = 0; i < kNumbers; ++i) {
    inv[Number(i)] = {
        {"env", i % 2 ? "test" : "prod"},
        {"team", std::string("t").append(std::to_string(i % 1000))}};
  }
  return inv;
}

void BM_Decision(benchmark::State& state) {
  policy::KnownPrincipals known;
  const policy::Policy policy = BuildPolicy(known);
  const Inventory inventory = BuildInventory();
  std::vector<std::string> numbers;
  for (int i = 1; i < kNumbers; i += 2) numbers.push_back(Number(i));  // test
  std::shuffle(numbers.begin(), numbers.end(), std::mt19937(42));
  const std::vector<std::string> groups = {"team-0"};
  const auto source = policy::IpAddress::Parse("192.0.2.1");
  const auto now = std::chrono::system_clock::now();

  std::vector<double> samples;
  samples.reserve(1 << 20);
  std::size_t i = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string& number = numbers[i++ % numbers.size()];
    auto it = inventory.find(number);
    const policy::Decision d = policy::Evaluate(
        policy, policy::Request{{"alice", groups},
                                number,
                                it == inventory.end() ? nullptr : &it->second,
                                now,
                                source});
    benchmark::DoNotOptimize(d);
    const auto t1 = std::chrono::steady_clock::now();
    if (samples.size() < samples.capacity()) {
      samples.push_back(
          std::chrono::duration<double, std::nano>(t1 - t0).count());
    }
    if (d.effect != policy::Effect::kAllow)
      state.SkipWithError("wrong decision");
  }
  std::sort(samples.begin(), samples.end());
  auto pct = [&](double p) {
    return samples.empty()
               ? 0.0
               : samples[static_cast<std::size_t>(p * (samples.size() - 1))];
  };
  state.counters["p50_ns"] = pct(0.50);
  state.counters["p99_ns"] = pct(0.99);
  state.counters["rules"] = static_cast<double>(policy.rules.size());
  state.counters["inventory"] = static_cast<double>(inventory.size());
}
BENCHMARK(BM_Decision)->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
