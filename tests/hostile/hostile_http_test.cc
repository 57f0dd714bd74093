// Hostile HTTP against the real agni-gateway binary over raw sockets. Each
// case must end in a definite 4xx (or a closed connection), the fake upstream
// must receive nothing it should not, and the gateway must stay up and exit
// cleanly afterwards (under the sanitizer build, a report makes that exit
// non-zero). Effective limits are documented in tests/hostile/README.md.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <regex>

#include "tests/hostile/hostile_gateway.h"

namespace agni::testing {
namespace {

constexpr const char* kNumber = "%2B15551234567";

class HostileHttpTest : public ::testing::Test {
 protected:
  HostileHttpTest()
      : gw_(HostileGateway({.upstream_base_url = upstream_.url(),
                            .read_timeout = "1s",
                            .keep_alive_timeout = "1s"})) {}

  void TearDown() override {
    // Still serving: health and a normal authenticated call both work.
    EXPECT_TRUE(gw_.Live()) << gw_.Log();
    httplib::Client c("127.0.0.1", gw_.port());
    c.set_read_timeout(10, 0);
    auto res = c.Get("/v1/whoami", {{"Authorization", Bearer()}});
    ASSERT_TRUE(res) << gw_.Log();
    EXPECT_EQ(res->status, 200);
    const auto exit = gw_.Stop();
    ASSERT_TRUE(exit.has_value()) << "gateway did not stop";
    EXPECT_EQ(*exit, 0) << gw_.Log();
  }

  std::string Bearer() const { return "Bearer " + gw_.alice().token; }

  // A well-formed release request with `extra` header lines (each ending in
  // \r\n) and an optional raw tail after the blank line.
  std::string Release(const std::string& extra = "",
                      const std::string& target = ReleasePath(kNumber),
                      const std::string& method = "DELETE",
                      const std::string& version = "HTTP/1.1") const {
    return method + " " + target + " " + version +
           "\r\nHost: 127.0.0.1\r\nAuthorization: " + Bearer() + "\r\n" +
           extra + "\r\n";
  }

  static std::string Reason(const RawReply& r) {
    const std::size_t at = r.bytes.find("\r\n\r\n");
    if (at == std::string::npos) return "";
    const auto j =
        nlohmann::json::parse(r.bytes.substr(at + 4), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("reason")) return "";
    return j["reason"].get<std::string>();
  }

  void ExpectNothingForwarded() {
    EXPECT_TRUE(upstream_.Received().empty())
        << "the upstream received " << upstream_.Received().size()
        << " request(s), first: " << upstream_.Received()[0].target;
  }

