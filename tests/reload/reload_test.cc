// The real agni-gateway binary, as an operator runs it: SIGHUP swaps users,
// policy and inventory while requests keep flowing; every audit record names
// the policy that decided it; an invalid reload is rejected and the last good
// set keeps serving; velocity limits survive a restart; `policy replay` reads
// the audit log the binary wrote.
#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/crypto.h"
#include "tests/support/test_support.h"

#ifndef AGNI_BINARY
#error "AGNI_BINARY must name the agni-gateway executable"
#endif

namespace agni::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Polls `done` every 20 ms for up to `limit`; true once it holds.
template <typename F>
bool Eventually(F done, milliseconds limit = milliseconds(20000)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return done();
}

// One `agni-gateway serve` process; stderr (the JSON log) goes to a file.
class GatewayProcess {
 public:
  GatewayProcess(const std::string& config, const std::string& log_file)
      : log_file_(log_file) {
    const std::size_t log_start = ReadFile(log_file).size();
    pid_ = fork();
    if (pid_ == 0) {
      const int fd =
          open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      dup2(fd, STDERR_FILENO);
      dup2(fd, STDOUT_FILENO);
      setenv("AGNI_API_KEY", kApiKey, 1);
      unsetenv("AGNI_API_KEY_FILE");
      execl(AGNI_BINARY, AGNI_BINARY, "serve", "--config", config.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    Eventually([&] {
      const std::string log = ReadFile(log_file).substr(log_start);
      std::istringstream lines(log);
      for (std::string line; std::getline(lines, line);) {
        json j = json::parse(line, nullptr, false);
        if (j.is_object() &&
            j.value("message", "") == "agni-gateway listening") {
          port_ = std::stoi(j["listen"].get<std::string>().substr(10));
          admin_port_ =
              std::stoi(j["admin_listen"].get<std::string>().substr(10));
          return true;
        }
      }
      return false;
    });
  }
  ~GatewayProcess() { Stop(); }

  int port() const { return port_; }
  void Signal(int sig) const { kill(pid_, sig); }
  int Stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  httplib::Client Client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(10, 0);
    return c;
  }
  std::optional<double> Metric(const std::string& series) const {
    httplib::Client c("127.0.0.1", admin_port_);
    auto res = c.Get("/metrics");
    return res ? MetricValue(res->body, series) : std::nullopt;
  }

 private:
  std::string log_file_;
  pid_t pid_ = -1;
  int port_ = 0;
  int admin_port_ = 0;
};

// Runs the binary with `args` and returns (exit code, stdout).
std::pair<int, std::string> RunCli(const std::vector<std::string>& args,
                                   const std::string& out_file) {
  std::string cmd = std::string(AGNI_BINARY);
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " >" + out_file + " 2>&1";
  const int status = std::system(cmd.c_str());
  return {WEXITSTATUS(status), ReadFile(out_file)};
}

std::string PolicyHash(const std::string& config) {
  ConfigLoad load = LoadConfig(config);
  return load.config ? load.config->policy->hash : "";
}

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alice_ = NewToken();
    bob_ = NewToken();
    json config = {
        {"listen", "127.0.0.1:0"},
        {"admin_listen", "127.0.0.1:0"},
        {"upstream",
         {{"base_url", "http://127.0.0.1:" + std::to_string(upstream_.port())},
          {"allow_plain_http", true}}},
        {"audit", {{"path", "audit.db"}}},
        {"users",
         {{{"name", "alice"},
           {"groups", {"support"}},
           {"token_sha256", Sha256Hex(alice_)}},
          {{"name", "bob"},
           {"groups", {"support"}},
           {"token_sha256", Sha256Hex(bob_)}}}},
        {"policy_file", "policy.json"},
        {"inventory_file", "numbers.json"}};
    dir_.Write("gateway.json", config.dump(2));
    dir_.Write("numbers.json", R"({"+15550000001": {"env": "test"}})");
  }

  static std::string Policy(const std::string& rule_id,
                            const std::string& extra = "") {
    return R"({"rules": [{"id": ")" + rule_id +
           R"(", "effect": "allow", "groups": ["support"]}])" + extra + "}";
  }

  httplib::Headers As(const std::string& token) const {
    return {{"Authorization", "Bearer " + token}};
  }

  FakeUpstream upstream_;
  TempDir dir_;
  std::string alice_, bob_;
};

