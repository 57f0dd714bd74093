// LoadConfig reads the operator's files and either yields a complete Config or
// lists every problem with the JSON path that an operator has to fix. The files
// are real files in a fresh temporary folder, as `check-config` would see them.
#include "gateway/config/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/crypto.h"
#include "policies/load/json_reader.h"
#include "tests/support/config_errors.h"
#include "tests/support/temp_dir.h"

namespace agni {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;

using TempFolder = agni::testing::TempDir;

const std::string kAliceHash = Sha256Hex("agt_alice-token");
const std::string kOlgaHash = Sha256Hex("agt_olga-token");

// A config that exercises every section, with relative paths throughout.
json FullConfig() {
  return json::parse(R"({
    "listen": "127.0.0.1:18080",
    "admin_listen": "[::1]:19090",
    "upstream": {
      "base_url": "https://upstream.example.com:8443",
      "ca_file": "certs/ca.pem",
      "connect_timeout": "250ms",
      "read_timeout": "45s",
      "max_idle_connections": 8
    },
    "server": {
      "threads": 16,
      "admin_threads": 3,
      "read_timeout": "2m",
      "write_timeout": "1h",
      "keep_alive_timeout": "7s",
      "keep_alive_max_requests": 500,
      "cpu_scheduling": "other"
    },
    "audit": {
      "path": "data/audit.db",
      "busy_timeout": "1500ms",
      "max_queue": 100,
      "max_batch": 10
    },
    "users": [
      {"name": "alice", "groups": ["support"], "token_sha256": ")" +
                     kAliceHash + R"("},
      {"name": "olga", "groups": ["telecom-ops", "support"],
       "token_sha256": ")" +
                     kOlgaHash + R"("}
    ],
    "auditors": ["compliance"],
    "policy_file": "policies/policy.json",
    "inventory_file": "numbers.json"
  })");
}

const char* kPolicy = R"({
  "rules": [
    {"id": "never-release-emergency", "effect": "deny", "numbers": ["+1911*"]},
    {"id": "support-all", "effect": "allow", "groups": ["support"]},
    {"id": "alice-sandbox", "effect": "allow", "users": ["alice"],
     "numbers": ["+1555*"], "mode": "shadow"}
  ]
})";

const char* kInventory = R"({
  "+14155550100": {"env": "prod", "team": "sales"},
  "+15550001111": {"env": "test"}
})";

// A folder holding a loadable config and the files it names.
struct ConfigFolder {
  TempFolder dir;
  std::string config_path;

  explicit ConfigFolder(const json& config) {
    dir.Write("certs/ca.pem", "not parsed by LoadConfig\n");
    dir.Mkdir("data");
    dir.Write("policies/policy.json", kPolicy);
    dir.Write("numbers.json", kInventory);
    config_path = dir.Write("gateway.json", config.dump(2));
  }
  std::string In(const std::string& name) const {
    return (dir.path() / name).lexically_normal().string();
  }
};

using agni::testing::Dump;
using agni::testing::HasErrorAt;
using agni::testing::MessageAt;

// Loads `config` and expects exactly one error, at `path`.
void ExpectSingleError(const json& config, const std::string& path,
                       const std::string& message_part = "") {
  ConfigFolder s(config);
  const ConfigLoad load = LoadConfig(s.config_path);
  EXPECT_FALSE(load.config.has_value());
  ASSERT_EQ(load.errors.size(), 1u) << Dump(load.errors);
  EXPECT_EQ(load.errors[0].path, path) << Dump(load.errors);
  EXPECT_NE(load.errors[0].message.find(message_part), std::string::npos)
      << Dump(load.errors);
}

// --- LoadConfig: success
// ------------------------------------------------------