  FakeUpstream upstream_;
  GatewayProcess gw_;
};

TEST_F(HostileHttpTest, ControlWellFormedReleaseIsForwardedOnce) {
  // Proves the raw client and the fixture work, so the refusals below mean
  // something.
  const RawReply r = RawExchange(gw_.port(), Release());
  EXPECT_EQ(r.status(), 200) << r.bytes;
  ASSERT_EQ(upstream_.Received().size(), 1u);
  EXPECT_EQ(upstream_.Received()[0].target, ReleasePath(kNumber));
}

TEST_F(HostileHttpTest, OversizedRequestLineIs414) {
  const std::string target =
      "/api/v1/phone-numbers/%2B1555" + std::string(9000, '1') + "/release/";
  const RawReply r = RawExchange(gw_.port(), Release("", target));
  EXPECT_EQ(r.status(), 414) << r.bytes.substr(0, 300);
  ExpectNothingForwarded();
}

TEST_F(HostileHttpTest, OversizedHeaderLineIs400) {
  const RawReply r = RawExchange(
      gw_.port(), Release("X-Padding: " + std::string(9000, 'a') + "\r\n"));
  EXPECT_EQ(r.status(), 400) << r.bytes.substr(0, 300);
  ExpectNothingForwarded();
}

TEST_F(HostileHttpTest, ThousandsOfHeadersAre431AndClosed) {
  std::string many;
  for (int i = 0; i < 5000; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  const RawReply r =
      RawExchange(gw_.port(), Release(many), /*wait_for_close=*/true);
  EXPECT_EQ(r.status(), 431) << r.bytes.substr(0, 300);
  EXPECT_EQ(Reason(r), "invalid_request");
  EXPECT_TRUE(r.closed);
  ExpectNothingForwarded();
}

TEST_F(HostileHttpTest, HeadersJustUnderTheCountLimitAreServed) {
  std::string some;
  for (int i = 0; i < 90; ++i) some += "X-H" + std::to_string(i) + ": v\r\n";
  const RawReply r = RawExchange(gw_.port(), Release(some));
  EXPECT_EQ(r.status(), 200) << r.bytes.substr(0, 300);
  EXPECT_EQ(upstream_.Received().size(), 1u);
}

TEST_F(HostileHttpTest, BodyOnDeleteIs400AndTheConnectionIsClosed) {
  const RawReply r =
      RawExchange(gw_.port(), Release("Content-Length: 5\r\n") + "hello",
                  /*wait_for_close=*/true);
  EXPECT_EQ(r.status(), 400) << r.bytes;
  EXPECT_EQ(Reason(r), "invalid_request");
  EXPECT_TRUE(r.closed);
  ExpectNothingForwarded();
  const auto rows = gw_.AuditRows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["reason"], "invalid_request");
  EXPECT_EQ(rows[0]["response_status"], 400);
}

TEST_F(HostileHttpTest, LargeBodyIsRefusedWithoutBeingRead) {
  const RawReply r = RawExchange(
      gw_.port(),
      Release("Content-Length: 4000000\r\n") + std::string(4000000, 'x'),
      /*wait_for_close=*/true);
  EXPECT_TRUE(r.status() == 400 || r.status() == 413) << r.bytes.substr(0, 300);
  EXPECT_TRUE(r.closed);
  ExpectNothingForwarded();
}

TEST_F(HostileHttpTest,
       ContentLengthWithTransferEncodingCannotSmuggleARequest) {
  // The classic CL.TE desync: whichever framing a parser picks, the bytes of
  // the second DELETE must never be executed as a request.
  const std::string smuggled =
      "DELETE " + ReleasePath("%2B15550009999") +
      " HTTP/1.1\r\nHost: x\r\nAuthorization: " + Bearer() + "\r\n\r\n";
  const std::string chunked = "0\r\n\r\n" + smuggled;
  const RawReply r =
      RawExchange(gw_.port(),
                  Release("Content-Length: " + std::to_string(chunked.size()) +
                          "\r\nTransfer-Encoding: chunked\r\n") +
                      chunked,
                  /*wait_for_close=*/true);
  EXPECT_EQ(r.statuses(), std::vector<int>{400}) << r.bytes;
  EXPECT_TRUE(r.closed);
  ExpectNothingForwarded();
}

TEST_F(HostileHttpTest, MalformedChunkedBodyIs400) {
  for (const std::string& body :
       {std::string("zz\r\nhello\r\n0\r\n\r\n"), std::string("5\r\nhel"),
        std::string("ffffffffffffffffffff\r\n")}) {
    const RawReply r = RawExchange(
        gw_.port(), Release("Transfer-Encoding: chunked\r\n") + body,
        /*wait_for_close=*/true);
    EXPECT_EQ(r.statuses(), std::vector<int>{400}) << r.bytes;
    EXPECT_TRUE(r.closed);
  }
  const RawReply r = RawExchange(
      gw_.port(), Release("Transfer-Encoding: gzip, chunked\r\n") + "0\r\n\r\n",
      /*wait_for_close=*/true);
  EXPECT_EQ(r.statuses(), std::vector<int>{400}) << r.bytes;
  ExpectNothingForwarded();
}

TEST_F(HostileHttpTest,
       CrLfInjectedIntoRequestIdNeverReachesAResponseOrTheUpstream) {
  const std::regex sane("[A-Za-z0-9._:-]{1,128}");
  for (const std::string& id : {std::string("abc\rSet-Cookie: pwned=1"),
                                std::string("abc%0d%0aSet-Cookie:%20pwned=1"),
                                std::string("abc\"}, {\"injected\": true")}) {
    const RawReply r =
        RawExchange(gw_.port(), Release("X-Request-Id: " + id + "\r\n"));
    EXPECT_EQ(r.status(), 200) << r.bytes;
    const auto ids = r.Header("X-Request-Id");
    ASSERT_EQ(ids.size(), 1u) << r.bytes;
    EXPECT_TRUE(std::regex_match(ids[0], sane)) << ids[0];
    EXPECT_TRUE(r.Header("Set-Cookie").empty()) << r.bytes;
    EXPECT_EQ(r.bytes.find("pwned"), std::string::npos) << r.bytes;
  }
  const auto received = upstream_.Received();
  ASSERT_EQ(received.size(), 3u);
  for (const auto& req : received) {
    EXPECT_EQ(req.headers.count("Set-Cookie"), 0u);
    for (const auto& [name, value] : req.headers) {
      EXPECT_EQ(value.find("pwned"), std::string::npos) << name;
      EXPECT_EQ(value.find('\r'), std::string::npos) << name;
    }
    auto it = req.headers.find("X-Request-Id");
    ASSERT_NE(it, req.headers.end());
    EXPECT_TRUE(std::regex_match(it->second, sane)) << it->second;
  }
  // A bare LF ends the header line, so the rest becomes a header of its own:
  // here a second credential, which is refused rather than guessed at.
  const RawReply lf = RawExchange(
      gw_.port(),
      Release("X-Request-Id: abc\nX-Api-Key: " + gw_.olga().token + "\r\n"));
  EXPECT_EQ(lf.status(), 401) << lf.bytes;
  EXPECT_EQ(upstream_.Received().size(), 3u);
}

TEST_F(HostileHttpTest, SecondAuthorizationHeaderIs401) {
  const RawReply two = RawExchange(
      gw_.port(),
      Release("Authorization: Bearer " + gw_.olga().token + "\r\n"));
  EXPECT_EQ(two.status(), 401) << two.bytes;
  EXPECT_EQ(Reason(two), "unauthenticated");
  const RawReply mixed = RawExchange(
      gw_.port(), Release("X-Api-Key: " + gw_.alice().token + "\r\n"));
  EXPECT_EQ(mixed.status(), 401) << mixed.bytes;
  ExpectNothingForwarded();
}

TEST_F(HostileHttpTest, TokenInTheQueryStringIsNotACredential) {
  const std::string token = gw_.alice().token;
  for (const char* q : {"?access_token=", "?api_key=", "?token="}) {
    const std::string req = "DELETE " + ReleasePath(kNumber) + q + token +
                            " HTTP/1.1\r\nHost: x\r\n\r\n";
    const RawReply r = RawExchange(gw_.port(), req);
    EXPECT_EQ(r.status(), 401) << r.bytes;
    EXPECT_EQ(r.bytes.find(token), std::string::npos);
  }
  // With a valid header the query is still refused, never forwarded.
  const RawReply r = RawExchange(
      gw_.port(), Release("", ReleasePath(kNumber) + "?api_key=" + token));
  EXPECT_EQ(r.status(), 400) << r.bytes;
  EXPECT_EQ(Reason(r), "invalid_phone_number");
  ExpectNothingForwarded();
  // The audit keeps the path without its query, so the token is not there.
  for (const auto& row : gw_.AuditRows()) {
    EXPECT_EQ(row.dump().find(token), std::string::npos) << row.dump();
  }
  EXPECT_EQ(gw_.Log().find(token), std::string::npos);
}

TEST_F(HostileHttpTest, Http10RequestIsServedAndTheConnectionClosed) {
  const RawReply r = RawExchange(
      gw_.port(), Release("", ReleasePath(kNumber), "DELETE", "HTTP/1.0"),
      /*wait_for_close=*/true);
  EXPECT_EQ(r.status(), 200) << r.bytes;
  EXPECT_TRUE(r.closed) << "HTTP/1.0 without keep-alive must be closed";
  EXPECT_EQ(upstream_.Received().size(), 1u);
}

// RFC 9112 section 3.2: an HTTP/1.1 request without exactly one Host header
// is answered 400, audited like other 400s, and never forwarded.
TEST_F(HostileHttpTest, Http11RequestWithoutHostIs400AuditedNotForwarded) {
  const RawReply r =
      RawExchange(gw_.port(), "DELETE " + ReleasePath(kNumber) +
                                  " HTTP/1.1\r\nAuthorization: " + Bearer() +
                                  "\r\nX-Request-Id: no-host-1\r\n\r\n");
  EXPECT_EQ(r.statuses(), std::vector<int>{400}) << r.bytes;
  EXPECT_NE(r.bytes.find("400 Bad Request"), std::string::npos) << r.bytes;
  EXPECT_EQ(Reason(r), "invalid_request") << r.bytes;
  EXPECT_EQ(r.Header("Content-Type"),
            std::vector<std::string>{"application/problem+json"});
  EXPECT_EQ(r.Header("X-Request-Id"), std::vector<std::string>{"no-host-1"});
  ExpectNothingForwarded();
  const auto rows = gw_.AuditRows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["request_id"], "no-host-1");
  EXPECT_EQ(rows[0]["reason"], "invalid_request");
  EXPECT_EQ(rows[0]["response_status"], 400);
  EXPECT_EQ(rows[0]["principal"], "alice");
}

TEST_F(HostileHttpTest, Http11RequestWithTwoHostHeadersIs400) {
  const RawReply r = RawExchange(gw_.port(), Release("Host: evil.example\r\n"));
  EXPECT_EQ(r.statuses(), std::vector<int>{400}) << r.bytes;
  EXPECT_EQ(Reason(r), "invalid_request") << r.bytes;
  ExpectNothingForwarded();
  const auto rows = gw_.AuditRows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["reason"], "invalid_request");
}

