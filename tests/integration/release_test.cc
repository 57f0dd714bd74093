// The real gateway servers on port 0 in front of an in-process fake upstream:
// what a client sees, what the upstream received, what the audit recorded.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>

#include "base/crypto.h"
#include "tests/support/harness.h"
#include "tests/support/raw_http.h"
#include "tests/support/test_support.h"

namespace agni::testing {
namespace {

using nlohmann::json;

json Body(const httplib::Result& res) {
  return json::parse(res->body, nullptr, false);
}

// Asserts that no header the upstream received carries a client credential.
void ExpectOnlyRealKey(const ReceivedRequest& r, const TestUser& client) {
  EXPECT_EQ(r.headers.count("Authorization"), 0u);
  ASSERT_EQ(r.headers.count("X-Api-Key"), 1u);
  EXPECT_EQ(r.headers.find("X-Api-Key")->second, kApiKey);
  for (const auto& [name, value] : r.headers) {
    EXPECT_EQ(value.find(client.token), std::string::npos) << name;
  }
}

class ReleaseTest : public ::testing::Test {
 protected:
  FakeUpstream upstream_;
  GatewayHarness gw_{{.upstream_base_url = upstream_.url()}};

  // alice's release of `number_in_path` with the X-Request-Id `request_id`.
  httplib::Result ReleaseWithRequestId(const std::string& number_in_path,
                                       const std::string& request_id) {
    httplib::Headers headers = Bearer(gw_.alice().token);
    headers.emplace("X-Request-Id", request_id);
    return gw_.Client().Delete(ReleasePath(number_in_path), headers);
  }
};

TEST_F(ReleaseTest, AllowedReleaseIsForwardedOnceWithTheRealKeyAndAudited) {
  auto res = ReleaseWithRequestId("%2B15551230001", "client-req-1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Body(res)["success"], true);
  EXPECT_EQ(Body(res)["message"], "Phone number released");
  EXPECT_EQ(res->get_header_value("X-Request-Id"), "client-req-1");

  const auto received = upstream_.Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].method, "DELETE");
  EXPECT_EQ(received[0].target,
            "/api/v1/phone-numbers/%2B15551230001/release/");
  EXPECT_EQ(received[0].body, "");
  ExpectOnlyRealKey(received[0], gw_.alice());
  EXPECT_EQ(received[0].headers.find("X-Request-Id")->second, "client-req-1");

  const auto rows = gw_.AuditRows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["stage"], "intent");
  EXPECT_EQ(rows[0]["principal"], "alice");
  EXPECT_EQ(rows[0]["phone_number"], "+15551230001");
  EXPECT_EQ(rows[0]["decision"], "allow");
  EXPECT_EQ(rows[0]["rule_id"], "support-sandbox");
  EXPECT_EQ(rows[0]["request_id"], "client-req-1");
  EXPECT_EQ(rows[0]["auth_method"], "bearer");
  EXPECT_EQ(rows[0]["policy_hash"].get<std::string>().size(), 64u);
  EXPECT_EQ(rows[1]["stage"], "outcome");
  EXPECT_EQ(rows[1]["intent_seq"], rows[0]["seq"]);
  EXPECT_EQ(rows[1]["outcome"], "released");
  EXPECT_EQ(rows[1]["upstream_status"], 200);
  EXPECT_EQ(rows[1]["response_status"], 200);
  EXPECT_EQ(rows[1]["prev_hash"], rows[0]["hash"]);

  const std::string m = gw_.Metrics();
  EXPECT_EQ(
      MetricValue(m,
                  R"(agni_gateway_requests_total{code="200",route="release"})"),
      1);
  EXPECT_EQ(
      MetricValue(m,
                  R"(agni_gateway_upstream_requests_total{outcome="success"})"),
      1);
  EXPECT_EQ(
      MetricValue(
          m,
          R"(agni_gateway_policy_decisions_total{decision="allow",mode="enforce"})"),
      1);
  EXPECT_EQ(
      MetricValue(m, R"(agni_gateway_audit_records_total{stage="intent"})"), 1);
  EXPECT_EQ(
      MetricValue(m, R"(agni_gateway_audit_records_total{stage="outcome"})"),
      1);
}

