// The audit settings an operator adds for checkpoints and fingerprints:
// relative paths resolve against the config folder, and every mistake is
// reported with its JSON path, all at once. Also the fingerprint itself, and
// audit.syslog: defaults, relative files, and every mistake (there is no
// plain-TCP setting to make).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "audit/checkpoint.h"
#include "audit/fingerprint.h"
#include "base/crypto.h"
#include "gateway/config/config.h"
#include "tests/support/config_errors.h"
#include "tests/support/pki.h"
#include "tests/support/temp_dir.h"

namespace agni {
namespace {

// A config folder with a policy, and the config loaded with `audit`.
class Folder : public testing::TempDir {
 public:
  Folder() {
    Write("policy.json",
          R"({"rules":[{"id":"a","effect":"allow","groups":["support"]}]})");
  }
  ConfigLoad Load(const nlohmann::json& audit) const {
    nlohmann::json config = {{"audit", audit},
                             {"users",
                              {{{"name", "alice"},
                                {"groups", {"support"}},
                                {"token_sha256", Sha256Hex("t")}}}},
                             {"policy_file", "policy.json"}};
    return LoadConfig(Write("gateway.json", config.dump()));
  }
  // The config with `syslog` as audit.syslog.
  ConfigLoad LoadSyslog(const nlohmann::json& syslog) const {
    return Load({{"path", "audit.db"}, {"syslog", syslog}});
  }
};

std::string ErrorAt(const ConfigLoad& load, const std::string& path) {
  return testing::MessageAt(load.errors, path);
}

TEST(AuditConfigTest, SigningAndFingerprintKeysResolveAgainstTheConfigFolder) {
  Folder dir;
  ASSERT_EQ(audit::GenerateKeyFiles(dir.File("sign.pem"), dir.File("sign.pub")),
            "");
  const std::string key = RandomBytes(32);
  dir.Write("fp.key", key);
  ConfigLoad load = dir.Load({{"path", "audit.db"},
                              {"signing_key_file", "sign.pem"},
                              {"checkpoint_interval", "5s"},
                              {"fingerprint_key_file", "fp.key"}});
  ASSERT_TRUE(load.errors.empty())
      << load.errors[0].path << ": " << load.errors[0].message;
  EXPECT_EQ(load.config->audit.signing_key_file, dir.File("sign.pem"));
  EXPECT_EQ(load.config->audit.checkpoint_interval, std::chrono::seconds(5));
  EXPECT_EQ(load.config->audit.fingerprint_key, key);

  ConfigLoad defaults = dir.Load({{"path", "audit.db"}});
  ASSERT_TRUE(defaults.errors.empty());
  EXPECT_EQ(defaults.config->audit.signing_key_file, "");
  EXPECT_EQ(defaults.config->audit.checkpoint_interval,
            std::chrono::minutes(1));
  EXPECT_EQ(defaults.config->audit.fingerprint_key, "");
}

TEST(AuditConfigTest, EveryBadAuditKeyIsReportedWithItsPath) {
  Folder dir;
  ASSERT_EQ(audit::GenerateKeyFiles(dir.File("sign.pem"), dir.File("sign.pub")),
            "");
  dir.Write("short.key", "0123456789");
  ConfigLoad load = dir.Load({{"path", "audit.db"},
                              {"signing_key_file", "sign.pub"},
                              {"checkpoint_interval", "500ms"},
                              {"fingerprint_key_file", "short.key"}});
  EXPECT_FALSE(load.config);
  EXPECT_NE(ErrorAt(load, "$.audit.signing_key_file")
                .find("not an Ed25519 private key"),
            std::string::npos);
  EXPECT_NE(ErrorAt(load, "$.audit.checkpoint_interval").find("at least 1s"),
            std::string::npos);
  EXPECT_NE(
      ErrorAt(load, "$.audit.fingerprint_key_file").find("32 random bytes"),
      std::string::npos);

  ConfigLoad missing = dir.Load({{"path", "audit.db"},
                                 {"signing_key_file", "nope.pem"},
                                 {"fingerprint_key_file", "nope.key"}});
  EXPECT_NE(ErrorAt(missing, "$.audit.signing_key_file").find("nope.pem"),
            std::string::npos);
  EXPECT_NE(ErrorAt(missing, "$.audit.fingerprint_key_file").find("nope.key"),
            std::string::npos);
}

TEST(FingerprintTest, KeyedStableAndNeverTheTokenOrItsHash) {
  const std::string key(32, 'k');
  const std::string token = "agt_secret-token";
  const std::string fp = audit::CredentialFingerprint(key, token);
  EXPECT_EQ(fp.rfind("hmac-sha256:", 0), 0u);
  EXPECT_EQ(fp.size(), 12u + 32u);
  EXPECT_EQ(fp, audit::CredentialFingerprint(key, token));
  EXPECT_NE(fp, audit::CredentialFingerprint(std::string(32, 'K'), token));
  EXPECT_NE(fp, audit::CredentialFingerprint(key, token + "x"));
  EXPECT_EQ(fp.find(Sha256Hex(token).substr(0, 32)), std::string::npos);
  EXPECT_EQ(audit::CredentialFingerprint("", token), "");
  EXPECT_EQ(audit::CredentialFingerprint(key, ""), "");
}

TEST(FingerprintTest, PresentedCredentialIsTheBearerTokenOrTheApiKey) {
  EXPECT_EQ(audit::PresentedCredential({"Bearer abc"}, {}), "abc");
  EXPECT_EQ(audit::PresentedCredential({"bearer abc"}, {"k"}), "abc");
  EXPECT_EQ(audit::PresentedCredential({"Basic xyz"}, {}), "Basic xyz");
  EXPECT_EQ(audit::PresentedCredential({}, {"key1", "key2"}), "key1");
  EXPECT_EQ(audit::PresentedCredential({}, {}), "");
}

TEST(SyslogConfigTest, DefaultsAndFilesRelativeToTheConfigFolder) {
  testing::Pki pki;
  Folder dir;
  dir.Write("siem-ca.pem", testing::ReadFile(pki.File("ca.pem")));
  ConfigLoad load = dir.LoadSyslog(
      {{"address", "siem.example.com:6514"}, {"ca_file", "siem-ca.pem"}});
  ASSERT_TRUE(load.errors.empty())
      << load.errors[0].path << ": " << load.errors[0].message;
  ASSERT_TRUE(load.config->audit.syslog.has_value());
  const audit::SyslogOptions& o = *load.config->audit.syslog;
  EXPECT_EQ(o.tls.host, "siem.example.com");
  EXPECT_EQ(o.tls.port, 6514);
  EXPECT_EQ(o.tls.ca_file, dir.File("siem-ca.pem"));
  EXPECT_EQ(o.app_name, "agni-gateway");
  EXPECT_EQ(o.queue, 4096u);
  EXPECT_EQ(o.state_file, dir.File("audit.db") + ".syslog");

  ConfigLoad v6 = dir.LoadSyslog({{"address", "[::1]:10514"},
                                  {"ca_file", "siem-ca.pem"},
                                  {"app_name", "gw-eu-1"},
                                  {"queue", 10},
                                  {"state_file", "shipped"}});
  ASSERT_TRUE(v6.errors.empty())
      << v6.errors[0].path << ": " << v6.errors[0].message;
  EXPECT_EQ(v6.config->audit.syslog->tls.host, "::1");
  EXPECT_EQ(v6.config->audit.syslog->tls.port, 10514);
  EXPECT_EQ(v6.config->audit.syslog->app_name, "gw-eu-1");
  EXPECT_EQ(v6.config->audit.syslog->queue, 10u);
  EXPECT_EQ(v6.config->audit.syslog->state_file, dir.File("shipped"));

  ConfigLoad none = dir.LoadSyslog(nullptr);
  EXPECT_FALSE(none.errors.empty());  // null is not an object
}

TEST(SyslogConfigTest, EveryMistakeIsReportedWithItsPath) {
  testing::Pki pki;
  Folder dir;
  dir.Write("ca.pem", testing::ReadFile(pki.File("ca.pem")));
  dir.Write("not-a-cert.pem", "hello");

  ConfigLoad missing = dir.LoadSyslog(nlohmann::json::object());
  EXPECT_NE(ErrorAt(missing, "$.audit.syslog.address"), "");
  EXPECT_NE(ErrorAt(missing, "$.audit.syslog.ca_file"), "");

  for (const char* bad : {"siem.example.com", "siem:0", "siem:65536", ":6514",
                          "::1:6514", "siem:65a", "a b:6514"}) {
    ConfigLoad load = dir.LoadSyslog({{"address", bad}, {"ca_file", "ca.pem"}});
    EXPECT_NE(ErrorAt(load, "$.audit.syslog.address"), "") << bad;
  }

  ConfigLoad plain = dir.LoadSyslog(
      {{"address", "siem:514"}, {"ca_file", "ca.pem"}, {"tls", false}});
  EXPECT_NE(ErrorAt(plain, "$.audit.syslog.tls"), "");  // no such setting

  ConfigLoad unreadable =
      dir.LoadSyslog({{"address", "siem:6514"}, {"ca_file", "not-a-cert.pem"}});
  EXPECT_NE(ErrorAt(unreadable, "$.audit.syslog.ca_file"), "");
  ConfigLoad absent =
      dir.LoadSyslog({{"address", "siem:6514"}, {"ca_file", "absent.pem"}});
  EXPECT_NE(ErrorAt(absent, "$.audit.syslog.ca_file").find("absent.pem"),
            std::string::npos);

  ConfigLoad half = dir.LoadSyslog({{"address", "siem:6514"},
                                    {"ca_file", "ca.pem"},
                                    {"client_cert_file", "ca.pem"}});
  EXPECT_NE(ErrorAt(half, "$.audit.syslog.client_key_file"), "");

  pki.Issue("client", "/CN=gw", "");
  ConfigLoad mismatched =
      dir.LoadSyslog({{"address", "siem:6514"},
                      {"ca_file", "ca.pem"},
                      {"client_cert_file", pki.File("client.pem")},
                      {"client_key_file", pki.File("ca.key")}});
  EXPECT_NE(ErrorAt(mismatched, "$.audit.syslog.client_cert_file"), "");
  ConfigLoad matched =
      dir.LoadSyslog({{"address", "siem:6514"},
                      {"ca_file", "ca.pem"},
                      {"client_cert_file", pki.File("client.pem")},
                      {"client_key_file", pki.File("client.key")}});
  EXPECT_TRUE(matched.errors.empty());

  for (const std::string& name :
       {std::string(""), std::string("agni gateway"), std::string(49, 'a')}) {
    ConfigLoad load = dir.LoadSyslog(
        {{"address", "siem:6514"}, {"ca_file", "ca.pem"}, {"app_name", name}});
    EXPECT_NE(ErrorAt(load, "$.audit.syslog.app_name"), "") << name;
  }
  ConfigLoad queue = dir.LoadSyslog(
      {{"address", "siem:6514"}, {"ca_file", "ca.pem"}, {"queue", 0}});
  EXPECT_NE(ErrorAt(queue, "$.audit.syslog.queue"), "");
  ConfigLoad state = dir.LoadSyslog({{"address", "siem:6514"},
                                     {"ca_file", "ca.pem"},
                                     {"state_file", "no/such/dir/state"}});
  EXPECT_NE(ErrorAt(state, "$.audit.syslog.state_file"), "");
}

TEST(SyslogConfigTest, SessionTimesHaveDefaultsAndBounds) {
  testing::Pki pki;
  Folder dir;
  dir.Write("siem-ca.pem", testing::ReadFile(pki.File("ca.pem")));
  const nlohmann::json base = {{"address", "siem.example.com:6514"},
                               {"ca_file", "siem-ca.pem"}};
  ConfigLoad defaults = dir.LoadSyslog(base);
  ASSERT_TRUE(defaults.errors.empty()) << testing::Dump(defaults.errors);
  EXPECT_EQ(defaults.config->audit.syslog->idle_timeout,
            std::chrono::seconds(5));
  EXPECT_EQ(defaults.config->audit.syslog->confirm_interval,
            std::chrono::seconds(10));

  nlohmann::json set = base;
  set["idle_timeout"] = "90s";
  set["confirm_interval"] = "2m";
  ConfigLoad load = dir.LoadSyslog(set);
  ASSERT_TRUE(load.errors.empty()) << testing::Dump(load.errors);
  EXPECT_EQ(load.config->audit.syslog->idle_timeout, std::chrono::seconds(90));
  EXPECT_EQ(load.config->audit.syslog->confirm_interval,
            std::chrono::minutes(2));

  nlohmann::json wrong = base;
  wrong["idle_timeout"] = "2h";
  wrong["confirm_interval"] = "10ms";
  ConfigLoad bad = dir.LoadSyslog(wrong);
  EXPECT_NE(ErrorAt(bad, "$.audit.syslog.idle_timeout"), "");
  EXPECT_NE(ErrorAt(bad, "$.audit.syslog.confirm_interval"), "");
}

}  // namespace
}  // namespace agni
