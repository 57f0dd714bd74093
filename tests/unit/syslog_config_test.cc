// audit.syslog in gateway.json: defaults, relative files, and every mistake
// reported with its JSON path (there is no plain-TCP setting to make).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "base/crypto.h"
#include "gateway/config/config.h"
#include "tests/support/pki.h"
#include "tests/support/temp_dir.h"

namespace agni {
namespace {

class Folder : public testing::TempDir {
 public:
  Folder() {
    Write("policy.json",
          R"({"rules":[{"id":"a","effect":"allow","groups":["support"]}]})");
  }
  ConfigLoad Load(const nlohmann::json& syslog) const {
    nlohmann::json config = {
        {"audit", {{"path", "audit.db"}, {"syslog", syslog}}},
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

TEST(SyslogConfigTest, DefaultsAndFilesRelativeToTheConfigFolder) {
  testing::Pki pki;
  Folder dir;
  dir.Write("siem-ca.pem", testing::ReadFile(pki.File("ca.pem")));
  ConfigLoad load = dir.Load(
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

  ConfigLoad v6 = dir.Load({{"address", "[::1]:10514"},
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

  ConfigLoad none = dir.Load(nullptr);
  EXPECT_FALSE(none.errors.empty());  // null is not an object
}

TEST(SyslogConfigTest, EveryMistakeIsReportedWithItsPath) {
  testing::Pki pki;
  Folder dir;
  dir.Write("ca.pem", testing::ReadFile(pki.File("ca.pem")));
  dir.Write("not-a-cert.pem", "hello");

  ConfigLoad missing = dir.Load(nlohmann::json::object());
  EXPECT_NE(ErrorAt(missing, "$.audit.syslog.address"), "");
  EXPECT_NE(ErrorAt(missing, "$.audit.syslog.ca_file"), "");

  for (const char* bad : {"siem.example.com", "siem:0", "siem:65536", ":6514",
                          "::1:6514", "siem:65a", "a b:6514"}) {
    ConfigLoad load = dir.Load({{"address", bad}, {"ca_file", "ca.pem"}});
    EXPECT_NE(ErrorAt(load, "$.audit.syslog.address"), "") << bad;
  }

  ConfigLoad plain = dir.Load(
      {{"address", "siem:514"}, {"ca_file", "ca.pem"}, {"tls", false}});
  EXPECT_NE(ErrorAt(plain, "$.audit.syslog.tls"), "");  // no such setting

  ConfigLoad unreadable =
      dir.Load({{"address", "siem:6514"}, {"ca_file", "not-a-cert.pem"}});
  EXPECT_NE(ErrorAt(unreadable, "$.audit.syslog.ca_file"), "");
  ConfigLoad absent =
      dir.Load({{"address", "siem:6514"}, {"ca_file", "absent.pem"}});
  EXPECT_NE(ErrorAt(absent, "$.audit.syslog.ca_file").find("absent.pem"),
            std::string::npos);

  ConfigLoad half = dir.Load({{"address", "siem:6514"},
                              {"ca_file", "ca.pem"},
                              {"client_cert_file", "ca.pem"}});
  EXPECT_NE(ErrorAt(half, "$.audit.syslog.client_key_file"), "");

  pki.Issue("client", "/CN=gw", "");
  ConfigLoad mismatched =
      dir.Load({{"address", "siem:6514"},
                {"ca_file", "ca.pem"},
                {"client_cert_file", pki.File("client.pem")},
                {"client_key_file", pki.File("ca.key")}});
  EXPECT_NE(ErrorAt(mismatched, "$.audit.syslog.client_cert_file"), "");
  ConfigLoad matched = dir.Load({{"address", "siem:6514"},
                                 {"ca_file", "ca.pem"},
                                 {"client_cert_file", pki.File("client.pem")},
                                 {"client_key_file", pki.File("client.key")}});
  EXPECT_TRUE(matched.errors.empty());

  for (const std::string& name :
       {std::string(""), std::string("agni gateway"), std::string(49, 'a')}) {
    ConfigLoad load = dir.Load(
        {{"address", "siem:6514"}, {"ca_file", "ca.pem"}, {"app_name", name}});
    EXPECT_NE(ErrorAt(load, "$.audit.syslog.app_name"), "") << name;
  }
  ConfigLoad queue =
      dir.Load({{"address", "siem:6514"}, {"ca_file", "ca.pem"}, {"queue", 0}});
  EXPECT_NE(ErrorAt(queue, "$.audit.syslog.queue"), "");
  ConfigLoad state = dir.Load({{"address", "siem:6514"},
                               {"ca_file", "ca.pem"},
                               {"state_file", "no/such/dir/state"}});
  EXPECT_NE(ErrorAt(state, "$.audit.syslog.state_file"), "");
}

}  // namespace
}  // namespace agni