TEST_F(ReleaseTest, RawPlusAndXApiKeyCredentialAreUnderstood) {
  auto res = gw_.Client().Delete(ReleasePath("+15551230002"),
                                 {{"X-Api-Key", gw_.alice().token}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  const auto received = upstream_.Received();
  ASSERT_EQ(received.size(), 1u);
  // One canonical encoding upstream, whatever the client sent.
  EXPECT_EQ(received[0].target,
            "/api/v1/phone-numbers/%2B15551230002/release/");
  ExpectOnlyRealKey(received[0], gw_.alice());
  EXPECT_EQ(gw_.AuditRows().at(0)["auth_method"], "api_key");
}

struct RejectCase {
  std::string name;
  std::string method;
  std::string target;
  std::string credential;  // "alice", "mallory", "bad", "none"
  int status;
  std::string reason;
  std::string rule_id;
};

TEST_F(ReleaseTest, RejectedRequestsReachNothingUpstreamAndAreAuditedOnce) {
  const std::vector<RejectCase> cases = {
      {"no credentials", "DELETE", ReleasePath("%2B15551230003"), "none", 401,
       "unauthenticated", ""},
      {"unknown token", "DELETE", ReleasePath("%2B15551230003"), "bad", 401,
       "unauthenticated", ""},
      {"malformed number", "DELETE", ReleasePath("%2B1555abc"), "alice", 400,
       "invalid_phone_number", ""},
      {"double encoded", "DELETE", ReleasePath("%252B15551230003"), "alice",
       400, "invalid_phone_number", ""},
      {"smuggled query", "DELETE",
       ReleasePath("%2B15551230003") + "?phone_number=%2B19115550000", "alice",
       400, "invalid_phone_number", ""},
      {"explicit deny beats allow", "DELETE", ReleasePath("%2B19115550000"),
       "alice", 403, "policy_denied", "never-emergency"},
      {"no rule allows", "DELETE", ReleasePath("%2B14155550100"), "alice", 403,
       "policy_denied", "implicit_deny"},
      {"contractor", "DELETE", ReleasePath("%2B15551230003"), "mallory", 403,
       "policy_denied", "implicit_deny"},
      {"unknown path", "GET", "/api/v1/phone-numbers/", "alice", 404,
       "not_found", ""},
      {"buy is not proxied", "POST", "/api/v1/phone-numbers/buy/", "alice", 404,
       "not_found", ""},
      {"wrong method", "GET", ReleasePath("%2B15551230003"), "alice", 405,
       "method_not_allowed", ""},
  };
  std::size_t expected_rows = 0;
  for (const RejectCase& c : cases) {
    SCOPED_TRACE(c.name);
    httplib::Headers headers;
    if (c.credential == "alice") headers = Bearer(gw_.alice().token);
    if (c.credential == "mallory") headers = Bearer(gw_.mallory().token);
    if (c.credential == "bad") headers = {{"Authorization", "Bearer agt_nope"}};
    httplib::Request req;
    req.method = c.method;
    req.path = c.target;
    req.headers = headers;
    auto cli = gw_.Client();
    cli.set_url_encode(false);
    auto res = cli.send(req);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, c.status);
    EXPECT_EQ(res->get_header_value("Content-Type"),
              "application/problem+json");
    const json body = Body(res);
    EXPECT_EQ(body["reason"], c.reason);
    EXPECT_EQ(body["status"], c.status);
    EXPECT_EQ(body["success"], false);
    EXPECT_FALSE(body["request_id"].get<std::string>().empty());
    EXPECT_EQ(body["request_id"], res->get_header_value("X-Request-Id"));
    if (!c.rule_id.empty()) {
      EXPECT_EQ(body["rule_id"], c.rule_id);
    }
    if (c.status == 401) {
      EXPECT_EQ(res->get_header_value("WWW-Authenticate"),
                "Bearer realm=\"agni-gateway\"");
    }
    if (c.status == 405) {
      EXPECT_EQ(res->get_header_value("Allow"), "DELETE");
    }

    const auto rows = gw_.AuditRows();
    ASSERT_EQ(rows.size(), ++expected_rows);
    const json& row = rows.back();
    EXPECT_EQ(row["stage"], "decision");
    EXPECT_EQ(row["reason"], c.reason);
    EXPECT_EQ(row["response_status"], c.status);
    EXPECT_EQ(row["request_id"], body["request_id"]);
    if (!c.rule_id.empty()) {
      EXPECT_EQ(row["rule_id"], c.rule_id);
    }
    if (c.credential == "alice") {
      EXPECT_EQ(row["principal"], "alice");
    }
    if (c.status == 401) {
      EXPECT_FALSE(row.contains("principal"));
    }
  }
  EXPECT_TRUE(upstream_.Received().empty());
  const std::string m = gw_.Metrics();
  for (const auto& [series, value] : std::vector<std::pair<std::string, int>>{
           {R"(agni_gateway_requests_total{code="401",route="release"})", 2},
           {R"(agni_gateway_requests_total{code="403",route="release"})", 3},
           {R"(agni_gateway_requests_total{code="404",route="other"})", 2},
           {R"(agni_gateway_upstream_requests_total{outcome="success"})", 0}}) {
    SCOPED_TRACE(series);
    EXPECT_EQ(MetricValue(m, series), value);
  }
}

TEST_F(ReleaseTest, NoCredentialOrTokenReachesTheAuditLog) {
  gw_.Client().Delete(ReleasePath("%2B15551230004"), Bearer(gw_.alice().token));
  gw_.Client().Delete(ReleasePath("%2B15551230004"),
                      {{"X-Api-Key", gw_.mallory().token}});
  gw_.Client().Delete(
      ReleasePath("%2B15551230004") + "?token=" + gw_.olga().token,
      Bearer(gw_.alice().token));
  std::string all;
  for (const auto& row : gw_.AuditRows()) all += row.dump();
  ASSERT_FALSE(all.empty());
  for (const TestUser* u : {&gw_.alice(), &gw_.olga(), &gw_.mallory()}) {
    EXPECT_EQ(all.find(u->token), std::string::npos) << u->name;
    EXPECT_EQ(all.find(Sha256Hex(u->token)), std::string::npos) << u->name;
  }
  EXPECT_EQ(all.find(kApiKey), std::string::npos);
  EXPECT_EQ(gw_.Metrics().find(kApiKey), std::string::npos);
}

TEST_F(ReleaseTest, UpstreamErrorsPassThroughUnchanged) {
  for (int status : {404, 500, 422}) {
    SCOPED_TRACE(status);
    const std::string body = R"({"success":false,"message":"upstream says )" +
                             std::to_string(status) + R"("})";
    upstream_.SetReply({.status = status, .body = body});
    auto res = gw_.Client().Delete(ReleasePath("%2B15551230005"),
                                   Bearer(gw_.alice().token));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status);
    EXPECT_EQ(res->body, body);
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    const auto rows = gw_.AuditRows();
    EXPECT_EQ(rows.back()["outcome"], "rejected_by_upstream");
    EXPECT_EQ(rows.back()["upstream_status"], status);
  }
  EXPECT_EQ(upstream_.Received().size(), 3u);
  EXPECT_EQ(MetricValue(
                gw_.Metrics(),
                R"(agni_gateway_upstream_requests_total{outcome="rejected"})"),
            3);
}