// Without a credential too; and like a 401 flood, such a flood does not grow
// the audit past the rejection ledger's burst (10 per peer and window): the
// rest are summarised when the window ends.
TEST_F(HostileHttpTest, Http11RequestsWithoutHostOrCredentialAre400Bounded) {
  for (int i = 0; i < 15; ++i) {
    const RawReply r = RawExchange(
        gw_.port(), "DELETE " + ReleasePath(kNumber) + " HTTP/1.1\r\n\r\n");
    EXPECT_EQ(r.statuses(), std::vector<int>{400}) << r.bytes;
    EXPECT_EQ(Reason(r), "invalid_request") << r.bytes;
  }
  ExpectNothingForwarded();
  const auto rows = gw_.AuditRows();
  EXPECT_EQ(rows.size(), 10u);
  for (const auto& row : rows) EXPECT_EQ(row["reason"], "invalid_request");
}

TEST_F(HostileHttpTest, Http10RequestWithoutHostIsServed) {
  const RawReply r =
      RawExchange(gw_.port(),
                  "DELETE " + ReleasePath(kNumber) +
                      " HTTP/1.0\r\nAuthorization: " + Bearer() + "\r\n\r\n",
                  /*wait_for_close=*/true);
  EXPECT_EQ(r.status(), 200) << r.bytes;
  EXPECT_EQ(upstream_.Received().size(), 1u);
}

