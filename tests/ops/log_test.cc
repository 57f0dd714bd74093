// Logs: one JSON object per line on stderr, with the request fields; levels
// configurable; never a token or key; phone numbers masked.
#include "gateway/ops/log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

#include "tests/ops/ops_gateway.h"

namespace agni::testing {
namespace {

// Polls the gateway's log lines into `lines` until `done` holds for them
// (5 s at most); false when it never does.
bool WaitForLogLines(
    const GatewayProcess& gw,
    const std::function<bool(const std::vector<nlohmann::json>&)>& done,
    std::vector<nlohmann::json>& lines) {
  return WaitFor(
      [&] {
        lines = gw.LogLines();
        return done(lines);
      },
      std::chrono::seconds(5));
}

TEST(LogTest, MasksPhoneNumbers) {
  EXPECT_EQ(MaskPhoneNumbers("+15551234567"), "+1555*****67");
  EXPECT_EQ(MaskPhoneNumbers("/api/v1/phone-numbers/%2B447700900123/release/"),
            "/api/v1/phone-numbers/%2B4477******23/release/");
  EXPECT_EQ(MaskPhoneNumbers("retry in +5 s"), "retry in +5 s");
}

TEST(LogTest, RedactsCredentialFieldsAndFiltersLevels) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  Logger log(LogLevel::kWarn, f);
  log.Info("hidden", {{"x", 1}});
  log.Warn("visible",
           {{"token", "agt_secret"},
            {"nested", {{"api_key", "k-123"}, {"to", "+15551234567"}}}});
  std::rewind(f);
  char buf[4096] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  const std::string out(buf, n);
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["message"], "visible");
  EXPECT_EQ(j["token"], "[redacted]");
  EXPECT_EQ(j["nested"]["api_key"], "[redacted]");
  EXPECT_EQ(j["nested"]["to"], "+1555*****67");
  EXPECT_TRUE(j.contains("time"));
}

TEST(LogTest, BinaryWritesOneJsonObjectPerRequestWithoutSecrets) {
  FakeUpstream upstream;
  GatewayProcess gw(OpsGateway({.upstream_base_url = upstream.url()}));
  auto ok = gw.Client().Delete(ReleasePath("+15551230001"),
                               {{"Authorization", "Bearer " + gw.alice().token},
                                {"X-Request-Id", "req-log-1"}});
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200);
  const std::string bogus = "agt_not_a_real_token_but_secret";
  auto bad = gw.Client().Delete(
      ReleasePath("%2B15551230002"),
      {{"Authorization", "Bearer " + bogus}, {"X-Request-Id", "req-log-2"}});
  ASSERT_TRUE(bad);
  ASSERT_EQ(bad->status, 401);

  std::vector<nlohmann::json> lines;
  const auto two_requests = [](const std::vector<nlohmann::json>& ls) {
    return std::count_if(ls.begin(), ls.end(), [](const nlohmann::json& l) {
             return l.value("message", "") == "request";
           }) == 2;
  };
  ASSERT_TRUE(WaitForLogLines(gw, two_requests, lines)) << gw.process().Log();
  for (const auto& l : lines) {
    EXPECT_FALSE(l.contains("unparsed")) << l.dump();
    EXPECT_TRUE(l.contains("time") && l.contains("level") &&
                l.contains("message"))
        << l.dump();
  }
  std::map<std::string, nlohmann::json> by_id;
  for (const auto& l : lines) {
    if (l.value("message", "") == "request")
      by_id[l.value("request_id", "")] = l;
  }
  ASSERT_TRUE(by_id.contains("req-log-1") && by_id.contains("req-log-2"));
  const auto& first = by_id["req-log-1"];
  EXPECT_EQ(first["route"], "release");
  EXPECT_EQ(first["status"], 200);
  EXPECT_EQ(first["reason"], "");
  EXPECT_EQ(first["user"], "alice");
  EXPECT_TRUE(first["duration"].is_number());
  EXPECT_GT(first["duration"].get<double>(), 0.0);
  const auto& second = by_id["req-log-2"];
  EXPECT_EQ(second["status"], 401);
  EXPECT_EQ(second["reason"], "unauthenticated");

  const std::string text = gw.process().Log();
  EXPECT_EQ(text.find(gw.alice().token), std::string::npos);
  EXPECT_EQ(text.find(bogus), std::string::npos);
  EXPECT_EQ(text.find(kApiKey), std::string::npos);
  EXPECT_EQ(text.find("15551230001"), std::string::npos);
  EXPECT_EQ(text.find("15551230002"), std::string::npos);
}

TEST(LogTest, LogLevelWarnDropsInfoLines) {
  FakeUpstream upstream;
  const int port = FreePort(), admin = FreePort();
  GatewayProcess gw(OpsGateway(
      {.upstream_base_url = upstream.url(),
       .extra_config = {{"listen", "127.0.0.1:" + std::to_string(port)},
                        {"admin_listen", "127.0.0.1:" + std::to_string(admin)}},
       .log_level = "warn"}));
  auto ok = gw.Client().Get("/v1/whoami", Bearer(gw.alice().token));
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200);
  FakeUpstream::Reply failing;
  failing.status = 500;
  failing.body = R"({"success":false,"message":"boom"})";
  upstream.SetReply(failing);
  auto err =
      gw.Client().Delete(ReleasePath("+15551230003"), Bearer(gw.alice().token));
  ASSERT_TRUE(err);
  ASSERT_EQ(err->status, 500);
  std::vector<nlohmann::json> lines;
  ASSERT_TRUE(WaitForLogLines(
      gw, [](const std::vector<nlohmann::json>& ls) { return !ls.empty(); },
      lines));
  for (const auto& l : lines)
    EXPECT_NE(l.value("level", ""), "info") << l.dump();
  ASSERT_EQ(lines.size(), 1u) << gw.process().Log();
  EXPECT_EQ(lines[0]["level"], "warn");
  EXPECT_EQ(lines[0]["status"], 500);
}

}  // namespace
}  // namespace agni::testing