TEST_F(ReleaseTest, SuccessFalseInA200IsNotRecordedAsReleased) {
  upstream_.SetReply(
      {.status = 200, .body = R"({"success":false,"message":"no"})"});
  auto res = gw_.Client().Delete(ReleasePath("%2B15551230006"),
                                 Bearer(gw_.alice().token));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, R"({"success":false,"message":"no"})");
  EXPECT_EQ(gw_.AuditRows().back()["outcome"], "rejected_by_upstream");
}

TEST_F(ReleaseTest, AnUpstreamThatEchoesTheKeyHasItScrubbed) {
  upstream_.SetReply({.status = 500, .echo_headers = true});
  auto res = gw_.Client().Delete(ReleasePath("%2B15551230007"),
                                 Bearer(gw_.alice().token));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->body.find(kApiKey), std::string::npos);
  EXPECT_NE(res->body.find("[REDACTED]"), std::string::npos);
}

TEST_F(ReleaseTest, SlowUpstreamIs504WithUnknownOutcomeAndNoRetry) {
  upstream_.SetReply({.delay = std::chrono::milliseconds(2600)});
  json outcome;
  ASSERT_NO_FATAL_FAILURE(ExpectFailedRelease(gw_, "%2B15551230008", 504,
                                              "upstream_timeout", outcome));
  EXPECT_EQ(outcome["outcome"], "unknown");
  EXPECT_EQ(outcome["reason"], "upstream_timeout");
  EXPECT_EQ(outcome["response_status"], 504);
  // Wait out the fake's delay: still exactly one request, never retried.
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(upstream_.Received().size(), 1u);
  EXPECT_EQ(
      MetricValue(gw_.Metrics(),
                  R"(agni_gateway_upstream_requests_total{outcome="timeout"})"),
      1);
}

TEST_F(ReleaseTest, ConcurrentReleasesOfOneNumberForwardExactlyOne) {
  upstream_.SetReply({.delay = std::chrono::milliseconds(500)});
  auto send = [&] {
    return gw_.Client()
        .Delete(ReleasePath("%2B15551230009"), Bearer(gw_.alice().token))
        ->status;
  };
  auto first = std::async(std::launch::async, send);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  auto second = std::async(std::launch::async, send);
  const int a = first.get(), b = second.get();
  EXPECT_EQ(a, 200);
  EXPECT_EQ(b, 409);
  EXPECT_EQ(upstream_.Received().size(), 1u);
  const auto rows = gw_.AuditRows();
  int in_flight = 0;
  for (const auto& r : rows)
    in_flight += r.value("reason", "") == "release_in_flight";
  EXPECT_EQ(in_flight, 1);
  // Once it finished, the number can be released again.
  EXPECT_EQ(send(), 200);
}