TEST_F(HostileHttpTest, UnsupportedHttpVersionsAre400) {
  for (const char* version : {"HTTP/2.0", "HTTP/0.9", "HTTP/1.1x", "FOO"}) {
    const RawReply r = RawExchange(
        gw_.port(), Release("", ReleasePath(kNumber), "DELETE", version),
        /*wait_for_close=*/true);
    EXPECT_EQ(r.statuses(), std::vector<int>{400})
        << version << ": " << r.bytes;
    EXPECT_TRUE(r.closed) << version;
  }
  ExpectNothingForwarded();
}

TEST_F(HostileHttpTest, PipelinedRequestsAreAllAnsweredInOrder) {
  // RFC 9112 §9.3.2: every pipelined request is answered, in order; the
  // unauthenticated one in the middle changes nothing for its neighbours.
  const std::string second = "DELETE " + ReleasePath("%2B15550000002") +
                             " HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string third =
      "DELETE " + ReleasePath("%2B15550000003") +
      " HTTP/1.1\r\nHost: x\r\nAuthorization: " + Bearer() +
      "\r\nConnection: close\r\n\r\n";
  const RawReply r = RawExchange(gw_.port(), Release() + second + third,
                                 /*wait_for_close=*/true);
  EXPECT_EQ(r.statuses(), (std::vector<int>{200, 401, 200})) << r.bytes;
  EXPECT_TRUE(r.closed);
  const auto received = upstream_.Received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].target, ReleasePath(kNumber));
  EXPECT_EQ(received[1].target, ReleasePath("%2B15550000003"));
  // Intent + outcome for each release, one record for the 401.
  EXPECT_EQ(gw_.AuditRows().size(), 5u);
}

TEST_F(HostileHttpTest, PipelinedRequestAfterABodyIsNeverExecuted) {
  const std::string after =
      "DELETE " + ReleasePath("%2B15550000004") +
      " HTTP/1.1\r\nHost: x\r\nAuthorization: " + Bearer() + "\r\n\r\n";
  const RawReply r =
      RawExchange(gw_.port(), Release("Content-Length: 2\r\n") + "{}" + after,
                  /*wait_for_close=*/true);
  EXPECT_EQ(r.statuses(), std::vector<int>{400}) << r.bytes;
  EXPECT_TRUE(r.closed);
  ExpectNothingForwarded();
}

TEST_F(HostileHttpTest, UnknownAndWrongMethodsAreRefused) {
  const RawReply brew =
      RawExchange(gw_.port(), Release("", ReleasePath(kNumber), "BREW"));
  EXPECT_EQ(brew.status(), 400) << brew.bytes;
  const RawReply lower =
      RawExchange(gw_.port(), Release("", ReleasePath(kNumber), "delete"));
  EXPECT_EQ(lower.status(), 400) << lower.bytes;
  for (const char* m : {"PATCH", "POST", "PUT", "GET", "OPTIONS"}) {
    const RawReply r =
        RawExchange(gw_.port(), Release("", ReleasePath(kNumber), m));
    EXPECT_EQ(r.status(), 405) << m << ": " << r.bytes;
    EXPECT_EQ(r.Header("Allow"), std::vector<std::string>{"DELETE"}) << m;
  }
  const RawReply connect =
      RawExchange(gw_.port(), Release("", "evil.example:443", "CONNECT"));
  EXPECT_GE(connect.status(), 400) << connect.bytes;
  EXPECT_LT(connect.status(), 500) << connect.bytes;
  ExpectNothingForwarded();
}

