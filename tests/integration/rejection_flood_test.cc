// Floods of unauthenticated requests over HTTP against the real servers: the
// first audit.rejections.burst per peer and window get records of their own,
// the rest are counted into summary records whose request_count adds up to
// exactly the requests that were not recorded one by one. Legitimate traffic
// is unaffected, the chain verifies, the summaries are exported and
// searchable, and no token reaches a record.
#include <SQLiteCpp/SQLiteCpp.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>
#include <thread>

#include "audit/read/export.h"
#include "audit/read/query.h"
#include "base/crypto.h"
#include "gateway/cli/audit_cli.h"
#include "tests/support/harness.h"
#include "tests/support/test_support.h"

namespace agni::testing {
namespace {

using nlohmann::json;

constexpr const char* kNumber = "%2B15551230001";

// One request on a fresh connection from `source` (any 127.x.y.z works on
// Linux loopback), so the gateway sees that peer address. Returns the status.
int FromPeer(int port, const std::string& source, const std::string& token) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return 0;
  }
  const std::string req = "DELETE " + ReleasePath(kNumber) +
                          " HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer " +
                          token + "\r\nConnection: close\r\n\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
    reply.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (reply.size() < 12) return 0;
  return std::stoi(reply.substr(9, 3));
}

struct Accounting {
  std::int64_t individual = 0;  // unauthenticated records of their own
  std::int64_t summarized = 0;  // sum of request_count
  std::int64_t summaries = 0;
};

Accounting Account(const std::vector<json>& rows,
                   const std::string& peer = "") {
  Accounting a;
  for (const json& r : rows) {
    if (r.value("reason", "") != "unauthenticated") continue;
    if (!peer.empty() && r.value("peer", "") != peer) continue;
    if (r.contains("request_count")) {
      ++a.summaries;
      a.summarized += r["request_count"].get<std::int64_t>();
    } else {
      ++a.individual;
    }
  }
  return a;
}

class RejectionFloodTest : public ::testing::Test {
 protected:
  GatewayHarness::Options Opts(json rejections) {
    dir_.Write("fingerprint.key", std::string(32, 'k'));
    GatewayHarness::Options o{.upstream_base_url = upstream_.url()};
    o.extra_config = {{"audit",
                       {{"path", "audit.db"},
                        {"busy_timeout", "200ms"},
                        {"fingerprint_key_file", dir_.File("fingerprint.key")},
                        {"rejections", std::move(rejections)}}}};
    return o;
  }

  TempDir dir_;
  FakeUpstream upstream_;
};

