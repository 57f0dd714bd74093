// Metrics as Prometheus itself sees them: `promtool check metrics` on a live
// scrape of the real binary, and a real Prometheus server (started here on
// loopback with a generated config, the repo's alert rules loaded) scraping
// the admin listener; the test reads the server's HTTP query API.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include "tests/ops/ops_gateway.h"

namespace agni::testing {
namespace {

using namespace std::chrono_literals;

// DESIGN.md §8: every family, with HELP text.
const char* const kFamilies[] = {
    "agni_gateway_requests_total",
    "agni_gateway_request_duration_seconds",
    "agni_gateway_policy_decisions_total",
    "agni_gateway_upstream_requests_total",
    "agni_gateway_upstream_request_duration_seconds",
    "agni_gateway_approvals_pending",
    "agni_gateway_approvals_total",
    "agni_gateway_rate_limited_total",
    "agni_gateway_audit_records_total",
    "agni_gateway_audit_write_failures_total",
    "agni_gateway_audit_commit_duration_seconds",
    "agni_gateway_audit_queue_depth",
    "agni_gateway_config_reloads_total",
    "agni_gateway_build_info",
};

// Drives the gateway: 2 releases (200), 1 policy denial (403), 1 request
// without credentials (401), 1 good reload and 1 rejected reload.
void CauseTraffic(GatewayProcess& gw) {
  const httplib::Headers alice = {
      {"Authorization", "Bearer " + gw.alice().token}};
  const httplib::Headers olga = {
      {"Authorization", "Bearer " + gw.olga().token}};
  for (const char* n : {"+15551110001", "+15551110002"}) {
    auto r = gw.Client().Delete(ReleasePath(n), alice);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  auto denied = gw.Client().Delete(ReleasePath("+19115550100"), olga);
  ASSERT_TRUE(denied);
  ASSERT_EQ(denied->status, 403);
  auto anon = gw.Client().Delete(ReleasePath("+15551110003"));
  ASSERT_TRUE(anon);
  ASSERT_EQ(anon->status, 401);

  auto reloads = [&](const char* result) {
    auto m = gw.AdminClient().Get("/metrics");
    return m ? MetricValue(
                   m->body,
                   std::string("agni_gateway_config_reloads_total{result=\"") +
                       result + "\"}")
             : std::nullopt;
  };
  gw.process().Signal(SIGHUP);
  ASSERT_TRUE(WaitFor([&] { return reloads("success") == 1.0; }, 10s));
  const nlohmann::json good = gw.config();
  nlohmann::json bad = good;
  bad["colour"] = "blue";  // unknown key: the reload is rejected
  gw.WriteConfig(bad);
  gw.process().Signal(SIGHUP);
  ASSERT_TRUE(WaitFor([&] { return reloads("failure") == 1.0; }, 10s));
  gw.WriteConfig(good);
}

TEST(PrometheusTest, PromtoolCheckMetricsIsCleanOnALiveScrape) {
  FakeUpstream upstream;
  GatewayProcess gw(OpsGateway({.upstream_base_url = upstream.url()}));
  CauseTraffic(gw);
  auto scrape = gw.AdminClient().Get("/metrics");
  ASSERT_TRUE(scrape);
  ASSERT_EQ(scrape->status, 200);
  const std::string& text = scrape->body;
  for (const char* family : kFamilies) {
    EXPECT_NE(text.find(std::string("# HELP ") + family + " "),
              std::string::npos)
        << family;
    EXPECT_NE(text.find(std::string("# TYPE ") + family + " "),
              std::string::npos)
        << family;
  }
  EXPECT_EQ(
      MetricValue(text,
                  R"(agni_gateway_requests_total{code="200",route="release"})"),
      2.0);
  EXPECT_EQ(
      MetricValue(text,
                  R"(agni_gateway_requests_total{code="401",route="release"})"),
      1.0);
  EXPECT_EQ(MetricValue(text, R"(agni_gateway_approvals_pending)"), 0.0);
  EXPECT_EQ(
      MetricValue(text, R"(agni_gateway_approvals_total{event="created"})"),
      0.0);
  EXPECT_EQ(
      MetricValue(
          text, R"(agni_gateway_rate_limited_total{limit="per-user-hourly"})"),
      0.0);
  EXPECT_EQ(MetricValue(text, R"(agni_gateway_build_info{commit=")" AGNI_COMMIT
                              R"(",version=")" AGNI_VERSION "\"}"),
            1.0);
  // No secret or phone number in any series.
  EXPECT_EQ(text.find(gw.alice().token), std::string::npos);
  EXPECT_EQ(text.find(kApiKey), std::string::npos);
  EXPECT_EQ(text.find("555111"), std::string::npos);

  gw.dir().Write("scrape.txt", text);
  const CommandResult check =
      RunCommand({"bash", "-c", "promtool check metrics < \"$0\"",
                  gw.dir().File("scrape.txt")},
                 30s);
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_EQ(check.output, "") << "promtool lint findings:\n" << check.output;
}

// The value of an instant query that returns exactly one sample.
std::optional<double> Query(int port, const std::string& promql) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(5, 0);
  auto r = c.Get("/api/v1/query", httplib::Params{{"query", promql}},
                 httplib::Headers{});
  if (!r || r->status != 200) return std::nullopt;
  const auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded() || j.value("status", "") != "success")
    return std::nullopt;
  const auto& result = j["data"]["result"];
  if (!result.is_array() || result.size() != 1) return std::nullopt;
  return std::stod(result[0]["value"][1].get<std::string>());
}

