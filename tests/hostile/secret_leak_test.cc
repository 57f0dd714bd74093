// Secret-leak proofs against the real binary: with a recognisable API key and
// recognisable user tokens, drive every endpoint and error path (including an
// upstream that echoes the request headers back in its body, its headers and
// its content type), then search every response, the process log, the metrics
// and the raw audit database bytes for the key, the tokens and the tokens'
// SHA-256 (hex and raw). The key must also never reach an upstream whose TLS
// handshake failed: a raw listener records every byte it was sent.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <future>

#include "base/crypto.h"
#include "tests/hostile/hostile_gateway.h"
#include "tests/support/pki.h"

namespace agni::testing {
namespace {

// The upstream for the leak test: echoes what it received in every place a
// careless proxy might copy back to its client.
class EchoingUpstream {
 public:
  EchoingUpstream() {
    server_.Delete(".*", [](const httplib::Request& req,
                            httplib::Response& res) {
      nlohmann::json h = nlohmann::json::object();
      for (const auto& [k, v] : req.headers) h[k] = v;
      const std::string key = req.get_header_value("X-Api-Key");
      res.set_header("X-Echo-Api-Key", key);
      res.set_header("Set-Cookie", "session=" + key);
      if (req.target.find("15550000001") != std::string::npos) {
        res.status = 500;  // error body echoing every header
        res.set_content(h.dump(), "application/json");
      } else if (req.target.find("15550000002") != std::string::npos) {
        res.status = 401;  // vendor-style "bad key" quoting the key
        res.set_content("invalid api key: " + key, "text/plain; key=" + key);
      } else if (req.target.find("15550000003") != std::string::npos) {
        res.status = 200;  // success false, key inside the envelope
        res.set_content(nlohmann::json{{"success", false},
                                       {"message", "key " + key + " refused"}}
                            .dump(),
                        "application/json");
      } else if (req.target.find("15550000004") != std::string::npos) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2500));
        res.set_content("{}", "application/json");  // too late: 504
      } else {
        res.set_content(R"({"success":true,"echo":)" + h.dump() + "}",
                        "application/json");
      }
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~EchoingUpstream() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

// A TCP listener that records every byte a client sends and never answers
// with TLS: the stand-in for a man in the middle.
class RawRecorder {
 public:
  int port() const { return listener_.port(); }
  int connections() const { return connections_; }
  std::string bytes() const {
    std::lock_guard lock(mu_);
    return bytes_;
  }

