// The real agni-gateway binary with audit.syslog pointing at a real rsyslog:
// the peer stops while releases go on and starts again, then the gateway
// restarts. Every release succeeds and every record arrives; none twice but
// the records of the session in flight at the instant the peer stopped.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/fake_upstream.h"
#include "tests/support/helpers.h"
#include "tests/support/pki.h"
#include "tests/support/process.h"
#include "tests/syslog/rsyslog_server.h"
#include "tests/syslog/syslog_checks.h"

namespace agni::testing {
namespace {

using namespace std::chrono_literals;

std::int64_t HeadSeq(const GatewayProcess& gw) {
  const std::vector<nlohmann::json> rows = gw.AuditRows();
  return rows.empty() ? 0 : rows.back()["seq"].get<std::int64_t>();
}

bool WaitShipped(const GatewayProcess& gw, std::int64_t seq) {
  return WaitFor(
      [&] {
        return gw.Metric("agni_gateway_audit_shipped_seq").value_or(-1) ==
               static_cast<double>(seq);
      },
      60s);
}

// Each message's MSG is the record as `audit export --format jsonl` writes
// it, whether the sink had it in memory or read it back.
void ExpectExportForm(const RsyslogServer& peer, const std::string& db_path) {
  std::map<std::int64_t, std::string> lines;
  for (const std::string& line : ExportLines(db_path)) {
    lines[nlohmann::json::parse(line)["seq"].get<std::int64_t>()] = line;
  }
  for (const std::string& m : peer.Messages()) {
    EXPECT_EQ(MessageBody(m), lines[*MessageSeq(m)]);
  }
}

// Releases one number after another on a thread of its own until stopped.
class ReleaseLoop {
 public:
  ReleaseLoop(const GatewayProcess& gw, std::string token)
      : thread_([this, &gw, token] {
          httplib::Client c = gw.Client();
          for (int i = 0; i < 20000 && !stop_; ++i) {
            auto r = c.Delete(ReleasePath(Numbered("+1555", 1000000 + i)),
                              Bearer(token));
            std::lock_guard lock(mu_);
            ++statuses_[r ? r->status : -1];
            ++done_;
          }
        }) {}
  ~ReleaseLoop() { Stop(); }
  int done() const { return done_; }
  // Waits until `n` more releases have been answered.
  bool WaitMore(int n) {
    const int target = done_ + n;
    return WaitFor([&] { return done_ >= target; }, 60s);
  }
  std::map<int, int> Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mu_);
    return statuses_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> done_{0};
  std::mutex mu_;
  std::map<int, int> statuses_;
  std::thread thread_;
};

// A PKI, an rsyslog peer with a certificate from it, and an upstream, for a
// gateway that ships its audit records to that peer.
class SyslogGatewayTest : public ::testing::Test {
 protected:
  // A gateway in front of upstream_ whose audit.syslog points at peer_,
  // trusting the PKI's CA, with the `extra` audit.syslog keys.
  GatewayProcess::Options ShippingToPeer(
      const nlohmann::json& extra = nlohmann::json::object()) const {
    nlohmann::json syslog = {{"address", peer_.address()},
                             {"ca_file", pki_.File("ca.pem")}};
    syslog.update(extra);
    return {.config = {
                .upstream_base_url = upstream_.url(),
                .patch = {{"audit", {{"syslog", syslog}}}},
            }};
  }

  Pki pki_;
  RsyslogServer peer_{{.cert_file = pki_.File("server.pem"),
                       .key_file = pki_.File("server.key"),
                       .ca_file = pki_.File("ca.pem")}};
  FakeUpstream upstream_;
};

TEST_F(SyslogGatewayTest, ThePeerRestartsWhileReleasesGoOnAndNothingIsLost) {
  GatewayProcess gw(ShippingToPeer());
  WarmUpHttpClient(gw.admin_port());
  std::map<int, int> statuses;
  std::int64_t shipped_before_stop = 0;
  std::int64_t head_at_stop = 0;
  {
    ReleaseLoop releases(gw, gw.alice().token);
    ASSERT_TRUE(releases.WaitMore(20));
    shipped_before_stop = static_cast<std::int64_t>(
        gw.Metric("agni_gateway_audit_shipped_seq").value_or(0));
    peer_.Stop();
    head_at_stop = HeadSeq(gw);
    ASSERT_TRUE(releases.WaitMore(40));  // while the peer is away
    peer_.Start();
    ASSERT_TRUE(releases.WaitMore(40));
    statuses = releases.Stop();
  }
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses.begin()->first, 200) << "a release failed";
  const std::int64_t head = HeadSeq(gw);
  ASSERT_GE(head, 200);  // intent + outcome of at least 100 releases
  ASSERT_TRUE(WaitShipped(gw, head)) << gw.Log();
  ExpectEachOnce(peer_, head, shipped_before_stop, head_at_stop);
  ExpectExportForm(peer_, gw.audit_path());
  EXPECT_GE(gw.Metric("agni_gateway_audit_ship_failures_total").value_or(0), 1);

  // A restarted gateway ships only what is new.
  ASSERT_EQ(gw.Stop(), 0);
  GatewayProcess again({.config_file = gw.config_file()});
  {
    ReleaseLoop releases(again, gw.alice().token);
    ASSERT_TRUE(releases.WaitMore(10));
    statuses = releases.Stop();
  }
  EXPECT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses.begin()->first, 200);
  const std::int64_t new_head = HeadSeq(again);
  ASSERT_GT(new_head, head);
  ASSERT_TRUE(WaitShipped(again, new_head)) << again.Log();
  // The restart itself sends nothing twice.
  ExpectEachOnce(peer_, new_head, shipped_before_stop, head_at_stop);
}

TEST_F(SyslogGatewayTest, ATrickleOfReleasesSharesOneConnection) {
  // Long enough that no pause between two releases ends the session.
  GatewayProcess gw(
      ShippingToPeer({{"idle_timeout", "10m"}, {"confirm_interval", "10m"}}));
  httplib::Client c = gw.Client();
  for (int i = 0; i < 8; ++i) {
    auto r = c.Delete(ReleasePath(Numbered("+1555", 2000000 + i)),
                      Bearer(gw.alice().token));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    std::this_thread::sleep_for(100ms);  // a trickle, not a burst
  }
  const std::int64_t head = HeadSeq(gw);
  ASSERT_GE(head, 16);
  ASSERT_TRUE(WaitFor(
      [&] { return SeqCounts(peer_.Messages()).size() == std::size_t(head); },
      60s))
      << gw.Log();
  EXPECT_EQ(gw.Metric("agni_gateway_audit_ship_connections_total"),
            std::optional<double>(1));
  EXPECT_EQ(gw.Metric("agni_gateway_audit_ship_failures_total"),
            std::optional<double>(0));
  // A clean stop closes that one session and records what the peer took.
  ASSERT_EQ(gw.Stop(), 0);
  EXPECT_EQ(ReadFile(gw.audit_path() + ".syslog"), std::to_string(head) + "\n");
  ExpectEachOnce(peer_, head);
}

}  // namespace
}  // namespace agni::testing