TEST(LoadConfigTest, FullConfigLoadsEverySection) {
  ConfigFolder s(FullConfig());
  const ConfigLoad load = LoadConfig(s.config_path);
  ASSERT_TRUE(load.config.has_value()) << Dump(load.errors);
  ASSERT_TRUE(load.errors.empty()) << Dump(load.errors);
  const Config& c = *load.config;

  EXPECT_EQ(c.source_path, s.config_path);
  EXPECT_EQ(c.listen.host, "127.0.0.1");
  EXPECT_EQ(c.listen.port, 18080);
  EXPECT_EQ(c.admin_listen.host, "::1");
  EXPECT_EQ(c.admin_listen.port, 19090);

  EXPECT_EQ(c.upstream.base_url, "https://upstream.example.com:8443");
  EXPECT_TRUE(c.upstream.tls);
  EXPECT_EQ(c.upstream.host, "upstream.example.com");
  EXPECT_EQ(c.upstream.port, 8443);
  EXPECT_EQ(c.upstream.connect_timeout, milliseconds(250));
  EXPECT_EQ(c.upstream.read_timeout, milliseconds(45'000));
  EXPECT_FALSE(c.upstream.allow_plain_http);
  EXPECT_EQ(c.upstream.max_idle_connections, 8u);

  EXPECT_EQ(c.server.threads, 16);
  EXPECT_EQ(c.server.admin_threads, 3);
  EXPECT_EQ(c.server.read_timeout, milliseconds(120'000));
  EXPECT_EQ(c.server.write_timeout, milliseconds(3'600'000));
  EXPECT_EQ(c.server.keep_alive_timeout, milliseconds(7'000));
  EXPECT_EQ(c.server.keep_alive_max_requests, 500u);
  EXPECT_EQ(c.server.cpu_scheduling, ServerConfig::CpuScheduling::kOther);

  EXPECT_EQ(c.audit.busy_timeout, milliseconds(1500));
  EXPECT_EQ(c.audit.max_queue, 100u);
  EXPECT_EQ(c.audit.max_batch, 10u);

  ASSERT_EQ(c.users.size(), 2u);
  EXPECT_EQ(c.users[0].name, "alice");
  EXPECT_EQ(c.users[0].groups, std::vector<std::string>{"support"});
  EXPECT_EQ(c.users[0].token_sha256, kAliceHash);
  EXPECT_EQ(c.users[1].name, "olga");
  EXPECT_EQ(c.users[1].groups,
            (std::vector<std::string>{"telecom-ops", "support"}));
  EXPECT_EQ(c.auditors, std::vector<std::string>{"compliance"});

  ASSERT_NE(c.policy, nullptr);
  ASSERT_EQ(c.policy->rules.size(), 3u);
  EXPECT_EQ(c.policy->rules[0].id, "never-release-emergency");
  EXPECT_EQ(c.policy->hash.size(), 64u);

  ASSERT_EQ(c.inventory.size(), 2u);
  EXPECT_EQ(c.inventory.at("+14155550100").at("env"), "prod");
  EXPECT_EQ(c.inventory.at("+14155550100").at("team"), "sales");
  EXPECT_EQ(c.inventory.at("+15550001111").at("env"), "test");
}

TEST(LoadConfigTest, RelativePathsResolveAgainstTheConfigFolder) {
  ConfigFolder s(FullConfig());
  const ConfigLoad load = LoadConfig(s.config_path);
  ASSERT_TRUE(load.config.has_value()) << Dump(load.errors);
  const Config& c = *load.config;
  EXPECT_EQ(c.upstream.ca_file, s.In("certs/ca.pem"));
  EXPECT_EQ(c.audit.path, s.In("data/audit.db"));
  EXPECT_EQ(c.policy_file, s.In("policies/policy.json"));
  EXPECT_EQ(c.inventory_file, s.In("numbers.json"));
  EXPECT_TRUE(fs::path(c.audit.path).is_absolute());
}

TEST(LoadConfigTest, RelativePathsResolveEvenWhenTheConfigPathIsIndirect) {
  ConfigFolder s(FullConfig());
  s.dir.Mkdir("elsewhere");
  const std::string indirect =
      (s.dir.path() / "elsewhere" / ".." / "gateway.json").string();
  const ConfigLoad load = LoadConfig(indirect);
  ASSERT_TRUE(load.config.has_value()) << Dump(load.errors);
  EXPECT_EQ(load.config->policy_file, s.In("policies/policy.json"));
}

TEST(LoadConfigTest, AbsolutePathsAreKeptAsWritten) {
  TempFolder other;
  const std::string policy = other.Write("p.json", kPolicy);
  const std::string ca = other.Write("ca.pem", "x");
  json cfg = FullConfig();
  cfg["policy_file"] = policy;
  cfg["upstream"]["ca_file"] = ca;
  cfg["audit"]["path"] = (other.path() / "a.db").string();
  ConfigFolder s(cfg);
  const ConfigLoad load = LoadConfig(s.config_path);
  ASSERT_TRUE(load.config.has_value()) << Dump(load.errors);
  EXPECT_EQ(load.config->policy_file, policy);
  EXPECT_EQ(load.config->upstream.ca_file, ca);
  EXPECT_EQ(load.config->audit.path, (other.path() / "a.db").string());
}

TEST(LoadConfigTest, MinimalConfigGetsTheDocumentedDefaults) {
  const json cfg = {
      {"audit", {{"path", "audit.db"}}},
      {"users", json::array()},
      {"policy_file", "policy.json"},
  };
  TempFolder dir;
  dir.Write("policy.json", R"({"rules": []})");
  const std::string path = dir.Write("gateway.json", cfg.dump());
  const ConfigLoad load = LoadConfig(path);
  ASSERT_TRUE(load.config.has_value()) << Dump(load.errors);
  const Config& c = *load.config;
  EXPECT_EQ(c.listen.ToString(), "127.0.0.1:8080");
  EXPECT_EQ(c.admin_listen.ToString(), "127.0.0.1:9090");
  EXPECT_EQ(c.upstream.base_url, "https://api.ravan.ai");
  EXPECT_EQ(c.upstream.host, "api.ravan.ai");
  EXPECT_EQ(c.upstream.port, 443);
  EXPECT_TRUE(c.upstream.tls);
  EXPECT_TRUE(c.upstream.ca_file.empty());
  EXPECT_EQ(c.upstream.connect_timeout, milliseconds(3000));
  EXPECT_EQ(c.upstream.read_timeout, milliseconds(30000));
  EXPECT_EQ(c.audit.busy_timeout, milliseconds(2000));
  EXPECT_EQ(c.server.threads, 64);
  EXPECT_EQ(c.server.max_connections, 1024);
  EXPECT_EQ(c.server.max_queued_connections, 256);
  EXPECT_EQ(c.server.admin_max_connections, 64);
  EXPECT_EQ(c.server.request_header_timeout, milliseconds(10'000));
  EXPECT_EQ(c.server.cpu_scheduling, ServerConfig::CpuScheduling::kBatch);
  EXPECT_EQ(c.upstream.max_in_flight, 256u);
  EXPECT_TRUE(c.inventory.empty());
  ASSERT_NE(c.policy, nullptr);
  EXPECT_TRUE(c.policy->rules.empty());
}

TEST(LoadConfigTest, UpstreamBaseUrlFormsThatAreAccepted) {
  struct Case {
    std::string url;
    bool allow_plain_http;
    bool tls;
    std::string host;
    int port;
  };
  const std::vector<Case> cases = {
      {"https://api.ravan.ai", false, true, "api.ravan.ai", 443},
      {"https://api.ravan.ai/", false, true, "api.ravan.ai", 443},
      {"https://api.ravan.ai:443", false, true, "api.ravan.ai", 443},
      {"https://127.0.0.1:8443", false, true, "127.0.0.1", 8443},
      {"https://[::1]:8443", false, true, "::1", 8443},
      {"https://[2001:db8::1]", false, true, "2001:db8::1", 443},
      {"http://127.0.0.1:8080", true, false, "127.0.0.1", 8080},
      {"http://127.9.9.9:1", true, false, "127.9.9.9", 1},
      {"http://localhost", true, false, "localhost", 80},
      {"http://[::1]:9000/", true, false, "::1", 9000},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.url);
    json cfg = FullConfig();
    cfg["upstream"] = {{"base_url", c.url}};
    if (c.allow_plain_http) cfg["upstream"]["allow_plain_http"] = true;
    ConfigFolder s(cfg);
    const ConfigLoad load = LoadConfig(s.config_path);
    ASSERT_TRUE(load.config.has_value()) << Dump(load.errors);
    EXPECT_EQ(load.config->upstream.tls, c.tls);
    EXPECT_EQ(load.config->upstream.host, c.host);
    EXPECT_EQ(load.config->upstream.port, c.port);
  }
}

// --- LoadConfig: errors
// -------------------------------------------------------

TEST(LoadConfigTest, ReportsEveryErrorOfABadConfigAtOnceWithItsPath) {
  json cfg = FullConfig();
  cfg["bogus_top"] = 1;
  cfg["listen"] = "localhost";
  cfg["admin_listen"] = "1.2.3.4:99999";
  cfg["upstream"] = {
      {"base_url", "http://api.ravan.ai"}, {"bogus", true},
      {"connect_timeout", "5 minutes"},    {"read_timeout", "-1s"},
      {"ca_file", "missing-ca.pem"},
  };
  cfg["server"] = {{"read_timeout", "10"}};
  cfg["users"] = json::array({
      {{"name", "alice"}, {"token_sha256", kAliceHash}},
      {{"name", "alice"}, {"token_sha256", kOlgaHash}},
      {{"name", "bob"}, {"token_sha256", kAliceHash}},
      {{"name", "carol"},
       {"token_sha256", Sha256Hex("carol").substr(0, 60) + "ABCD"}},
      {{"name", "dave"}, {"token_sha256", Sha256Hex("dave").substr(1)}},
  });
  cfg["policy_file"] = "missing-policy.json";
  ConfigFolder s(cfg);
  const ConfigLoad load = LoadConfig(s.config_path);
  EXPECT_FALSE(load.config.has_value());

  struct Expected {
    std::string path;
    std::string message_part;
  };
  const std::vector<Expected> expected = {
      {"$.bogus_top", "unknown key"},
      {"$.listen", "localhost"},
      {"$.admin_listen", "1.2.3.4:99999"},
      {"$.upstream.bogus", "unknown key"},
      {"$.upstream.connect_timeout", "5 minutes"},
      {"$.upstream.read_timeout", "-1s"},
      {"$.upstream.ca_file", "missing-ca.pem"},
      {"$.upstream.base_url", "clear text"},
      {"$.server.read_timeout", "\"10\""},
      {"$.users[1].name", "duplicate"},
      {"$.users[2].token_sha256", "another user"},
      {"$.users[3].token_sha256", "lowercase hex"},
      {"$.users[4].token_sha256", "64"},
      {"$.policy_file", "missing-policy.json"},
  };
  EXPECT_EQ(load.errors.size(), expected.size()) << Dump(load.errors);
  for (const auto& e : expected) {
    SCOPED_TRACE(e.path);
    ASSERT_TRUE(HasErrorAt(load.errors, e.path)) << Dump(load.errors);
    EXPECT_NE(MessageAt(load.errors, e.path).find(e.message_part),
              std::string::npos)
        << Dump(load.errors);
  }
}

TEST(LoadConfigTest, BadListenAddressesAreRejectedAtTheirPath) {
  for (const std::string bad :
       {"localhost", "1.2.3.4:99999", "[::1]8080", "8080", ":8080",
        "127.0.0.1:", "example.com:8080", "::1:8080", "[127.0.0.1]:80",
        "127.0.0.1:http", "127.0.0.1:-1", ""}) {
    SCOPED_TRACE(bad);
    json cfg = FullConfig();
    cfg["listen"] = bad;
    ExpectSingleError(cfg, "$.listen", "host:port");
  }
}

// Notifications name the request and its approvers: https://, or plain
// http:// only to a loopback host.
TEST(LoadConfigTest, WebhookUrlIsHttpsExceptToALoopbackHost) {
  struct Case {
    std::string url;
    bool ok;
  };
  for (const Case& c : std::vector<Case>{
           {"https://hooks.example.com/agni", true},
           {"https://hooks.example.com:8443", true},
           {"http://127.0.0.1:8080/hook", true},
           {"http://127.10.0.1/hook", true},
           {"http://[::1]:8080/hook", true},
           {"http://localhost:8080/hook", true},
           {"http://example.com/hook", false},
           {"http://10.0.0.1/hook", false},
           {"http://127.0.0.1.example.com/hook", false},
           {"http://127.0.0.1@example.com/hook", false},
           {"http://localhost:80@example.com/", false},
           {"http://[::2]/hook", false},
           {"http:///hook", false},
           {"ftp://127.0.0.1/hook", false},
           {"https://user:pw@hooks.example.com/agni", false},
       }) {
    SCOPED_TRACE(c.url);
    json cfg = FullConfig();
    cfg["approvals"] = {
        {"webhook",
         {{"url", c.url}, {"secret_env", "AGNI_CONFIG_TEST_WEBHOOK_SECRET"}}}};
    ::setenv("AGNI_CONFIG_TEST_WEBHOOK_SECRET", "0123456789abcdef-secret", 1);
    if (c.ok) {
      ConfigFolder s(cfg);
      const ConfigLoad load = LoadConfig(s.config_path);
      ASSERT_TRUE(load.config.has_value()) << Dump(load.errors);
      EXPECT_EQ(load.config->approvals.webhook.url, c.url);
    } else {
      ExpectSingleError(cfg, "$.approvals.webhook.url", "https://");
    }
  }
}

TEST(LoadConfigTest, ListenAndAdminListenMustDiffer) {
  json cfg = FullConfig();
  cfg["listen"] = "127.0.0.1:8000";
  cfg["admin_listen"] = "127.0.0.1:8000";
  ExpectSingleError(cfg, "$.admin_listen", "differ");
}

TEST(LoadConfigTest, AWildcardListenerClashesWithAnyAdminAddressOnItsPort) {
  json cfg = FullConfig();
  cfg["listen"] = "0.0.0.0:9090";
  cfg["admin_listen"] = "127.0.0.1:9090";
  ExpectSingleError(cfg, "$.admin_listen", "differ");
}

TEST(LoadConfigTest, AKeyWrittenTwiceInOnePolicyObjectIsAnError) {
  // nlohmann keeps the last of two equal keys: without this check a rule
  // written {"effect": "deny", ..., "effect": "allow"} would load as allow.
  ConfigFolder s(FullConfig());
  s.dir.Write(
      "policies/policy.json",
      R"({"rules":[{"id":"r","effect":"deny","groups":["support"],"effect":"allow"}]})");
  const ConfigLoad load = LoadConfig(s.config_path);
  EXPECT_FALSE(load.config.has_value());
  ASSERT_EQ(load.errors.size(), 1u) << Dump(load.errors);
  EXPECT_EQ(load.errors[0].path, "$.policy_file");
  EXPECT_NE(load.errors[0].message.find("\"effect\" twice"), std::string::npos)
      << Dump(load.errors);
}

TEST(LoadConfigTest, AKeyWrittenTwiceInTheConfigIsAnError) {
  ConfigFolder s(FullConfig());
  const std::string text = FullConfig().dump();
  s.dir.Write("gateway.json",
              text.substr(0, text.size() - 1) + R"(,"listen":"127.0.0.1:1"})");
  const ConfigLoad load = LoadConfig(s.config_path);
  ASSERT_EQ(load.errors.size(), 1u) << Dump(load.errors);
  EXPECT_NE(load.errors[0].message.find("\"listen\" twice"), std::string::npos);
}

TEST(LoadConfigTest, AuditBusyTimeoutIsBounded) {
  json cfg = FullConfig();
  cfg["audit"]["busy_timeout"] = "30d";
  ExpectSingleError(cfg, "$.audit.busy_timeout", "at most");
}

TEST(LoadConfigTest, CpuSchedulingIsBatchOrOther) {
  json cfg = FullConfig();
  cfg["server"]["cpu_scheduling"] = "fifo";
  ExpectSingleError(cfg, "$.server.cpu_scheduling",
                    "must be \"batch\" or \"other\"");
  cfg["server"]["cpu_scheduling"] = 3;
  ExpectSingleError(cfg, "$.server.cpu_scheduling", "string");
}

TEST(LoadConfigTest, BadDurationsAreRejectedAtTheirPath) {
  for (const std::string bad :
       {"5 minutes", "-1s", "10", "0s", "1.5s", "1s500ms", "10S", "", "s",
        " 5s", "5s ", "10000000000ms"}) {
    SCOPED_TRACE(bad);
    json cfg = FullConfig();
    cfg["audit"]["busy_timeout"] = bad;
    ExpectSingleError(cfg, "$.audit.busy_timeout", "positive duration");
  }
  json number = FullConfig();
  number["upstream"]["read_timeout"] = 30;
  ExpectSingleError(number, "$.upstream.read_timeout", "string");
}

TEST(LoadConfigTest, UpstreamBaseUrlWithPathQueryOrCredentialsIsRejected) {
  for (const std::string bad :
       {"https://api.ravan.ai/v1", "https://api.ravan.ai/api/v1/phone-numbers/",
        "https://api.ravan.ai//", "https://api.ravan.ai?x=1",
        "https://api.ravan.ai#frag", "https://user@api.ravan.ai",
        "https://user:secret@api.ravan.ai", "https://api.ravan.ai:443/v1",
        "https://[::1]/v1", "https://[::1", "https://", "https://:443",
        "https://api.ravan.ai:0", "https://api.ravan.ai:65536",
        "https://api.ravan.ai:", "https://api ravan.ai", "ftp://api.ravan.ai",
        "api.ravan.ai", "HTTPS://api.ravan.ai"}) {
    SCOPED_TRACE(bad);
    json cfg = FullConfig();
    cfg["upstream"] = {{"base_url", bad}};
    ExpectSingleError(cfg, "$.upstream.base_url");
  }
}

TEST(LoadConfigTest, PlainHttpNeedsTheExplicitFlag) {
  json cfg = FullConfig();
  cfg["upstream"] = {{"base_url", "http://127.0.0.1:8080"}};
  ExpectSingleError(cfg, "$.upstream.base_url", "clear text");
}

TEST(LoadConfigTest, PlainHttpIsOnlyAllowedTowardsLoopback) {
  for (const std::string url :
       {"http://api.ravan.ai", "http://10.0.0.1:8080", "http://0.0.0.0:80",
        "http://127.0.0.1.nip.io", "http://128.0.0.1", "http://[::2]:80"}) {
    SCOPED_TRACE(url);
    json cfg = FullConfig();
    cfg["upstream"] = {{"base_url", url}, {"allow_plain_http", true}};
    ExpectSingleError(cfg, "$.upstream.allow_plain_http", "loopback");
  }
}

TEST(LoadConfigTest, MissingCaFileIsNamed) {
  json cfg = FullConfig();
  cfg["upstream"]["ca_file"] = "certs/missing.pem";
  ConfigFolder s(cfg);
  const ConfigLoad load = LoadConfig(s.config_path);
  ASSERT_EQ(load.errors.size(), 1u) << Dump(load.errors);
  EXPECT_EQ(load.errors[0].path, "$.upstream.ca_file");
  EXPECT_NE(load.errors[0].message.find(s.In("certs/missing.pem")),
            std::string::npos)
      << load.errors[0].message;
}

TEST(LoadConfigTest, UserMistakesAreReportedPerUser) {
  struct Case {
    std::string name;
    json user;
    std::string path;
  };
  const std::vector<Case> cases = {
      {"uppercase hash",
       {{"name", "carol"},
        {"token_sha256",
         "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"}},
       "$.users[2].token_sha256"},
      {"63 characters",
       {{"name", "carol"}, {"token_sha256", Sha256Hex("x").substr(0, 63)}},
       "$.users[2].token_sha256"},
      {"65 characters",
       {{"name", "carol"}, {"token_sha256", Sha256Hex("x") + "0"}},
       "$.users[2].token_sha256"},
      {"not hex",
       {{"name", "carol"}, {"token_sha256", std::string(64, 'g')}},
       "$.users[2].token_sha256"},
      {"the token itself instead of its hash",
       {{"name", "carol"}, {"token_sha256", NewToken()}},
       "$.users[2].token_sha256"},
      {"missing hash", {{"name", "carol"}}, "$.users[2].token_sha256"},
      {"missing name", {{"token_sha256", Sha256Hex("x")}}, "$.users[2].name"},
      {"bad name",
       {{"name", "carol smith"}, {"token_sha256", Sha256Hex("x")}},
       "$.users[2].name"},
      {"bad group",
       {{"name", "carol"},
        {"groups", {"ok", "not ok"}},
        {"token_sha256", Sha256Hex("x")}},
       "$.users[2].groups[1]"},
      {"unknown key",
       {{"name", "carol"},
        {"token", "agt_x"},
        {"token_sha256", Sha256Hex("x")}},
       "$.users[2].token"},
      {"duplicate name",
       {{"name", "olga"}, {"token_sha256", Sha256Hex("x")}},
       "$.users[2].name"},
      {"duplicate hash",
       {{"name", "carol"}, {"token_sha256", kAliceHash}},
       "$.users[2].token_sha256"},
      {"not an object", "carol", "$.users[2]"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    json cfg = FullConfig();
    cfg["users"].push_back(c.user);
    ExpectSingleError(cfg, c.path);
  }
}

TEST(LoadConfigTest, MissingRequiredSectionsAreNamed) {
  {
    json cfg = FullConfig();
    cfg.erase("audit");
    ExpectSingleError(cfg, "$.audit", "required");
  }
  {
    json cfg = FullConfig();
    cfg["audit"].erase("path");
    ExpectSingleError(cfg, "$.audit.path", "required");
  }
  {
    json cfg = FullConfig();
    cfg.erase("policy_file");
    ExpectSingleError(cfg, "$.policy_file", "required");
  }
  {
    json cfg = FullConfig();
    cfg["audit"]["path"] = "no-such-dir/audit.db";
    ExpectSingleError(cfg, "$.audit.path", "does not exist");
  }
  {
    // Without users no policy rule can name one either.
    json cfg = FullConfig();
    cfg.erase("users");
    ConfigFolder s(cfg);
    const ConfigLoad load = LoadConfig(s.config_path);
    EXPECT_FALSE(load.config.has_value());
    EXPECT_TRUE(HasErrorAt(load.errors, "$.users")) << Dump(load.errors);
  }
}

TEST(LoadConfigTest, AuditPathThatIsEmptyOrAFolderIsRejected) {
  // check-config must not say OK for an audit path the store cannot open as
  // a database file: serve would then fail at start-up.
  for (const std::string bad : {"", ".", "data", "data/"}) {
    SCOPED_TRACE("audit.path = \"" + bad + "\"");
    json cfg = FullConfig();
    cfg["audit"]["path"] = bad;
    ExpectSingleError(cfg, "$.audit.path");
  }
}

TEST(LoadConfigTest, NumericLimitsAreEnforced) {
  struct Case {
    std::string section, key;
    json value;
  };
  const std::vector<Case> cases = {
      {"server", "threads", 0},
      {"server", "threads", 4097},
      {"server", "threads", "16"},
      {"server", "threads", 1.5},
      {"audit", "max_queue", 0},
      {"audit", "max_batch", -1},
      {"upstream", "max_idle_connections", 0},
      {"upstream", "max_in_flight", 0},
      {"server", "max_connections", 0},
      {"server", "max_queued_connections", -1},
      {"server", "admin_max_connections", 0},
      {"server", "request_header_timeout", "0s"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.section + "." + c.key + "=" + c.value.dump());
    json cfg = FullConfig();
    cfg[c.section][c.key] = c.value;
    ExpectSingleError(cfg, "$." + c.section + "." + c.key);
  }
}

// Loading `path` fails with one error, at the root, whose message holds
// `message_part`.
void ExpectOneErrorAtTheRoot(const std::string& path,
                             const std::string& message_part) {
  const ConfigLoad load = LoadConfig(path);
  EXPECT_FALSE(load.config.has_value());
  ASSERT_EQ(load.errors.size(), 1u) << Dump(load.errors);
  EXPECT_EQ(load.errors[0].path, "$");
  EXPECT_NE(load.errors[0].message.find(message_part), std::string::npos);
}

TEST(LoadConfigTest, InvalidJsonConfigIsOneErrorAtTheRoot) {
  TempFolder dir;
  ExpectOneErrorAtTheRoot(
      dir.Write("gateway.json", R"({"listen": "127.0.0.1:8080",})"),
      "not valid JSON");
}

TEST(LoadConfigTest, MissingConfigFileIsOneErrorAtTheRoot) {
  TempFolder dir;
  ExpectOneErrorAtTheRoot(dir.File("nope.json"), "cannot read");
}

TEST(LoadConfigTest, ConfigThatIsNotAnObjectIsOneError) {
  TempFolder dir;
  ExpectOneErrorAtTheRoot(dir.Write("gateway.json", R"(["listen"])"), "");
}

// Expects an error at each of `paths`.
void ExpectErrorsAt(const ConfigErrors& errors,
                    const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    EXPECT_TRUE(HasErrorAt(errors, path)) << Dump(errors);
  }
}

TEST(LoadConfigTest, PolicyFileErrorsCarryThePolicyFileName) {
  ConfigFolder s(FullConfig());
  s.dir.Write("policies/policy.json", R"({"rules": [
      {"id": "a", "effect": "allow", "users": ["mallory"]},
      {"id": "b", "effect": "allow", "groups": ["support", "admins"]}]})");
  const ConfigLoad load = LoadConfig(s.config_path);
  EXPECT_FALSE(load.config.has_value());
  ASSERT_EQ(load.errors.size(), 2u) << Dump(load.errors);
  ExpectErrorsAt(load.errors, {"policy.json:$.rules[0].users[0]",
                               "policy.json:$.rules[1].groups[1]"});
}

TEST(LoadConfigTest, PolicyRulesMayNameOnlyConfiguredUsersAndGroups) {
  // "olga" is a configured user and "telecom-ops" a configured group.
  ConfigFolder s(FullConfig());
  s.dir.Write("policies/policy.json", R"({"rules": [
      {"id": "a", "effect": "allow", "users": ["olga"],
       "groups": ["telecom-ops"]}]})");
  const ConfigLoad load = LoadConfig(s.config_path);
  ASSERT_TRUE(load.config.has_value()) << Dump(load.errors);
}

TEST(LoadConfigTest, InvalidJsonPolicyFileIsReportedAtPolicyFile) {
  ConfigFolder s(FullConfig());
  s.dir.Write("policies/policy.json", "{rules: []}");
  const ConfigLoad load = LoadConfig(s.config_path);
  ASSERT_EQ(load.errors.size(), 1u) << Dump(load.errors);
  EXPECT_EQ(load.errors[0].path, "$.policy_file");
  EXPECT_NE(load.errors[0].message.find("not valid JSON"), std::string::npos);
}

TEST(LoadConfigTest, InventoryMistakesCarryTheInventoryFileName) {
  ConfigFolder s(FullConfig());
  s.dir.Write("numbers.json", R"({
      "+14155550100": {"env": "prod"},
      "0800123456": {"env": "test"},
      "+15550001111": {"env": 1},
      "+15550002222": "prod"})");
  const ConfigLoad load = LoadConfig(s.config_path);
  EXPECT_FALSE(load.config.has_value());
  EXPECT_EQ(load.errors.size(), 3u) << Dump(load.errors);
  ExpectErrorsAt(load.errors, {"numbers.json:$[\"0800123456\"]",
                               "numbers.json:$[\"+15550001111\"].env",
                               "numbers.json:$[\"+15550002222\"]"});
}

// --- ParseEndpoint / ParseDuration / IsLoopbackHost
// ---------------------------

TEST(ParseEndpointTest, AcceptsIpv4Ipv6InBracketsLocalhostAndPortZero) {
  struct Case {
    std::string text;
    std::string host;
    int port;
    std::string round_trip;
  };
  const std::vector<Case> cases = {
      {"127.0.0.1:8080", "127.0.0.1", 8080, "127.0.0.1:8080"},
      {"0.0.0.0:443", "0.0.0.0", 443, "0.0.0.0:443"},
      {"127.0.0.1:0", "127.0.0.1", 0, "127.0.0.1:0"},
      {"10.1.2.3:65535", "10.1.2.3", 65535, "10.1.2.3:65535"},
      {"[::1]:9090", "::1", 9090, "[::1]:9090"},
      {"[::]:0", "::", 0, "[::]:0"},
      {"[2001:db8::17]:8443", "2001:db8::17", 8443, "[2001:db8::17]:8443"},
      {"localhost:8080", "localhost", 8080, "localhost:8080"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const auto ep = ParseEndpoint(c.text);
    ASSERT_TRUE(ep.has_value());
    EXPECT_EQ(ep->host, c.host);
    EXPECT_EQ(ep->port, c.port);
    EXPECT_EQ(ep->ToString(), c.round_trip);
  }
}

TEST(ParseEndpointTest, RejectsMalformedAddresses) {
  for (const std::string bad : {"",
                                "localhost",
                                "127.0.0.1",
                                "1.2.3.4:99999",
                                "1.2.3.4:65536",
                                "1.2.3.4:123456",
                                "[::1]8080",
                                "[::1]",
                                "[::1]:",
                                "::1:8080",
                                "::1",
                                "[]:80",
                                "[127.0.0.1]:80",
                                "[::1]:80:90",
                                "1.2.3.4:",
                                ":8080",
                                "1.2.3.4:-1",
                                "1.2.3.4:+80",
                                "1.2.3.4:80a",
                                "1.2.3.4: 80",
                                " 1.2.3.4:80",
                                "1.2.3.4 :80",
                                "example.com:80",
                                "256.0.0.1:80",
                                "[fe80::1%eth0]:80",
                                "[::1:8080"}) {
    SCOPED_TRACE("[" + bad + "]");
    EXPECT_FALSE(ParseEndpoint(bad).has_value());
  }
}

TEST(ParseDurationTest, AcceptsOneIntegerAndOneUnit) {
  struct Case {
    std::string text;
    long long ms;
  };
  const std::vector<Case> cases = {
      {"250ms", 250},      {"90s", 90'000},
      {"15m", 900'000},    {"24h", 86'400'000},
      {"7d", 604'800'000}, {"0ms", 0},
      {"1s", 1000},        {"999999999ms", 999'999'999},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const auto d = ParseDuration(c.text);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->count(), c.ms);
  }
}

TEST(ParseDurationTest, RejectsEverythingElse) {
  for (const std::string bad :
       {"", "10", "5 minutes", "-1s", "+1s", "1.5s", "1s500ms", "10S", "10M",
        "ms", " 5s", "5s ", "5 s", "1w", "1y", "0x10s", "1e3ms",
        "1000000000ms"}) {
    SCOPED_TRACE("[" + bad + "]");
    EXPECT_FALSE(ParseDuration(bad).has_value());
  }
}

TEST(IsLoopbackHostTest, OnlyLoopbackAddressesAndLocalhost) {
  for (const std::string yes :
       {"127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "localhost"}) {
    SCOPED_TRACE(yes);
    EXPECT_TRUE(IsLoopbackHost(yes));
  }
  for (const std::string no :
       {"128.0.0.1", "10.0.0.1", "0.0.0.0", "::", "::2", "api.ravan.ai",
        "127.0.0.1.nip.io", "localhost.evil.com", ""}) {
    SCOPED_TRACE(no);
    EXPECT_FALSE(IsLoopbackHost(no));
  }
}

// --- LoadApiKey
// ----------------------------------------------------------------

TEST(LoadApiKeyTest, FromTheEnvironmentValue) {
  const ApiKeyLoad k = LoadApiKey("sk_live_abc123", nullptr);
  EXPECT_TRUE(k.error.empty()) << k.error;
  EXPECT_EQ(k.key, "sk_live_abc123");
  EXPECT_EQ(LoadApiKey("sk_live_abc123", "").key, "sk_live_abc123");
}

TEST(LoadApiKeyTest, FromAFileWithTrailingNewlinesTrimmed) {
  TempFolder dir;
  for (const std::string content :
       {"sk_file_key", "sk_file_key\n", "sk_file_key\r\n", "sk_file_key\n\n"}) {
    SCOPED_TRACE(content.size());
    const std::string path = dir.Write("key", content);
    const ApiKeyLoad k = LoadApiKey(nullptr, path.c_str());
    EXPECT_TRUE(k.error.empty()) << k.error;
    EXPECT_EQ(k.key, "sk_file_key");
    EXPECT_EQ(LoadApiKey("", path.c_str()).key, "sk_file_key");
  }
}

TEST(LoadApiKeyTest, RefusesAmbiguousMissingEmptyOrUnsafeKeys) {
  TempFolder dir;
  const std::string secret = "sk_live_s3cr3t";
  const std::string good_file = dir.Write("good", secret + "\n");
  const std::string empty_file = dir.Write("empty", "");
  const std::string newline_file = dir.Write("newline", "\n");
  const std::string spaced_file = dir.Write("spaced", "sk_live s3cr3t\n");
  const std::string inner_newline_file =
      dir.Write("inner", "sk_live\ns3cr3t\n");
  const std::string trailing_space_file = dir.Write("trail", secret + " \n");
  const std::string missing_file = (dir.path() / "missing").string();

  struct Case {
    std::string name;
    const char* env;
    const char* file;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"both set", secret.c_str(), good_file.c_str(), "both"},
      {"neither set", nullptr, nullptr, "no upstream API key"},
      {"both empty", "", "", "no upstream API key"},
      {"missing file", nullptr, missing_file.c_str(),
       "not name a readable file"},
      {"empty file", nullptr, empty_file.c_str(), "empty"},
      {"file with only a newline", nullptr, newline_file.c_str(), "empty"},
      {"space inside (file)", nullptr, spaced_file.c_str(), "whitespace"},
      {"newline inside (file)", nullptr, inner_newline_file.c_str(),
       "whitespace"},
      {"trailing space (file)", nullptr, trailing_space_file.c_str(),
       "whitespace"},
      {"space inside (env)", "sk_live s3cr3t", nullptr, "whitespace"},
      {"newline inside (env)", "sk_live\ns3cr3t", nullptr, "whitespace"},
      {"trailing newline (env)", "sk_live_s3cr3t\n", nullptr, "whitespace"},
      {"tab inside (env)", "sk_live\ts3cr3t", nullptr, "whitespace"},
      {"non-ASCII (env)", "sk_live_s3cr3t\xc3\xa9", nullptr, "whitespace"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const ApiKeyLoad k = LoadApiKey(c.env, c.file);
    EXPECT_TRUE(k.key.empty());
    ASSERT_FALSE(k.error.empty());
    EXPECT_NE(k.error.find(c.message_part), std::string::npos) << k.error;
    for (const std::string part : {"s3cr3t", "sk_live"}) {
      EXPECT_EQ(k.error.find(part), std::string::npos)
          << "error quotes the key: " << k.error;
    }
  }
}

TEST(LoadApiKeyTest, KeyMistakenlyPutInTheFileVariableIsNotEchoed) {
  // A common slip: AGNI_API_KEY_FILE=<the key> instead of a path. The error
  // goes to the start-up log, which must never hold the key.
  const std::string key = "sk_live_9f8e7d6c5b4a39281706";
  const ApiKeyLoad k = LoadApiKey(nullptr, key.c_str());
  EXPECT_TRUE(k.key.empty());
  ASSERT_FALSE(k.error.empty());
  EXPECT_EQ(k.error.find(key), std::string::npos)
      << "error quotes the key: " << k.error;
}

}  // namespace
}  // namespace agni

namespace agni {
namespace {

TEST(LoadConfigTest, WarmThreadsMayNotExceedTheConnectionCap) {
  json cfg = FullConfig();
  cfg["server"]["threads"] = 128;
  cfg["server"]["max_connections"] = 100;
  ExpectSingleError(cfg, "$.server.threads", "max_connections (100)");
  cfg = FullConfig();
  cfg["server"]["admin_threads"] = 8;
  cfg["server"]["admin_max_connections"] = 4;
  ExpectSingleError(cfg, "$.server.admin_threads", "admin_max_connections");
}

TEST(LoadConfigTest, ConsoleBlockIsValidatedAtItsPath) {
  json idle = FullConfig();
  idle["console"] = {{"session_idle", "9h"}};
  ExpectSingleError(idle, "$.console.session_idle", "session_max");
  json url = FullConfig();
  url["console"] = {{"public_url", "https://agni.example.com/ui/"}};
  ExpectSingleError(url, "$.console.public_url", "origin");
  json same = FullConfig();
  same["console"] = {{"sessions_path", same["audit"]["path"]}};
  ExpectSingleError(same, "$.console.sessions_path", "audit.path");
  json unknown = FullConfig();
  unknown["console"] = {{"enable", true}};
  ExpectSingleError(unknown, "$.console.enable", "");
}

}  // namespace
}  // namespace agni