TEST_F(ReleaseTest, AuditStoreThatCannotCommitFailsClosed) {
  SQLite::Database locker(gw_.audit_path(), SQLite::OPEN_READWRITE);
  locker.exec("BEGIN EXCLUSIVE");
  auto res = gw_.Client().Delete(ReleasePath("%2B15551230010"),
                                 Bearer(gw_.alice().token));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(Body(res)["reason"], "audit_unavailable");
  EXPECT_TRUE(upstream_.Received().empty());
  auto ready = gw_.AdminClient().Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_GE(
      MetricValue(gw_.Metrics(), "agni_gateway_audit_write_failures_total"), 1);

  locker.exec("ROLLBACK");
  res = gw_.Client().Delete(ReleasePath("%2B15551230010"),
                            Bearer(gw_.alice().token));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(upstream_.Received().size(), 1u);
  EXPECT_EQ(gw_.AdminClient().Get("/readyz")->status, 200);
  const auto rows = gw_.AuditRows();
  ASSERT_EQ(rows.size(), 2u);  // nothing from the failed attempt, no gap
  EXPECT_EQ(rows[0]["seq"], 1);
  EXPECT_EQ(rows[1]["seq"], 2);
}

TEST_F(ReleaseTest, ABodyOnDeleteIsRefusedAndNotForwarded) {
  auto res = gw_.Client().Delete(
      ReleasePath("%2B15551230011"), Bearer(gw_.alice().token),
      R"({"phone_number":"+19115550000"})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(Body(res)["reason"], "invalid_request");
  EXPECT_TRUE(upstream_.Received().empty());
}

TEST_F(ReleaseTest, AnUnsafeRequestIdIsReplaced) {
  auto res =
      ReleaseWithRequestId("%2B15551230012", "has spaces and \"quotes\"");
  ASSERT_TRUE(res);
  const std::string id = res->get_header_value("X-Request-Id");
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(upstream_.Received().at(0).headers.find("X-Request-Id")->second,
            id);
}

TEST_F(ReleaseTest, UpstreamConnectionsAreReused) {
  for (int i = 0; i < 5; ++i) {
    auto res =
        gw_.Client().Delete(ReleasePath("%2B1555123002" + std::to_string(i)),
                            Bearer(gw_.alice().token));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
  }
  EXPECT_EQ(upstream_.Received().size(), 5u);
  EXPECT_EQ(upstream_.DistinctConnections(), 1u);
}

TEST_F(ReleaseTest, WhoAmIShowsTheCallersIdentity) {
  auto res = gw_.Client().Get("/v1/whoami", Bearer(gw_.olga().token));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Body(res)["user"], "olga");
  EXPECT_EQ(Body(res)["groups"], json::array({"telecom-ops"}));
}

TEST_F(ReleaseTest, AdminListenerServesHealthAndMetrics) {
  ASSERT_EQ(gw_.Client().Get("/v1/whoami", Bearer(gw_.alice().token))->status,
            200);
  ASSERT_EQ(gw_.AuditRows().size(), 1u);
  auto admin = gw_.AdminClient();
  EXPECT_EQ(admin.Get("/livez")->status, 200);
  EXPECT_EQ(admin.Get("/readyz")->status, 200);
  const std::string m = gw_.Metrics();
  for (const char* family :
       {"agni_gateway_requests_total", "agni_gateway_request_duration_seconds",
        "agni_gateway_policy_decisions_total",
        "agni_gateway_upstream_requests_total",
        "agni_gateway_upstream_request_duration_seconds",
        "agni_gateway_audit_write_failures_total", "agni_gateway_build_info"}) {
    EXPECT_NE(m.find("# TYPE " + std::string(family)), std::string::npos)
        << family;
  }
  // build_info{commit,version}: the commit is checked in prometheus_test.cc.
  EXPECT_NE(m.find(R"(agni_gateway_build_info{commit=")"), std::string::npos);
  EXPECT_NE(m.find(R"(",version=")" AGNI_VERSION R"("} 1)"), std::string::npos);
  // Admin endpoints are not audited.
  EXPECT_EQ(gw_.AuditRows().size(), 1u);
}

// A client connection to 127.0.0.1:`port` that sends bytes and reads back
// whatever comes, for watching when an answer arrives.
class ClientSocket {
 public:
  // `receive_buffer` > 0: SO_RCVBUF, so that the server's sends stall
  // while this client does not read.
  explicit ClientSocket(int port, int receive_buffer = 0)
      : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer,
                   sizeof receive_buffer);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr),
                                       sizeof addr) == 0;
  }
  ~ClientSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  ClientSocket(const ClientSocket&) = delete;
  ClientSocket& operator=(const ClientSocket&) = delete;

  bool Send(const std::string& bytes) {
    return connected_ &&
           ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
               static_cast<ssize_t>(bytes.size());
  }
  // Whether any byte (or the end) has arrived, without waiting.
  bool AnythingArrived() {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }
  // One whole answer (its head and Content-Length bytes of body), or what
  // came within `limit`.
  std::string ReadOneAnswer(std::chrono::milliseconds limit) {
    std::string bytes;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char buf[65536];
    while (std::chrono::steady_clock::now() < deadline) {
      const std::size_t head_end = bytes.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const std::size_t at = bytes.find("Content-Length: ");
        if (at != std::string::npos && at < head_end &&
            bytes.size() >=
                head_end + 4 + std::stoul(bytes.substr(at + 16, 20))) {
          break;
        }
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      bytes.append(buf, static_cast<std::size_t>(n));
    }
    return bytes;
  }
  // Everything until the server closes, or what came within `limit`.
  RawReply ReadUntilClosed(std::chrono::milliseconds limit) {
    RawReply reply;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        reply.closed = true;
        break;
      }
      reply.bytes.append(buf, static_cast<std::size_t>(n));
    }
    return reply;
  }

 private:
  int fd_;
  bool connected_ = false;
};