TEST_F(ReloadTest, SighupSwapsPolicyAtomicallyUnderLoad) {
  dir_.Write("policy.json", Policy("allow-a"));
  const std::string hash_a = PolicyHash(dir_.File("gateway.json"));
  dir_.Write("policy.json", Policy("allow-b"));
  const std::string hash_b = PolicyHash(dir_.File("gateway.json"));
  ASSERT_NE(hash_a, hash_b);
  dir_.Write("policy.json", Policy("allow-a"));

  GatewayProcess gw(dir_.File("gateway.json"), dir_.File("serve.log"));
  ASSERT_GT(gw.port(), 0) << ReadFile(dir_.File("serve.log"));

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 3; ++t) {
    load.emplace_back([&, t] {
      auto client = gw.Client();
      for (int i = 0; !stop; ++i) {
        // Distinct numbers per thread: single flight never interferes.
        const std::string n =
            "%2B1555" + std::to_string(1000000 + t * 100000 + i);
        auto res = client.Delete(ReleasePath(n), As(alice_));
        (res && res->status == 200 ? ok : failed)++;
      }
    });
  }
  int successes = 0;
  for (int swap = 0; swap < 8; ++swap) {
    dir_.Write("policy.json", Policy(swap % 2 == 0 ? "allow-b" : "allow-a"));
    gw.Signal(SIGHUP);
    ++successes;
    ASSERT_TRUE(Eventually([&] {
      return gw.Metric(
                 R"(agni_gateway_config_reloads_total{result="success"})") ==
             successes;
    }));
    // At least one request per policy, whatever the load threads manage.
    auto probe = gw.Client().Delete(
        ReleasePath("%2B1666000000" + std::to_string(swap)), As(alice_));
    ASSERT_TRUE(probe);
    EXPECT_EQ(probe->status, 200);
    (probe->status == 200 ? ok : failed)++;
    if (swap == 3) {
      // An invalid set (a rule naming an unknown group, a bad zone) is
      // rejected whole; the last good policy keeps serving.
      dir_.Write(
          "policy.json",
          R"({"rules": [{"id": "x", "effect": "allow", "groups": ["nobody"],
                     "when": {"time_zone": "Nowhere/Land"}}]})");
      gw.Signal(SIGHUP);
      ASSERT_TRUE(Eventually([&] {
        return gw.Metric(
                   R"(agni_gateway_config_reloads_total{result="failure"})") ==
               1;
      }));
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  stop = true;
  for (auto& t : load) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(ok.load(), 0);

  const std::string log = ReadFile(dir_.File("serve.log"));
  EXPECT_NE(log.find("reload rejected"), std::string::npos);
  EXPECT_NE(log.find("Nowhere/Land"), std::string::npos);  // every error logged
  EXPECT_NE(log.find("nobody"), std::string::npos);
  ASSERT_EQ(gw.Stop(), 0);

  // Each forwarded release names the policy that decided it, and the rule it
  // names belongs to that policy: no request saw half of a swap.
  SQLite::Database db(dir_.File("audit.db"), SQLite::OPEN_READONLY);
  SQLite::Statement q(db,
                      "SELECT policy_hash, rule_id FROM audit_records "
                      "WHERE stage = 'intent'");
  std::map<std::string, int> seen;
  int intents = 0;
  while (q.executeStep()) {
    ++intents;
    const std::string hash = q.getColumn(0).getString();
    const std::string rule = q.getColumn(1).getString();
    ASSERT_TRUE(hash == hash_a || hash == hash_b) << hash;
    EXPECT_EQ(rule, hash == hash_a ? "allow-a" : "allow-b");
    ++seen[hash];
  }
  EXPECT_EQ(intents, ok.load());
  EXPECT_GT(seen[hash_a], 0);
  EXPECT_GT(seen[hash_b], 0);
}

