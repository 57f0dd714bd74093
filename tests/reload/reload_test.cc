// The real agni-gateway binary, as an operator runs it: SIGHUP swaps users,
// policy and inventory while requests keep flowing; every audit record names
// the policy that decided it; an invalid reload is rejected and the last good
// set keeps serving; velocity limits survive a restart; `policy replay` reads
// the audit log the binary wrote.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "base/crypto.h"
#include "gateway/config/config.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/helpers.h"
#include "tests/support/pki.h"
#include "tests/support/process.h"

namespace agni::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Polls `done` for up to 20 s; true once it holds.
bool Eventually(const std::function<bool()>& done) {
  return WaitFor(done, seconds(20));
}

std::string PolicyHash(const std::string& config) {
  ConfigLoad load = LoadConfig(config);
  return load.config ? load.config->policy->hash : "";
}

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const GatewayConfig config{
        .upstream_base_url = upstream_.url(),
        .users = {{"alice", {"support"}, alice_}, {"bob", {"support"}, bob_}},
        .inventory_json = R"({"+15550000001": {"env": "test"}})"};
    config.WriteTo(dir_);
  }

  // `serve` on the folder's gateway.json, every start logging to serve.log.
  GatewayProcess::Options Serve() const {
    return {.config_file = dir_.File("gateway.json"),
            .log_file = dir_.File("serve.log")};
  }

  static std::string Policy(const std::string& rule_id,
                            const std::string& extra = "") {
    return R"({"rules": [{"id": ")" + rule_id +
           R"(", "effect": "allow", "groups": ["support"]}])" + extra + "}";
  }

  FakeUpstream upstream_;
  TempDir dir_;
  const std::string alice_ = NewToken();
  const std::string bob_ = NewToken();
};

TEST_F(ReloadTest, SighupSwapsPolicyAtomicallyUnderLoad) {
  dir_.Write("policy.json", Policy("allow-a"));
  const std::string hash_a = PolicyHash(dir_.File("gateway.json"));
  dir_.Write("policy.json", Policy("allow-b"));
  const std::string hash_b = PolicyHash(dir_.File("gateway.json"));
  ASSERT_NE(hash_a, hash_b);
  dir_.Write("policy.json", Policy("allow-a"));

  GatewayProcess gw(Serve());

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
        auto res = client.Delete(ReleasePath(n), Bearer(alice_));
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
        ReleasePath("%2B1666000000" + std::to_string(swap)), Bearer(alice_));
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

  const std::string log = gw.Log();
  EXPECT_NE(log.find("reload rejected"), std::string::npos);
  EXPECT_NE(log.find("Nowhere/Land"), std::string::npos);  // every error logged
  EXPECT_NE(log.find("nobody"), std::string::npos);
  ASSERT_EQ(gw.Stop(), std::optional<int>(0));

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
  {
    GatewayProcess gw(Serve());
    auto unlisted =
        gw.Client().Delete(ReleasePath("%2B15550000002"), Bearer(bob_));
    ASSERT_TRUE(unlisted);
    EXPECT_EQ(unlisted->status, 403);

    const std::string carol = NewToken();
    auto unknown =
        gw.Client().Delete(ReleasePath("%2B15550000001"), Bearer(carol));
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->status, 401);

    // Users and inventory change together with one SIGHUP.
    dir_.Write("numbers.json", R"({"+15550000001": {"env": "test"},
                                   "+15550000002": {"env": "test"},
                                   "+15550000003": {"env": "test"}})");
    json config = json::parse(dir_.Read("gateway.json"));
    config["users"].push_back({{"name", "carol"},
                               {"groups", {"support"}},
                               {"token_sha256", Sha256Hex(carol)}});
    dir_.Write("gateway.json", config.dump());
    gw.Signal(SIGHUP);
    ASSERT_TRUE(Eventually([&] {
      return gw.Metric(
                 R"(agni_gateway_config_reloads_total{result="success"})") == 1;
    }));
    auto known =
        gw.Client().Delete(ReleasePath("%2B15550000001"), Bearer(carol));
    ASSERT_TRUE(known);
    EXPECT_EQ(known->status, 200);
    for (const char* n : {"%2B15550000001", "%2B15550000002"}) {
      auto res = gw.Client().Delete(ReleasePath(n), Bearer(bob_));
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 200) << n;
    }
    auto limited =
        gw.Client().Delete(ReleasePath("%2B15550000003"), Bearer(bob_));
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
    GatewayProcess gw(Serve());
    auto limited =
        gw.Client().Delete(ReleasePath("%2B15550000003"), Bearer(bob_));
    ASSERT_TRUE(limited);
    EXPECT_EQ(limited->status, 429);
    auto alice =
        gw.Client().Delete(ReleasePath("%2B15550000003"), Bearer(alice_));
    ASSERT_TRUE(alice);
    EXPECT_EQ(alice->status, 200);
  }
  EXPECT_EQ(upstream_.Received().size(), 4u);

  // Replay against the config it ran with: only the denial made before the
  // inventory reload would now go the other way.
  auto [same_rc, same] =
      RunGateway({"policy", "replay", "--config", dir_.File("gateway.json"),
                  "--db", dir_.File("audit.db")});
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
  json candidate = json::parse(dir_.Read("gateway.json"));
  candidate["policy_file"] = "candidate.json";
  dir_.Write("candidate-gateway.json", candidate.dump());
  auto [rc, out] = RunGateway({"policy", "replay", "--config",
                               dir_.File("candidate-gateway.json"), "--db",
                               dir_.File("audit.db")});
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