// `reply` holds two answers with `statuses`, the one carrying request id
// `first_id` before the one carrying `second_id`, and the connection closed.
void ExpectTwoAnswersInOrder(const RawReply& reply,
                             const std::vector<int>& statuses,
                             const std::string& first_id,
                             const std::string& second_id) {
  EXPECT_EQ(reply.statuses(), statuses) << reply.bytes;
  EXPECT_TRUE(reply.closed);
  const std::size_t first = reply.bytes.find(first_id);
  const std::size_t second = reply.bytes.find(second_id);
  ASSERT_NE(first, std::string::npos) << reply.bytes;
  ASSERT_NE(second, std::string::npos) << reply.bytes;
  EXPECT_LT(first, second);
}

// Held answers: a release's outcome reaches the store while another
// request's commit waits for a lock the test holds, so the outcome waits in
// the queue (its connection's thread does not wait with it) and whoever
// commits it sends the answer.
class HeldAnswerTest : public ::testing::Test {
 protected:
  HeldAnswerTest() {
    FakeUpstream::Reply slow;
    slow.delay = std::chrono::milliseconds(800);
    upstream_.SetReply(slow);
  }

  // alice's release of `number`, with extra header lines.
  std::string Release(const std::string& number,
                      const std::string& headers = "") const {
    return "DELETE " + ReleasePath(number) +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
           gw_.alice().token + "\r\n" + headers + "\r\n";
  }

  // Once the upstream has the first release (its intent committed): holds
  // the audit's write lock while mallory's denial leads a commit that waits
  // for it, for `hold` (well past the upstream's 0.8 s answer). Then checks
  // that not a byte reached `client` and runs `while_held`, and lets go.
  void WhileACommitWaits(
      ClientSocket& client, const std::function<void()>& while_held = [] {},
      std::chrono::milliseconds hold = std::chrono::milliseconds(1500)) {
    ASSERT_TRUE(WaitFor([&] { return upstream_.Received().size() == 1; },
                        std::chrono::seconds(10)));
    SQLite::Database locker(gw_.audit_path(), SQLite::OPEN_READWRITE);
    locker.exec("BEGIN IMMEDIATE");
    auto denied = std::async(std::launch::async, [&] {
      return gw_.Client().Delete(ReleasePath("%2B15551239999"),
                                 Bearer(gw_.mallory().token));
    });
    std::this_thread::sleep_for(hold);
    EXPECT_FALSE(client.AnythingArrived());  // neither answer nor end
    while_held();
    locker.exec("ROLLBACK");
    const httplib::Result d = denied.get();
    ASSERT_TRUE(d);
    EXPECT_EQ(d->status, 403);
  }

  // The outcome of the release whose intent is `intent`, checked released;
  // nullptr (and a failure) when there is none or more than one.
  static const nlohmann::json* OutcomeOf(
      const std::vector<nlohmann::json>& rows, const nlohmann::json& intent) {
    const nlohmann::json* found = nullptr;
    for (const nlohmann::json& row : rows) {
      if (row["stage"] != "outcome" || row["intent_seq"] != intent["seq"]) {
        continue;
      }
      EXPECT_EQ(found, nullptr) << "two outcomes for intent " << intent["seq"];
      found = &row;
    }
    EXPECT_NE(found, nullptr) << "no outcome for intent " << intent["seq"];
    if (found != nullptr) {
      EXPECT_EQ((*found)["outcome"], "released");
      EXPECT_EQ((*found)["response_status"], 200);
    }
    return found;
  }

  FakeUpstream upstream_;
  // A keep-alive shorter than the held time, so that an idle clock started
  // before a held answer was out would end the connection (the large answer's
  // test).
  GatewayHarness gw_{
      {.upstream_base_url = upstream_.url(),
       .audit_busy_timeout = "20s",
       .extra_config = {{"server", {{"keep_alive_timeout", "1s"}}}}}};
};