TEST_F(HostileHttpTest, AbsoluteFormTargetNamingAnotherHostIsNotProxied) {
  for (const std::string& target :
       {"http://evil.example" + ReleasePath(kNumber),
        "https://evil.example:443" + ReleasePath(kNumber),
        "//evil.example" + ReleasePath(kNumber)}) {
    const RawReply r = RawExchange(gw_.port(), Release("", target));
    EXPECT_EQ(r.status(), 404) << target << ": " << r.bytes;
    EXPECT_EQ(Reason(r), "not_found");
  }
  ExpectNothingForwarded();
  // A Host header naming another host changes nothing: the release goes to
  // the configured upstream, which sees its own host name.
  const std::string req =
      "DELETE " + ReleasePath(kNumber) +
      " HTTP/1.1\r\nHost: evil.example\r\nAuthorization: " + Bearer() +
      "\r\n\r\n";
  const RawReply r = RawExchange(gw_.port(), req);
  EXPECT_EQ(r.status(), 200) << r.bytes;
  const auto received = upstream_.Received();
  ASSERT_EQ(received.size(), 1u);
  auto host = received[0].headers.find("Host");
  ASSERT_NE(host, received[0].headers.end());
  EXPECT_EQ(host->second.find("evil"), std::string::npos) << host->second;
}

TEST_F(HostileHttpTest, NulAndControlBytesInTheTargetAreRefused) {
  for (const std::string& target :
       {ReleasePath("%2B1555") + std::string("\0", 1) + "1234567",
        ReleasePath("%2B1555%001234567"), ReleasePath("%2B1555\t1234567")}) {
    const RawReply r = RawExchange(gw_.port(), Release("", target));
    EXPECT_GE(r.status(), 400) << r.bytes;
    EXPECT_LT(r.status(), 500) << r.bytes;
  }
  ExpectNothingForwarded();
}

TEST_F(HostileHttpTest, AStalledRequestIsCutOffAfterTheReadTimeout) {
  // A slowloris that never finishes its headers is disconnected once
  // server.read_timeout (1s here) passes with nothing received. The bound
  // below is generous on purpose: it proves the cut, not its speed.
  const auto started = std::chrono::steady_clock::now();
  const RawReply r = RawExchange(
      gw_.port(), "DELETE " + ReleasePath(kNumber) + " HTTP/1.1\r\nHost: x\r\n",
      /*wait_for_close=*/true, std::chrono::seconds(30));
  EXPECT_TRUE(r.closed);
  EXPECT_LT(std::chrono::steady_clock::now() - started,
            std::chrono::seconds(30));
  ExpectNothingForwarded();
}

// A client that asks `Expect: 100-continue` holds its body back until the
// interim answer arrives: that answer must be sent before the gateway waits
// for the body, not kept with the final answer until the read times out.
TEST_F(HostileHttpTest, AnInterimContinueArrivesBeforeTheBodyIsSent) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(gw_.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string body = R"({"reason":"checked"})";
  const std::string head =
      "POST /v1/approvals/no-such-approval/approve HTTP/1.1\r\n"
      "Host: 127.0.0.1\r\nAuthorization: " +
      Bearer() +
      "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n";
  ASSERT_EQ(send(fd, head.data(), head.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(head.size()));
  // Reads until `bytes` holds `marker` or 5 s pass (the gateway's read
  // timeout is 1 s: an interim answer held back would come only after it).
  std::string bytes;
  auto read_until = [&](const std::string& marker) {
    for (int round = 0; round < 50 && bytes.find(marker) == std::string::npos;
         ++round) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      bytes.append(buf, static_cast<std::size_t>(n));
    }
  };
  read_until("\r\n\r\n");
  EXPECT_EQ(bytes, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_EQ(send(fd, body.data(), body.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(body.size()));
  bytes.clear();
  read_until("}");
  close(fd);
  EXPECT_EQ(bytes.rfind("HTTP/1.1 404 ", 0), 0u) << bytes;
  EXPECT_NE(bytes.find("\"reason\":\"not_found\""), std::string::npos) << bytes;
}

}  // namespace
}  // namespace agni::testing
