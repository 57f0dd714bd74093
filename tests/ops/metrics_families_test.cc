// The metric methods other parts of the gateway call (approvals, velocity
// limits, reloads) and their bounded label values.
#include <gtest/gtest.h>

#include "gateway/ops/metrics.h"
#include "tests/support/test_support.h"

namespace agni::testing {
namespace {

TEST(MetricsFamiliesTest, ApprovalsRateLimitsAndReloadsCountWithBoundedLabels) {
  Metrics m;
  m.SetApprovalsPending(3);
  m.CountApprovalEvent("created");
  m.CountApprovalEvent("created");
  m.CountApprovalEvent("approved");
  m.CountApprovalEvent("+15551234567");  // never a label value
  policy::Policy p;
  p.limits.push_back({});
  p.limits.back().id = "per-user-hourly";
  p.limits.push_back({});
  p.limits.back().id = "global-daily";
  m.DeclareRateLimits(p);
  m.CountRateLimited("per-user-hourly");
  m.CountConfigReload("success");
  m.CountConfigReload("failure");
  m.CountConfigReload("anything else");
  const std::string text = m.Serialize();
  EXPECT_EQ(MetricValue(text, "agni_gateway_approvals_pending"), 3.0);
  EXPECT_EQ(
      MetricValue(text, R"(agni_gateway_approvals_total{event="created"})"),
      2.0);
  EXPECT_EQ(
      MetricValue(text, R"(agni_gateway_approvals_total{event="approved"})"),
      1.0);
  EXPECT_EQ(
      MetricValue(text, R"(agni_gateway_approvals_total{event="expired"})"),
      0.0);
  EXPECT_EQ(MetricValue(text, R"(agni_gateway_approvals_total{event="other"})"),
            1.0);
  EXPECT_EQ(
      MetricValue(
          text, R"(agni_gateway_rate_limited_total{limit="per-user-hourly"})"),
      1.0);
  EXPECT_EQ(
      MetricValue(text,
                  R"(agni_gateway_rate_limited_total{limit="global-daily"})"),
      0.0);
  EXPECT_EQ(MetricValue(
                text, R"(agni_gateway_config_reloads_total{result="success"})"),
            1.0);
  EXPECT_EQ(MetricValue(
                text, R"(agni_gateway_config_reloads_total{result="failure"})"),
            2.0);
  EXPECT_EQ(text.find("15551234567"), std::string::npos);
}

}  // namespace
}  // namespace agni::testing