// The answer goes out only once the outcome is durable; the next request,
// pipelined on the same connection, is answered after it; the request's
// duration covers the wait.
TEST_F(HeldAnswerTest,
       AReleaseIsAnsweredOnlyOnceItsOutcomeIsDurableAndInOrder) {
  ClientSocket client(gw_.port());
  ASSERT_TRUE(client.Send(
      Release("%2B15551230001", "X-Request-Id: first-release\r\n") +
      Release("%2B15551230002",
              "X-Request-Id: second-release\r\nConnection: close\r\n")));
  // Nothing but the first intent committed while the lock is held.
  WhileACommitWaits(client, [&] { EXPECT_EQ(gw_.AuditRows().size(), 1u); });

  ExpectTwoAnswersInOrder(client.ReadUntilClosed(std::chrono::seconds(20)),
                          {200, 200}, "first-release", "second-release");
  EXPECT_EQ(upstream_.Received().size(), 2u);

  // Each release's intent and outcome, and the denial, all committed.
  const auto rows = gw_.AuditRows();
  ASSERT_EQ(rows.size(), 5u);
  std::size_t intents = 0;
  std::size_t denials = 0;
  for (const nlohmann::json& row : rows) {
    if (row["stage"] == "intent") {
      ++intents;
      OutcomeOf(rows, row);
    }
    if (row["stage"] == "decision" && row["principal"] == "mallory") ++denials;
  }
  EXPECT_EQ(intents, 2u);
  EXPECT_EQ(denials, 1u);

  // The first release and the denial took over a second, the release's
  // duration covering the wait (its upstream answered after 0.8 s; its answer
  // waited for the lock). The second release is handled only once the first
  // answer is out, and may take its upstream's 0.8 s alone.
  const std::string m = gw_.Metrics();
  EXPECT_EQ(
      MetricValue(
          m, R"(agni_gateway_request_duration_seconds_count{route="release"})"),
      3);
  EXPECT_LE(
      MetricValue(
          m,
          R"(agni_gateway_request_duration_seconds_bucket{route="release",le="1"})"),
      1);
}

// A connection that ends with a held answer (Connection: close) waits for it
// to go before it closes.
TEST_F(HeldAnswerTest, AConnectionThatEndsWithAHeldAnswerClosesAfterSendingIt) {
  ClientSocket client(gw_.port());
  ASSERT_TRUE(client.Send(Release("%2B15551230004", "Connection: close\r\n")));
  WhileACommitWaits(client);
  const RawReply reply = client.ReadUntilClosed(std::chrono::seconds(20));
  EXPECT_EQ(reply.statuses(), std::vector<int>{200}) << reply.bytes;
  EXPECT_TRUE(reply.closed);
  EXPECT_NE(reply.bytes.find("Phone number released"), std::string::npos);
  const auto rows = gw_.AuditRows();
  ASSERT_EQ(rows.size(), 3u);  // the intent, the denial, the outcome
  EXPECT_EQ(rows[0]["stage"], "intent");
  OutcomeOf(rows, rows[0]);
}

// An answer held for longer than the keep-alive timeout: the client's idle
// time starts once the answer is out, so the connection carries its next
// request.
TEST_F(HeldAnswerTest, AKeepAliveOutlastsAnAnswerHeldLongerThanIt) {
  ClientSocket client(gw_.port());
  ASSERT_TRUE(client.Send(Release("%2B15551230005")));
  // Held from 0.8 s (the upstream's answer) to 2.5 s: past the 1 s timeout.
  WhileACommitWaits(
      client, [] {}, std::chrono::milliseconds(2500));
  const std::string answer = client.ReadOneAnswer(std::chrono::seconds(20));
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 ", 0), 0u) << answer.substr(0, 200);
  ASSERT_TRUE(client.Send(Release("%2B15551230006")));
  const std::string next = client.ReadOneAnswer(std::chrono::seconds(20));
  EXPECT_EQ(next.rfind("HTTP/1.1 200 ", 0), 0u) << next.substr(0, 200);
  EXPECT_EQ(upstream_.Received().size(), 2u);
}

// An answer sent whole by its releaser after the keep-alive timeout counted
// from when it was handed over: the idle time runs from its sending.
TEST_F(HeldAnswerTest, AKeepAliveRunsFromWhenTheReleaserSentTheAnswer) {
  ClientSocket client(gw_.port());
  ASSERT_TRUE(client.Send(Release("%2B15551230007")));
  // Handed over at about 0.8 s, sent at about 1.5 s; the next request comes
  // at about 2 s, past 1 s after the hand-over, within 1 s of the sending.
  WhileACommitWaits(client);
  const std::string answer = client.ReadOneAnswer(std::chrono::seconds(20));
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 ", 0), 0u) << answer.substr(0, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(client.Send(Release("%2B15551230008")));
  const std::string next = client.ReadOneAnswer(std::chrono::seconds(20));
  EXPECT_EQ(next.rfind("HTTP/1.1 200 ", 0), 0u) << next.substr(0, 200);
}

