// The real agni-gateway binary with audit.syslog pointing at a real rsyslog:
// the peer stops while releases go on and starts again, then the gateway
// restarts. Every release succeeds, every record arrives, none twice.
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

void ExpectEachOnce(const RsyslogServer& peer, std::int64_t last) {
  const std::map<std::int64_t, int> counts = SeqCounts(peer.Messages());
  EXPECT_EQ(counts.size(), static_cast<std::size_t>(last));
  for (std::int64_t seq = 1; seq <= last; ++seq) {
    auto it = counts.find(seq);
    ASSERT_NE(it, counts.end()) << "seq " << seq << " never arrived";
    EXPECT_EQ(it->second, 1) << "seq " << seq << " arrived more than once";
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

TEST(SyslogGatewayTest, ThePeerRestartsWhileReleasesGoOnAndNothingIsLost) {
  Pki pki;
  RsyslogServer peer({.cert_file = pki.File("server.pem"),
                      .key_file = pki.File("server.key"),
                      .ca_file = pki.File("ca.pem")});
  FakeUpstream upstream;
  GatewayProcess gw({.config = {
                         .upstream_base_url = upstream.url(),
                         .patch = {{"audit",
                                    {{"syslog",
                                      {{"address", peer.address()},
                                       {"ca_file", pki.File("ca.pem")}}}}}},
                     }});
  WarmUpHttpClient(gw.admin_port());
  std::map<int, int> statuses;
  {
    ReleaseLoop releases(gw, gw.alice().token);
    ASSERT_TRUE(releases.WaitMore(20));
    peer.Stop();
    ASSERT_TRUE(releases.WaitMore(40));  // while the peer is away
    peer.Start();
    ASSERT_TRUE(releases.WaitMore(40));
    statuses = releases.Stop();
  }
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses.begin()->first, 200) << "a release failed";
  const std::int64_t head = HeadSeq(gw);
  ASSERT_GE(head, 200);  // intent + outcome of at least 100 releases
  ASSERT_TRUE(WaitShipped(gw, head)) << gw.Log();
  ExpectEachOnce(peer, head);
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
  ExpectEachOnce(peer, new_head);
}

}  // namespace
}  // namespace agni::testing