TEST_F(RejectionFloodTest, OnePeerGetsItsBurstAndOneSummaryThatAddsUp) {
  GatewayHarness gw(Opts({{"burst", 10}, {"window", "1h"}}));
  constexpr int kFlood = 400;
  auto client = gw.Client();
  int legit_ok = 0;
  for (int i = 0; i < kFlood; ++i) {
    httplib::Headers h;
    if (i % 4 == 1)
      h = {{"Authorization", "Bearer wrong-token-" + std::to_string(i % 3)}};
    if (i % 4 == 2) h = {{"X-Api-Key", "wrong-key-zz9"}};
    if (i % 4 == 3) h = {{"Authorization", "Bearer " + gw.alice().token + "x"}};
    auto res = client.Delete(ReleasePath(kNumber), h);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 401);
    EXPECT_EQ(res->get_header_value("WWW-Authenticate"),
              "Bearer realm=\"agni-gateway\"");
    if (i % 100 == 50) {
      // A legitimate release in the middle of the flood, same peer.
      auto ok = client.Delete(ReleasePath(kNumber), Bearer(gw.alice().token));
      ASSERT_TRUE(ok);
      EXPECT_EQ(ok->status, 200);
      ++legit_ok;
    }
  }
  EXPECT_EQ(upstream_.Received().size(), static_cast<std::size_t>(legit_ok));

  // Before the window closes: the burst only, nothing summarised yet.
  Accounting before = Account(gw.AuditRows());
  EXPECT_EQ(before.individual, 10);
  EXPECT_EQ(before.summaries, 0);
  const std::string m = gw.Metrics();
  EXPECT_EQ(
      MetricValue(m,
                  R"(agni_gateway_requests_total{code="401",route="release"})"),
      kFlood);
  EXPECT_EQ(
      MetricValue(
          m,
          R"(agni_gateway_audit_rejections_summarized_total{reason="unauthenticated"})"),
      kFlood - 10);

  EXPECT_EQ(gw.rejections().Flush(), 1u);  // what a clean shutdown does
  const auto rows = gw.AuditRows();
  const Accounting a = Account(rows);
  EXPECT_EQ(a.individual, 10);
  EXPECT_EQ(a.summaries, 1);
  EXPECT_EQ(a.summarized, kFlood - 10);
  EXPECT_EQ(a.individual + a.summarized, kFlood);

  // Legitimate releases: intent + outcome each, individually, as always.
  int intents = 0, released = 0;
  for (const json& r : rows) {
    if (r["stage"] == "intent") ++intents;
    if (r.value("outcome", "") == "released") {
      ++released;
      EXPECT_EQ(r["principal"], "alice");
    }
  }
  EXPECT_EQ(intents, legit_ok);
  EXPECT_EQ(released, legit_ok);

  // The summary: who, what, how many, which credentials (fingerprints only).
  const json* summary = nullptr;
  for (const json& r : rows) {
    if (r.contains("request_count")) summary = &r;
  }
  ASSERT_NE(summary, nullptr);
  EXPECT_EQ((*summary)["stage"], "decision");
  EXPECT_EQ((*summary)["decision"], "deny");
  EXPECT_EQ((*summary)["peer"], "127.0.0.1");
  EXPECT_EQ((*summary)["response_status"], 401);
  EXPECT_FALSE(summary->contains("principal"));
  const std::string detail = (*summary)["detail"];
  EXPECT_NE(detail.find("distinct credentials, most frequent hmac-sha256:"),
            std::string::npos)
      << detail;
  EXPECT_NE(detail.find("without a fingerprinted credential"),
            std::string::npos)
      << detail;

  // No token, no token hash anywhere in the audit.
  std::string all;
  for (const json& r : rows) all += r.dump();
  for (const std::string& secret :
       {gw.alice().token, gw.alice().token + "x", std::string("wrong-token-1"),
        std::string("wrong-key-zz9"), Sha256Hex("wrong-key-zz9"),
        Sha256Hex(gw.alice().token)}) {
    EXPECT_EQ(all.find(secret), std::string::npos) << secret;
  }

  // The chain verifies; the summary is exported and its export verifies.
  const audit::VerifyReport v = audit::Verify({gw.audit_path(), "", "", ""});
  EXPECT_EQ(v.exit_code, audit::kVerifyOk) << VerifyReportText(v);
  std::ostringstream jsonl;
  ASSERT_EQ(audit::Export({gw.audit_path(), "jsonl", "", ""}, jsonl).exit_code,
            0);
  EXPECT_NE(
      jsonl.str().find("\"request_count\":" + std::to_string(kFlood - 10)),
      std::string::npos);
  std::ostringstream csv;
  ASSERT_EQ(audit::Export({gw.audit_path(), "csv", "", ""}, csv).exit_code, 0);
  EXPECT_NE(csv.str().find("," + std::to_string(kFlood - 10) + "\r\n"),
            std::string::npos);

  // GET /v1/audit's filters (audit/read/query.h) find the summaries.
  SQLite::Database db(gw.audit_path(), SQLite::OPEN_READONLY);
  auto search = [&](const std::string& qs) {
    audit::AuditQuery q;
    const std::string error = audit::ParseAuditQuery(qs, q);
    EXPECT_EQ(error, "") << qs;
    return nlohmann::json::parse(audit::RunAuditQuery(db, q))["records"];
  };
  const json summaries = search("reason=unauthenticated&summary=true");
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0]["request_count"], kFlood - 10);
  EXPECT_EQ(
      search("reason=unauthenticated&summary=false&peer=127.0.0.1").size(),
      10u);
  EXPECT_EQ(search("peer=10.9.9.9").size(), 0u);
  audit::AuditQuery bad;
  EXPECT_EQ(audit::ParseAuditQuery("summary=maybe", bad),
            "summary must be true or false");
}