TEST_F(ReloadTest,
       InventoryReloadsAndLimitsSurviveARestartAndReplayReadsTheLog) {
  dir_.Write("policy.json", R"({"rules": [
      {"id": "test-numbers", "effect": "allow", "groups": ["support"],
       "labels": {"env": "test"}}],
    "limits": [{"id": "per-user-hourly", "per": "user", "max": 2, "window": "1h"}]})");
  std::string log = dir_.File("serve.log");
  {
    GatewayProcess gw(dir_.File("gateway.json"), log);
    ASSERT_GT(gw.port(), 0) << ReadFile(log);
    auto unlisted = gw.Client().Delete(ReleasePath("%2B15550000002"), As(bob_));
    ASSERT_TRUE(unlisted);
    EXPECT_EQ(unlisted->status, 403);

    const std::string carol = NewToken();
    auto unknown = gw.Client().Delete(ReleasePath("%2B15550000001"), As(carol));
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->status, 401);

    // Users and inventory change together with one SIGHUP.
    dir_.Write("numbers.json", R"({"+15550000001": {"env": "test"},
                                   "+15550000002": {"env": "test"},
                                   "+15550000003": {"env": "test"}})");
    json config = json::parse(ReadFile(dir_.File("gateway.json")));
    config["users"].push_back({{"name", "carol"},
                               {"groups", {"support"}},
                               {"token_sha256", Sha256Hex(carol)}});
    dir_.Write("gateway.json", config.dump());
    gw.Signal(SIGHUP);
    ASSERT_TRUE(Eventually([&] {
      return gw.Metric(
                 R"(agni_gateway_config_reloads_total{result="success"})") == 1;
    }));
    auto known = gw.Client().Delete(ReleasePath("%2B15550000001"), As(carol));
    ASSERT_TRUE(known);
    EXPECT_EQ(known->status, 200);
    for (const char* n : {"%2B15550000001", "%2B15550000002"}) {
      auto res = gw.Client().Delete(ReleasePath(n), As(bob_));
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 200) << n;
    }
    auto limited = gw.Client().Delete(ReleasePath("%2B15550000003"), As(bob_));
    ASSERT_TRUE(limited);
    EXPECT_EQ(limited->status, 429);
    EXPECT_FALSE(limited->get_header_value("Retry-After").empty());
    EXPECT_EQ(
        gw.Metric(
            R"(agni_gateway_rate_limited_total{limit="per-user-hourly"})"),
        1.0);
  }
  {
    // A restart does not reset the count: it is rebuilt from the audit log.
    GatewayProcess gw(dir_.File("gateway.json"), log);
    ASSERT_GT(gw.port(), 0) << ReadFile(log);
    auto limited = gw.Client().Delete(ReleasePath("%2B15550000003"), As(bob_));
    ASSERT_TRUE(limited);
    EXPECT_EQ(limited->status, 429);
    auto alice = gw.Client().Delete(ReleasePath("%2B15550000003"), As(alice_));
    ASSERT_TRUE(alice);
    EXPECT_EQ(alice->status, 200);
  }
  EXPECT_EQ(upstream_.Received().size(), 4u);

  // Replay against the config it ran with: only the denial made before the
  // inventory reload would now go the other way.
  auto [same_rc, same] =
      RunCli({"policy", "replay", "--config", dir_.File("gateway.json"), "--db",
              dir_.File("audit.db")},
             dir_.File("replay.out"));
  EXPECT_EQ(same_rc, 3) << same;
  EXPECT_NE(same.find("7 recorded release decisions"), std::string::npos)
      << same;
  EXPECT_NE(same.find("bob  +15550000002: deny (rule implicit_deny) -> allow "
                      "(rule test-numbers)"),
            std::string::npos)
      << same;
  EXPECT_NE(same.find(": 1 would change decision"), std::string::npos) << same;

  // A candidate that narrows the allow rule would deny four recorded
  // releases (two of them were refused by the limit, not by policy).
  dir_.Write("candidate.json", R"({"rules": [
      {"id": "only-0001", "effect": "allow", "groups": ["support"],
       "numbers": ["+15550000001"]},
      {"id": "trial-bob", "effect": "allow", "mode": "shadow",
       "users": ["bob"]}]})");
  json candidate = json::parse(ReadFile(dir_.File("gateway.json")));
  candidate["policy_file"] = "candidate.json";
  dir_.Write("candidate-gateway.json", candidate.dump());
  auto [rc, out] = RunCli(
      {"policy", "replay", "--config", dir_.File("candidate-gateway.json"),
       "--db", dir_.File("audit.db")},
      dir_.File("replay.out"));
  EXPECT_EQ(rc, 3) << out;
  EXPECT_NE(out.find("bob  +15550000002: allow (rule test-numbers) -> deny "
                     "(rule implicit_deny)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("alice  +15550000003: allow (rule test-numbers) -> deny"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(": 4 would change decision"), std::string::npos) << out;
  // Promoting the shadow rule would allow bob's four non-0001 requests.
  EXPECT_NE(out.find("shadow rules as well would change the decision of 4 of "
                     "them"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace agni::testing