// An answer larger than the socket takes at once: whoever commits the outcome
// sends what fits and leaves the rest to the connection's thread, which sends
// it while the client reads late; the client gets every byte, and the
// connection stays usable.
TEST_F(HeldAnswerTest, AHeldAnswerTooLargeToSendAtOnceArrivesWhole) {
  FakeUpstream::Reply big;
  big.delay = std::chrono::milliseconds(800);
  big.body = R"({"success":true,"message":"Phone number released","pad":")" +
             std::string(4 << 20, 'p') + R"("})";
  upstream_.SetReply(big);
  ClientSocket client(gw_.port(), /*receive_buffer=*/4096);
  ASSERT_TRUE(client.Send(Release("%2B15551230003")));
  WhileACommitWaits(client);
  // The client reads only later, when the socket has long been full.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::string answer = client.ReadOneAnswer(std::chrono::seconds(20));
  const std::size_t head_end = answer.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << answer.substr(0, 200);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 ", 0), 0u) << answer.substr(0, 200);
  EXPECT_TRUE(answer.substr(head_end + 4) == big.body)
      << "body of " << answer.size() - head_end - 4 << " bytes, expected "
      << big.body.size();
  ASSERT_TRUE(
      client.Send("GET /v1/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Authorization: Bearer " +
                  gw_.alice().token + "\r\n\r\n"));
  const std::string next = client.ReadOneAnswer(std::chrono::seconds(10));
  EXPECT_EQ(next.rfind("HTTP/1.1 200 ", 0), 0u) << next.substr(0, 200);
  const auto rows = gw_.AuditRows();
  ASSERT_GE(rows.size(), 3u);
  EXPECT_EQ(rows[0]["stage"], "intent");
  OutcomeOf(rows, rows[0]);
}

// mallory's release of +15551239999, which policy refuses, with extra header
// lines.
std::string Refusal(const GatewayHarness& gw, const std::string& headers) {
  return "DELETE " + ReleasePath("%2B15551239999") +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
         gw.mallory().token + "\r\n" + headers + "\r\n";
}

std::string Whoami(const GatewayHarness& gw, const std::string& headers) {
  return "GET /v1/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
         "Bearer " +
         gw.alice().token + "\r\n" + headers + "\r\n";
}

// A gateway whose audit file the test holds locked, and mallory's first
// refusal, sent at once, whose thread leads a commit that waits for the lock
// (up to `busy_timeout`).
struct LockedAudit {
  explicit LockedAudit(const std::string& busy_timeout)
      : gw({.upstream_base_url = upstream.url(),
            .audit_busy_timeout = busy_timeout}),
        locker(gw.audit_path(), SQLite::OPEN_READWRITE) {
    locker.exec("BEGIN IMMEDIATE");
    first = std::async(std::launch::async, [this] {
      return gw.Client().Delete(ReleasePath("%2B15551239999"),
                                Bearer(gw.mallory().token));
    });
  }
  // Once the first refusal leads its commit: a second refusal on `client`,
  // with a whoami pipelined behind it (with `whoami_headers`).
  void SendRefusalAndWhoami(ClientSocket& client,
                            const std::string& whoami_headers) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_TRUE(client.Send(
        Refusal(gw, "X-Request-Id: second-refusal\r\n") +
        Whoami(gw, "X-Request-Id: after-refusal\r\n" + whoami_headers)));
  }

  FakeUpstream upstream;
  GatewayHarness gw;
  SQLite::Database locker;
  std::future<httplib::Result> first;
};

// Refusals are held as release outcomes are: one queued behind a commit in
// progress goes out only once its record is durable, and a request pipelined
// behind it is handled after it.
TEST(HeldRefusalTest, ARefusalQueuedBehindACommitIsAnsweredOnceItIsDurable) {
  LockedAudit locked("20s");
  GatewayHarness& gw = locked.gw;
  ClientSocket client(gw.port());
  locked.SendRefusalAndWhoami(client, "Connection: close\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_FALSE(client.AnythingArrived());  // neither answer nor end
  EXPECT_TRUE(gw.AuditRows().empty());
  locked.locker.exec("ROLLBACK");

  const httplib::Result f = locked.first.get();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->status, 403);
  const RawReply reply = client.ReadUntilClosed(std::chrono::seconds(20));
  ExpectTwoAnswersInOrder(reply, {403, 200}, "second-refusal", "after-refusal");
  EXPECT_NE(reply.bytes.find("\"reason\":\"policy_denied\""), std::string::npos)
      << reply.bytes;

  const auto rows = gw.AuditRows();
  ASSERT_EQ(rows.size(), 3u);
  std::size_t refusals = 0;
  for (const nlohmann::json& row : rows) {
    if (row["principal"] == "mallory") {
      ++refusals;
      EXPECT_EQ(row["stage"], "decision");
      EXPECT_EQ(row["reason"], "policy_denied");
      EXPECT_EQ(row["response_status"], 403);
    }
  }
  EXPECT_EQ(refusals, 2u);
  EXPECT_EQ(rows[2]["request_id"], "after-refusal");
  EXPECT_TRUE(locked.upstream.Received().empty());
  EXPECT_EQ(
      MetricValue(gw.Metrics(),
                  R"(agni_gateway_requests_total{code="403",route="release"})"),
      2);
}

