// The audit settings an operator adds for checkpoints and fingerprints:
// relative paths resolve against the config folder, and every mistake is
// reported with its JSON path, all at once. Also the fingerprint itself.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "audit/checkpoint.h"
#include "audit/fingerprint.h"
#include "base/crypto.h"
#include "gateway/config/config.h"
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
};

std::string ErrorAt(const ConfigLoad& load, const std::string& path) {
  for (const ConfigError& e : load.errors) {
    if (e.path == path) return e.message;
  }
  return "";
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

}  // namespace
}  // namespace agni