// tls.client_certificates reload with SIGHUP like the users: a mapping added
// is honoured and a mapping removed is refused (401), without a restart.
TEST(ClientCertificateReloadTest, SighupAddsAndRemovesMappings) {
  Pki pki;
  pki.Issue("opsbot", "/O=Example/CN=ops-bot", "");
  pki.Issue("alicesvc", "/CN=whatever", "DNS:alice-svc.internal");
  FakeUpstream upstream;
  json tls = {{"cert_file", pki.File("server.pem")},
              {"key_file", pki.File("server.key")},
              {"client_ca_file", pki.File("ca.pem")},
              {"client_auth", "optional"},
              {"client_certificates",
               {{{"user", "olga"}, {"subject", "CN=ops-bot,O=Example"}}}}};
  GatewayProcess gw({.config = {.upstream_base_url = upstream.url(),
                                .patch = {{"tls", tls}}}});
  // whoami over TLS with client certificate NAME: the status and the user.
  auto whoami = [&](const std::string& name) {
    httplib::SSLClient c("127.0.0.1", gw.port(), pki.File(name + ".pem"),
                         pki.File(name + ".key"));
    c.set_ca_cert_path(pki.File("ca.pem").c_str());
    c.enable_server_certificate_verification(true);
    c.set_read_timeout(10, 0);
    auto res = c.Get("/v1/whoami");
    if (!res) return std::make_pair(-1, std::string());
    const json body = json::parse(res->body, nullptr, false);
    return std::make_pair(res->status, body.is_object()
                                           ? body.value("user", std::string())
                                           : std::string());
  };
  EXPECT_EQ(whoami("opsbot"), std::make_pair(200, std::string("olga")));
  EXPECT_EQ(whoami("alicesvc").first, 401);

  json config = gw.config();
  config["tls"]["client_certificates"] =
      json::array({{{"user", "alice"}, {"san", "DNS:alice-svc.internal"}}});
  gw.WriteConfig(config);
  gw.Signal(SIGHUP);
  ASSERT_TRUE(Eventually([&] {
    return gw.Metric(
               R"(agni_gateway_config_reloads_total{result="success"})") == 1;
  })) << gw.Log();

  EXPECT_EQ(whoami("alicesvc"), std::make_pair(200, std::string("alice")));
  EXPECT_EQ(whoami("opsbot").first, 401);
  EXPECT_EQ(gw.Stop(), std::optional<int>(0)) << gw.Log();
}

}  // namespace
}  // namespace agni::testing