// A refusal whose record cannot be committed is a 503 audit_unavailable,
// whether its own thread led the commit or another did; the held 403 never
// goes, the connection ends after the 503, and what was pipelined behind it
// is never handled.
TEST(HeldRefusalTest, ARefusalThatCannotBeRecordedIs503AndEndsItsConnection) {
  LockedAudit locked("500ms");
  GatewayHarness& gw = locked.gw;
  ClientSocket client(gw.port());
  locked.SendRefusalAndWhoami(client, "");
  ClientSocket alone(gw.port());  // nothing pipelined
  ASSERT_TRUE(alone.Send(Refusal(gw, "X-Request-Id: third-refusal\r\n")));
  // Every commit fails while the lock is held: the answers come meanwhile,
  // and each connection ends at once (not after its 5 s keep-alive).
  const RawReply reply = client.ReadUntilClosed(std::chrono::seconds(4));
  const RawReply third = alone.ReadUntilClosed(std::chrono::seconds(4));
  const httplib::Result f = locked.first.get();
  // Long enough for a commit of the pipelined whoami, had it been handled,
  // to fail and be counted.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  locked.locker.exec("ROLLBACK");

  ASSERT_TRUE(f);
  EXPECT_EQ(f->status, 503);
  EXPECT_EQ(Body(f)["reason"], "audit_unavailable");
  EXPECT_EQ(reply.statuses(), std::vector<int>{503}) << reply.bytes;
  EXPECT_TRUE(reply.closed);
  const std::size_t head_end = reply.bytes.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << reply.bytes;
  const std::string head = reply.bytes.substr(0, head_end + 2);
  EXPECT_EQ(head.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("Connection: close\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Request-Id: second-refusal\r\n"), std::string::npos)
      << head;
  EXPECT_NE(head.find("Content-Type: application/problem+json\r\n"),
            std::string::npos)
      << head;
  const json body = json::parse(reply.bytes.substr(head_end + 4));
  EXPECT_EQ(body["reason"], "audit_unavailable");
  EXPECT_EQ(body["status"], 503);
  EXPECT_EQ(body["request_id"], "second-refusal");
  EXPECT_EQ(reply.bytes.find("after-refusal"), std::string::npos);
  EXPECT_EQ(third.statuses(), std::vector<int>{503}) << third.bytes;
  EXPECT_TRUE(third.closed);

  const std::string m = gw.Metrics();
  EXPECT_EQ(
      MetricValue(m,
                  R"(agni_gateway_requests_total{code="503",route="release"})"),
      3);
  EXPECT_EQ(MetricValue(
                m, R"(agni_gateway_requests_total{code="403",route="release"})")
                .value_or(0),
            0);
  EXPECT_EQ(
      MetricValue(
          m, R"(agni_gateway_request_duration_seconds_count{route="whoami"})")
          .value_or(0),
      0);
  EXPECT_GE(MetricValue(m, "agni_gateway_audit_write_failures_total"), 2);
  // Nothing was recorded, the pipelined whoami included; once the audit can
  // commit again, so is the next refusal.
  EXPECT_TRUE(gw.AuditRows().empty());
  auto again = gw.Client().Delete(ReleasePath("%2B15551239999"),
                                  Bearer(gw.mallory().token));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 403);
  ASSERT_EQ(gw.AuditRows().size(), 1u);
  EXPECT_EQ(gw.AuditRows()[0]["response_status"], 403);
  EXPECT_TRUE(locked.upstream.Received().empty());
}

TEST(UpstreamDownTest, UnreachableUpstreamIs502AndNothingWasSent) {
  GatewayHarness gw(
      {.upstream_base_url = "http://127.0.0.1:" + std::to_string(FreePort())});
  json outcome;
  ASSERT_NO_FATAL_FAILURE(ExpectFailedRelease(gw, "%2B15551230013", 502,
                                              "upstream_unreachable", outcome));
  EXPECT_EQ(outcome["outcome"], "not_sent");
  EXPECT_EQ(outcome["response_status"], 502);
}

}  // namespace
}  // namespace agni::testing