TEST_F(RejectionFloodTest, DistinctPeersHaveTheirOwnKeysAndTheCapOverflows) {
  GatewayHarness gw(Opts({{"burst", 2}, {"window", "1h"}, {"max_keys", 2}}));
  // Four peers, five bad requests each; only two keys fit, the others are
  // counted under "*" and have no burst of their own.
  const std::vector<std::string> peers = {"127.0.0.2", "127.0.0.3", "127.0.0.4",
                                          "127.0.0.5"};
  for (const std::string& peer : peers) {
    for (int i = 0; i < 5; ++i) {
      ASSERT_EQ(FromPeer(gw.port(), peer, "bad-token-" + peer), 401) << peer;
    }
  }
  // A legitimate request from a flooding peer still goes through.
  ASSERT_EQ(FromPeer(gw.port(), "127.0.0.4", gw.olga().token), 200);
  EXPECT_EQ(upstream_.Received().size(), 1u);
  EXPECT_EQ(gw.rejections().Flush(), 3u);
  const auto rows = gw.AuditRows();
  const Accounting first = Account(rows, "127.0.0.2");
  const Accounting second = Account(rows, "127.0.0.3");
  const Accounting overflow = Account(rows, "*");
  EXPECT_EQ(first.individual, 2);
  EXPECT_EQ(first.summarized, 3);
  EXPECT_EQ(second.individual, 2);
  EXPECT_EQ(second.summarized, 3);
  EXPECT_EQ(overflow.individual, 0);
  EXPECT_EQ(overflow.summaries, 1);
  EXPECT_EQ(overflow.summarized, 10);
  const Accounting all = Account(rows);
  EXPECT_EQ(all.individual + all.summarized, 20);
  // Olga's release from 127.0.0.4 is recorded with that peer, individually.
  int olga = 0;
  for (const json& r : rows) {
    if (r.value("principal", "") == "olga" && r["stage"] == "intent") {
      EXPECT_EQ(r["peer"], "127.0.0.4");
      ++olga;
    }
  }
  EXPECT_EQ(olga, 1);
  EXPECT_EQ(audit::Verify({gw.audit_path(), "", "", ""}).exit_code,
            audit::kVerifyOk);
}

TEST_F(RejectionFloodTest, TheWindowClosesOnItsOwnAndEveryRequestIsCounted) {
  GatewayHarness gw(Opts({{"burst", 2}, {"window", "1s"}}));
  constexpr int kFlood = 30;
  auto client = gw.Client();
  for (int i = 0; i < kFlood; ++i) {
    auto res = client.Get("/v1/whoami", {{"Authorization", "Bearer nope"}});
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 401);
  }
  // No Flush(): the ledger's own thread writes the summaries once the window
  // has ended. However the requests fell into windows, every one is counted.
  Accounting a;
  for (int i = 0; i < 200; ++i) {
    a = Account(gw.AuditRows());
    if (a.individual + a.summarized == kFlood) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(a.individual + a.summarized, kFlood);
  EXPECT_GE(a.summaries, 1);
  EXPECT_LT(a.individual, kFlood);
}

TEST_F(RejectionFloodTest, ConfigKeysAreValidatedWithTheirPathAndDefault) {
  std::string errors;
  try {
    GatewayHarness bad(Opts({{"burst", -1},
                             {"window", "500ms"},
                             {"max_individual", "100"},
                             {"max_keys", 0},
                             {"bogus", 1}}));
  } catch (const std::runtime_error& e) {
    errors = e.what();
  }
  for (const char* key :
       {"burst", "window", "max_individual", "max_keys", "bogus"}) {
    EXPECT_NE(errors.find(std::string("audit.rejections.") + key),
              std::string::npos)
        << key << " in:\n"
        << errors;
  }
  GatewayHarness ok(Opts({{"burst", 0},
                          {"window", "30s"},
                          {"max_individual", 5},
                          {"max_keys", 64}}));
  const AuditRejectionsConfig& c = ok.config().audit.rejections;
  EXPECT_EQ(c.burst, 0u);
  EXPECT_EQ(c.window, std::chrono::seconds(30));
  EXPECT_EQ(c.max_individual, 5u);
  EXPECT_EQ(c.max_keys, 64u);
  // burst 0: every unauthenticated request is summarised.
  ASSERT_EQ(FromPeer(ok.port(), "127.0.0.9", "nope"), 401);
  EXPECT_EQ(Account(ok.AuditRows()).individual, 0);
  ok.rejections().Flush();
  EXPECT_EQ(Account(ok.AuditRows()).summarized, 1);
}

TEST_F(RejectionFloodTest, DefaultsWhenTheBlockIsAbsent) {
  GatewayHarness gw({.upstream_base_url = upstream_.url()});
  const AuditRejectionsConfig& c = gw.config().audit.rejections;
  EXPECT_EQ(c.burst, 10u);
  EXPECT_EQ(c.window, std::chrono::seconds(10));
  EXPECT_EQ(c.max_individual, 100u);
  EXPECT_EQ(c.max_keys, 1024u);
}

}  // namespace
}  // namespace agni::testing
