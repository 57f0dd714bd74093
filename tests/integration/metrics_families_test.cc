// The metric methods other parts of the gateway call (approvals, velocity
// limits, reloads) and their bounded label values.
#include <gtest/gtest.h>

#include "gateway/metrics.h"
#include "tests/integration/test_support.h"

namespace agni::testing {
namespace {

TEST(MetricsFamiliesTest, ApprovalsRateLimitsAndReloadsCountWithBoundedLabels) {
  Metrics m;
  m.SetApprovalsPending(3);
  m.CountApproval("requested");
  m.CountApproval("requested");
  m.CountApproval("approved");
  m.CountApproval("+15551234567");  // never a label value
  m.CountRateLimited("user");
  m.CountRateLimited("alice");
  m.CountConfigReload("success");
  m.CountConfigReload("failure");
  m.CountConfigReload("anything else");
  const std::string text = m.Serialize();
  EXPECT_EQ(MetricValue(text, "agni_gateway_approvals_pending"), 3.0);
  EXPECT_EQ(MetricValue(text, R"(agni_gateway_approvals_total{event="requested"})"), 2.0);
  EXPECT_EQ(MetricValue(text, R"(agni_gateway_approvals_total{event="approved"})"), 1.0);
  EXPECT_EQ(MetricValue(text, R"(agni_gateway_approvals_total{event="expired"})"), 0.0);
  EXPECT_EQ(MetricValue(text, R"(agni_gateway_approvals_total{event="other"})"), 1.0);
  EXPECT_EQ(MetricValue(text, R"(agni_gateway_rate_limited_total{limit="user"})"), 1.0);
  EXPECT_EQ(MetricValue(text, R"(agni_gateway_rate_limited_total{limit="global"})"), 0.0);
  EXPECT_EQ(MetricValue(text, R"(agni_gateway_rate_limited_total{limit="other"})"), 1.0);
  EXPECT_EQ(MetricValue(text, R"(agni_gateway_config_reloads_total{result="success"})"), 1.0);
  EXPECT_EQ(MetricValue(text, R"(agni_gateway_config_reloads_total{result="failure"})"), 2.0);
  EXPECT_EQ(text.find("15551234567"), std::string::npos);
  EXPECT_EQ(text.find("alice"), std::string::npos);
}

}  // namespace
}  // namespace agni::testing
