// The syslog sink against a real rsyslog over TLS: every committed record
// arrives exactly once, in the export's form, across a peer restart, a sink
// restart and a queue too small to hold them; an untrusted peer gets nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "audit/ship/syslog_sink.h"
#include "audit/store.h"
#include "tests/support/helpers.h"
#include "tests/support/pki.h"
#include "tests/support/temp_dir.h"
#include "tests/syslog/rsyslog_server.h"
#include "tests/syslog/syslog_checks.h"

namespace agni::testing {
namespace {

using namespace std::chrono_literals;

audit::Record Decision(int i) {
  audit::Record r;
  r.stage = audit::Stage::kDecision;
  r.request_id = Numbered("req-", i);
  r.principal = "alice";
  r.decision = "deny";
  r.rule_id = "never-emergency";
  // Characters RFC 5424 escapes in structured data travel in the MSG as is.
  r.detail = "a \"quoted\" ] \\ detail";
  return r;
}

// A database, a sink on it, and the store feeding the sink.
class Shipping {
 public:
  Shipping(const TempDir& dir, audit::SyslogOptions options)
      : db_(dir.File("audit.db")) {
    options.state_file = db_ + ".syslog";
    options.initial_backoff = 20ms;
    options.max_backoff = 200ms;
    sink_ = std::make_unique<audit::SyslogSink>(
        options, audit::SyslogHooks{
                     .failed = [this] { ++failures; },
                     .log =
                         [](std::string_view level, std::string_view message,
                            const std::string& detail) {
                           std::fprintf(stderr, "sink %.*s: %.*s (%s)\n",
                                        static_cast<int>(level.size()),
                                        level.data(),
                                        static_cast<int>(message.size()),
                                        message.data(), detail.c_str());
                         }});
    observer_ = std::make_unique<audit::ShippingObserver>(nullptr, *sink_);
    store_ = std::make_unique<audit::AuditStore>(audit::StoreOptions{db_},
                                                 observer_.get());
  }
  ~Shipping() {
    store_.reset();
    sink_->Stop();
  }
  void Start() { sink_->Start(db_); }
  // Appends `n` records from `threads` threads at once.
  void Append(int n, int threads = 1) {
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([this, n, t, threads] {
        for (int i = t; i < n; i += threads) {
          EXPECT_TRUE(store_->Append(Decision(i)).ok);
        }
      });
    }
    for (std::thread& w : workers) w.join();
  }
  bool WaitShipped(std::int64_t seq) {
    return WaitFor([&] { return sink_->shipped_seq() >= seq; }, 60s);
  }
  audit::SyslogSink& sink() { return *sink_; }
  const std::string& db() const { return db_; }
  std::atomic<int> failures{0};