TEST(PrometheusTest, RealServerScrapesTheAdminListener) {
  FakeUpstream upstream;
  GatewayProcess gw(OpsGateway({.upstream_base_url = upstream.url()}));
  CauseTraffic(gw);

  TempDir prom;
  const std::string alerts =
      std::string(AGNI_SOURCE_DIR) + "/deploy/prometheus/alerts.yml";
  ASSERT_TRUE(std::ifstream(alerts).good()) << "missing " << alerts;
  prom.Write(
      "prometheus.yml",
      "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      "rule_files:\n  - " +
          alerts +
          "\n"
          "scrape_configs:\n  - job_name: agni-gateway\n    static_configs:\n"
          "      - targets: ['127.0.0.1:" +
          std::to_string(gw.admin_port()) + "']\n");
  const int port = FreePort();
  Process server(
      {.argv = {"prometheus", "--config.file=" + prom.File("prometheus.yml"),
                "--storage.tsdb.path=" + prom.File("data"),
                "--web.listen-address=127.0.0.1:" + std::to_string(port),
                "--log.level=warn"},
       .log_file = prom.File("prometheus.log")});
  ASSERT_TRUE(WaitFor(
      [&] {
        httplib::Client c("127.0.0.1", port);
        auto r = c.Get("/-/ready");
        return r && r->status == 200;
      },
      30s))
      << server.Log();

  auto expect = [&](const std::string& promql, double want) {
    std::optional<double> got;
    const bool ok = WaitFor(
        [&] {
          got = Query(port, promql);
          return got == want;
        },
        20s);
    EXPECT_TRUE(ok) << promql << " = " << (got ? std::to_string(*got) : "none")
                    << ", want " << want << "\n"
                    << server.Log();
  };
  expect(R"(up{job="agni-gateway"})", 1);
  expect(R"(agni_gateway_requests_total{route="release",code="200"})", 2);
  expect(R"(agni_gateway_requests_total{route="release",code="403"})", 1);
  expect(R"(agni_gateway_requests_total{route="release",code="401"})", 1);
  expect(
      R"(agni_gateway_policy_decisions_total{decision="deny",mode="enforce"})",
      1);
  expect(R"(agni_gateway_upstream_requests_total{outcome="success"})", 2);
  expect(R"(agni_gateway_upstream_request_duration_seconds_count)", 2);
  expect(R"(agni_gateway_audit_records_total{stage="outcome"})", 2);
  expect(R"(agni_gateway_config_reloads_total{result="success"})", 1);
  expect(R"(agni_gateway_config_reloads_total{result="failure"})", 1);
  expect(R"(agni_gateway_audit_write_failures_total)", 0);
  expect(R"(agni_gateway_build_info{version=")" AGNI_VERSION "\"}", 1);

  // The repo's alert rules loaded and evaluate without errors.
  httplib::Client c("127.0.0.1", port);
  auto rules = c.Get("/api/v1/rules");
  ASSERT_TRUE(rules);
  const auto j = nlohmann::json::parse(rules->body);
  int healthy = 0;
  EXPECT_TRUE(WaitFor(
      [&] {
        healthy = 0;
        auto r = c.Get("/api/v1/rules");
        if (!r) return false;
        const auto doc = nlohmann::json::parse(r->body, nullptr, false);
        if (doc.is_discarded()) return false;
        for (const auto& g : doc["data"]["groups"]) {
          for (const auto& rule : g["rules"]) {
            if (rule.value("health", "") == "ok") ++healthy;
          }
        }
        return healthy == 11;  // every rule of alerts.yml
      },
      10s))
      << healthy << " healthy rules\n"
      << j.dump();
  server.Signal(SIGTERM);
  server.Wait(10s);
}

}  // namespace
}  // namespace agni::testing