 private:
  void Serve(int c) {
    // Answer the ClientHello with garbage, then read what follows.
    ::send(c, "HTTP/1.1 200 OK\r\n\r\n", 19, MSG_NOSIGNAL);
    for (int i = 0; i < 40; ++i) {
      pollfd q{c, POLLIN, 0};
      if (::poll(&q, 1, 50) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      std::lock_guard lock(mu_);
      bytes_.append(buf, static_cast<std::size_t>(n));
    }
    ++connections_;
  }

  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::string bytes_;
  // Last: its thread stops before the members it uses go.
  LoopbackListener listener_{[this](int c) { Serve(c); }};
};

struct Secret {
  std::string label;
  std::string value;
};

std::vector<Secret> SecretsOf(const GatewayProcess& gw) {
  std::vector<Secret> s = {{"api key", kLeakApiKey},
                           {"api key sha256", Sha256Hex(kLeakApiKey)}};
  for (const TestUser& u : gw.users()) {
    s.push_back({u.name + " token", u.token});
    s.push_back({u.name + " token sha256 hex", Sha256Hex(u.token)});
    s.push_back({u.name + " token sha256 raw", Sha256Raw(u.token)});
  }
  return s;
}

// Fails the test naming the secret and where it was found.
void ExpectNoSecret(const std::vector<Secret>& secrets,
                    const std::string& where, const std::string& text) {
  for (const Secret& s : secrets) {
    const std::size_t at = text.find(s.value);
    EXPECT_EQ(at, std::string::npos)
        << s.label << " leaked into " << where << ": ..."
        << text.substr(at == std::string::npos ? 0 : (at > 60 ? at - 60 : 0),
                       160)
        << "...";
  }
}

std::string Dump(const httplib::Result& r) {
  if (!r) return "(no response: " + httplib::to_string(r.error()) + ")";
  std::string s = "HTTP " + std::to_string(r->status) + "\n";
  for (const auto& [k, v] : r->headers) s += k + ": " + v + "\n";
  return s + "\n" + r->body;
}

TEST(SecretLeakTest, NoEndpointOrErrorPathLeaksTheKeyTokensOrTheirHashes) {
  EchoingUpstream upstream;
  auto gw = std::make_unique<GatewayProcess>(
      HostileGateway({.upstream_base_url =
                          "http://127.0.0.1:" + std::to_string(upstream.port()),
                      .upstream_read_timeout = "1s"}));
  const auto secrets = SecretsOf(*gw);
  const std::string alice = gw->alice().token;
  const std::string olga = gw->olga().token;
  std::string responses;            // every byte every client got back
  std::map<std::string, int> seen;  // what each case returned

  httplib::Client c("127.0.0.1", gw->port());
  c.set_read_timeout(10, 0);
  auto drive = [&](const std::string& name, const httplib::Result& r) {
    responses += "== " + name + "\n" + Dump(r) + "\n";
    seen[name] = r ? r->status : 0;
  };
  const httplib::Headers a = Bearer(alice);
  const httplib::Headers o = {{"X-Api-Key", olga}};
  drive("whoami bearer", c.Get("/v1/whoami", a));
  drive("whoami api key", c.Get("/v1/whoami", o));
  drive("release ok", c.Delete(ReleasePath("%2B15551230000"), a));
  drive("upstream 500 echo", c.Delete(ReleasePath("%2B15550000001"), a));
  drive("upstream 401 quoting key", c.Delete(ReleasePath("%2B15550000002"), o));
  drive("upstream success false", c.Delete(ReleasePath("%2B15550000003"), a));
  drive("upstream timeout", c.Delete(ReleasePath("%2B15550000004"), a));
  drive("policy deny", c.Delete(ReleasePath("%2B19115550100"), a));
  drive("implicit deny", c.Delete(ReleasePath("%2B14155550100"), a));
  drive("bad token", c.Delete(ReleasePath("%2B15551230000"),
                              {{"Authorization", "Bearer " + alice + "x"}}));
  drive("near-miss token", c.Delete(ReleasePath("%2B15551230000"),
                                    {{"X-Api-Key", alice.substr(1)}}));
  drive("basic scheme", c.Delete(ReleasePath("%2B15551230000"),
                                 {{"Authorization", "Basic " + alice}}));
  drive("two credentials",
        c.Delete(ReleasePath("%2B15551230000"),
                 {{"Authorization", "Bearer " + alice}, {"X-Api-Key", olga}}));
  drive("vendor key as bearer",
        c.Delete(ReleasePath("%2B15551230000"),
                 {{"Authorization", std::string("Bearer ") + kLeakApiKey}}));
  drive("token in query",
        c.Delete(ReleasePath("%2B15551230000") + "?api_key=" + alice));
  drive("token in query with auth",
        c.Delete(ReleasePath("%2B15551230000") + "?token=" + olga, a));
  drive("token as number", c.Delete(ReleasePath(alice), a));
  drive("token in path", c.Get("/v1/" + alice, a));
  drive("wrong method",
        c.Post(ReleasePath("%2B15551230000"), a, alice, "text/plain"));
  drive("body on delete",
        c.Delete(ReleasePath("%2B15551230000"), a, alice, "text/plain"));
  drive("bad number", c.Delete(ReleasePath("%2B0123"), a));
  drive("not found", c.Get("/nope", a));
  drive("token as request id", c.Delete(ReleasePath("%2B15551230000"),
                                        {{"Authorization", "Bearer " + alice},
                                         {"X-Request-Id", olga}}));
  drive("unsafe request id",
        c.Get("/v1/whoami", {{"Authorization", "Bearer " + alice},
                             {"X-Request-Id", "id " + olga}}));
  // httplib's own parse errors, with a token in the offending header.
  responses += "== oversized header\n" +
               RawExchange(gw->port(),
                           "GET /v1/whoami HTTP/1.1\r\nAuthorization: Bearer " +
                               alice + std::string(9000, 'a') + "\r\n\r\n")
                   .bytes;
  responses +=
      "== oversized uri\n" +
      RawExchange(gw->port(), "GET /v1/" + alice + std::string(9000, 'a') +
                                  " HTTP/1.1\r\n\r\n")
          .bytes;
  // The admin listener.
  httplib::Client admin("127.0.0.1", gw->admin_port());
  admin.set_read_timeout(10, 0);
  drive("metrics", admin.Get("/metrics"));
  drive("livez", admin.Get("/livez"));
  drive("readyz", admin.Get("/readyz"));
  drive("admin with token", admin.Get("/metrics?token=" + alice, a));
  drive("admin not found", admin.Get("/" + alice));

  // The cases really happened as intended (otherwise the search proves little).
  EXPECT_EQ(seen["whoami bearer"], 200);
  EXPECT_EQ(seen["whoami api key"], 200);
  EXPECT_EQ(seen["release ok"], 200);
  EXPECT_EQ(seen["upstream 500 echo"], 500);
  EXPECT_EQ(seen["upstream 401 quoting key"], 401);
  EXPECT_EQ(seen["upstream success false"], 200);
  EXPECT_EQ(seen["upstream timeout"], 504);
  EXPECT_EQ(seen["policy deny"], 403);
  EXPECT_EQ(seen["implicit deny"], 403);
  EXPECT_EQ(seen["bad token"], 401);
  EXPECT_EQ(seen["two credentials"], 401);
  EXPECT_EQ(seen["token in query"], 401);
  EXPECT_EQ(seen["vendor key as bearer"], 401);
  EXPECT_EQ(seen["token as request id"], 200);
  EXPECT_EQ(seen["token in path"], 404);
  EXPECT_EQ(seen["wrong method"], 405);
  EXPECT_EQ(seen["body on delete"], 400);
  EXPECT_EQ(seen["metrics"], 200);
  // The upstream really did echo the key, so the scrubbing was exercised.
  ASSERT_NE(responses.find("[REDACTED]"), std::string::npos) << responses;

  const std::string metrics = gw->Metrics();
  ASSERT_NE(metrics.find("# TYPE"), std::string::npos);
  const auto rows = gw->AuditRows();
  EXPECT_GE(rows.size(), 20u);
  std::string audit_rows;
  for (const auto& row : rows) audit_rows += row.dump() + "\n";

  const auto exit = gw->Stop();
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(*exit, 0);
  const std::string log = gw->Log();
  const std::string db = gw->AuditDbBytes();
  ASSERT_FALSE(db.empty());

  ExpectNoSecret(secrets, "a response", responses);
  ExpectNoSecret(secrets, "the metrics", metrics);
  ExpectNoSecret(secrets, "the audit rows", audit_rows);
  ExpectNoSecret(secrets, "the audit database file", db);
  ExpectNoSecret(secrets, "the log", log);
}

TEST(SecretLeakTest, KeyIsNeverSentWhenTheUpstreamTlsHandshakeFails) {
  RawRecorder mitm;
  Pki pki;  // any CA will do: the recorder never completes a handshake
  GatewayProcess gw(HostileGateway(
      {.upstream_base_url = "https://127.0.0.1:" + std::to_string(mitm.port()),
       .ca_file = pki.File("ca.pem")}));
  httplib::Client c("127.0.0.1", gw.port());
  c.set_read_timeout(10, 0);
  auto res = c.Delete(ReleasePath("%2B15551230000"), Bearer(gw.alice().token));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 502);
  EXPECT_EQ(nlohmann::json::parse(res->body)["reason"], "upstream_tls");
  EXPECT_GE(mitm.connections(), 1);
  EXPECT_FALSE(mitm.bytes().empty()) << "the gateway never tried the handshake";
  EXPECT_EQ(mitm.bytes().find(kLeakApiKey), std::string::npos);
  EXPECT_EQ(mitm.bytes().find("X-Api-Key"), std::string::npos);
  const auto exit = gw.Stop();
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(*exit, 0);
  EXPECT_EQ(gw.Log().find(kLeakApiKey), std::string::npos);
}

TEST(SecretLeakTest, CheckConfigNeverPrintsTheKeyOrATokenHash) {
  TempDir dir;
  const std::string hash = Sha256Hex("LEAKCANARY-token-cfg");
  std::string upper = hash;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(ch));
  dir.Write("gateway.json",
            nlohmann::json{
                {"upstream", {{"base_url", "https://api.example.invalid"}}},
                {"audit", {{"path", "audit.db"}}},
                {"users",
                 {{{"name", "a"}, {"token_sha256", upper}},
                  {{"name", "b"}, {"token_sha256", hash + "0"}},
                  {{"name", "c"}, {"token_sha256", hash}},
                  {{"name", "c"}, {"token_sha256", hash}}}},
                {"policy_file", "policy.json"}}
                .dump());
  dir.Write("policy.json", R"({"rules":[]})");
  const CommandResult check =
      RunGateway({"check-config", "--config", dir.File("gateway.json")},
                 {{"AGNI_API_KEY", kLeakApiKey}});
  EXPECT_NE(check.exit_code, 0);
  const std::string& text = check.output;
  EXPECT_NE(text.find("token_sha256"), std::string::npos) << text;
  EXPECT_EQ(text.find(hash), std::string::npos) << text;
  EXPECT_EQ(text.find(upper), std::string::npos) << text;
  EXPECT_EQ(text.find(kLeakApiKey), std::string::npos) << text;
}

}  // namespace
}  // namespace agni::testing