 private:
  std::string db_;
  std::unique_ptr<audit::SyslogSink> sink_;
  std::unique_ptr<audit::ShippingObserver> observer_;
  std::unique_ptr<audit::AuditStore> store_;
};

audit::SyslogOptions To(const RsyslogServer& peer, const Pki& pki) {
  audit::SyslogOptions o;
  o.address = peer.address();
  o.tls.host = "127.0.0.1";
  o.tls.port = peer.port();
  o.tls.ca_file = pki.File("ca.pem");
  return o;
}

RsyslogServer::Options PeerWith(const Pki& pki) {
  return {.cert_file = pki.File("server.pem"),
          .key_file = pki.File("server.key"),
          .ca_file = pki.File("ca.pem")};
}

TEST(SyslogSinkTest, ABacklogAndNewRecordsArriveOnceWithAQueueOfOne) {
  Pki pki;
  RsyslogServer peer(PeerWith(pki));
  TempDir dir;
  audit::SyslogOptions options = To(peer, pki);
  options.queue = 1;  // nearly every record is read back from the database
  options.batch_records = 7;
  Shipping s(dir, options);
  s.Append(20);  // before the sink starts: the backlog
  s.Start();
  s.Append(80, 4);
  ASSERT_TRUE(s.WaitShipped(100)) << peer.Log();
  ExpectEachOnce(peer, 100);

  // Each message is RFC 5424 with the record as the export writes it.
  const std::vector<std::string> exported = ExportLines(s.db());
  ASSERT_EQ(exported.size(), 100u);
  for (const std::string& m : peer.Messages()) {
    const std::int64_t seq = *MessageSeq(m);
    EXPECT_TRUE(m.starts_with("<110>1 ")) << m;
    EXPECT_NE(m.find(" agni-gateway "), std::string::npos) << m;
    EXPECT_NE(m.find(" audit [agni@32473 seq=\""), std::string::npos) << m;
    const nlohmann::json body = nlohmann::json::parse(MessageBody(m));
    EXPECT_NE(
        m.find(std::string("hash=\"") + body["hash"].get<std::string>() + "\""),
        std::string::npos);
    EXPECT_EQ(MessageBody(m), exported[static_cast<std::size_t>(seq - 1)]);
  }
  EXPECT_EQ(ReadFile(s.db() + ".syslog"), "100\n");
}

TEST(SyslogSinkTest, APeerRestartLosesNothingAndDuplicatesNothing) {
  Pki pki;
  RsyslogServer peer(PeerWith(pki));
  TempDir dir;
  Shipping s(dir, To(peer, pki));
  s.Start();
  s.Append(30);
  ASSERT_TRUE(s.WaitShipped(30)) << peer.Log();

  peer.Stop();
  s.Append(30);  // committed while the peer is away
  ASSERT_TRUE(WaitFor([&] { return s.failures > 0; }, 30s));
  EXPECT_EQ(s.sink().shipped_seq(), 30);

  peer.Start();
  s.Append(30);
  ASSERT_TRUE(s.WaitShipped(90)) << peer.Log();
  ExpectEachOnce(peer, 90);
}

TEST(SyslogSinkTest, AnIdleConnectionClosedByThePeerCountsAsTaken) {
  Pki pki;
  RsyslogServer peer(PeerWith(pki));
  TempDir dir;
  audit::SyslogOptions options = To(peer, pki);
  options.idle_timeout = 10min;  // the session stays open, caught up
  options.confirm_interval = 1h;
  Shipping s(dir, options);
  s.Start();
  s.Append(12);
  ASSERT_TRUE(WaitFor([&] { return peer.Messages().size() == 12; }, 30s))
      << peer.Log();
  EXPECT_EQ(s.sink().shipped_seq(), 0);  // not proven while open

  // rsyslog stops with nothing unread: it closed cleanly, so it took all.
  peer.Stop();
  ASSERT_TRUE(s.WaitShipped(12));
  EXPECT_EQ(s.failures, 0);
  peer.Start();
  s.Append(5);
  ASSERT_TRUE(WaitFor([&] { return peer.Messages().size() == 17; }, 30s))
      << peer.Log();
  s.sink().Stop();  // closes the session and learns the peer took it
  EXPECT_EQ(s.sink().shipped_seq(), 17);
  ExpectEachOnce(peer, 17);
}

TEST(SyslogSinkTest, ARestartedSinkResumesAfterTheLastRecordThePeerTook) {
  Pki pki;
  RsyslogServer peer(PeerWith(pki));
  TempDir dir;
  {
    Shipping first(dir, To(peer, pki));
    first.Start();
    first.Append(10);
    ASSERT_TRUE(first.WaitShipped(10));
  }
  {
    // Records committed while no sink runs (a gateway without audit.syslog,
    // or one stopped before it could ship).
    audit::AuditStore store(audit::StoreOptions{dir.File("audit.db")});
    for (int i = 0; i < 15; ++i) ASSERT_TRUE(store.Append(Decision(i)).ok);
  }
  Shipping second(dir, To(peer, pki));
  second.Start();
  second.Append(5);
  ASSERT_TRUE(second.WaitShipped(30));
  ExpectEachOnce(peer, 30);
}

TEST(SyslogSinkTest, APeerWithoutATrustedCertificateGetsNothing) {
  Pki pki;
  Pki other;
  RsyslogServer peer(PeerWith(pki));
  for (const bool wrong_name : {false, true}) {
    TempDir dir;
    audit::SyslogOptions options = To(peer, wrong_name ? pki : other);
    if (wrong_name) options.tls.server_name = "siem.example.com";
    Shipping s(dir, options);
    s.Start();
    s.Append(3);
    ASSERT_TRUE(WaitFor([&] { return s.failures >= 2; }, 30s));
    EXPECT_EQ(s.sink().shipped_seq(), 0);
  }
  EXPECT_TRUE(peer.Messages().empty());
}

TEST(SyslogSinkTest, AClientCertificateIsPresentedWhenConfigured) {
  Pki pki;
  pki.Issue("client", "/CN=agni-gateway", "");
  RsyslogServer::Options peer_options = PeerWith(pki);
  peer_options.auth_mode = "x509/certvalid";
  RsyslogServer peer(peer_options);
  {
    TempDir dir;
    Shipping without(dir, To(peer, pki));
    without.Start();
    without.Append(2);
    ASSERT_TRUE(WaitFor([&] { return without.failures >= 2; }, 30s));
    EXPECT_EQ(without.sink().shipped_seq(), 0);
  }
  TempDir dir;
  audit::SyslogOptions options = To(peer, pki);
  options.tls.client_cert_file = pki.File("client.pem");
  options.tls.client_key_file = pki.File("client.key");
  Shipping with(dir, options);
  with.Start();
  with.Append(4);
  ASSERT_TRUE(with.WaitShipped(4)) << peer.Log();
  ExpectEachOnce(peer, 4);
}

}  // namespace
}  // namespace agni::testing
