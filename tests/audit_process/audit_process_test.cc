// The audit log as an operator and an auditor meet it, through the real
// binary: SIGKILL at random moments under load (nothing acknowledged is
// lost, every intent is closed, `audit verify` passes), a full disk (503,
// nothing forwarded, recovery on its own), the auditors-only query API, a
// broken chain stopping `serve`, and no secret in any file the gateway writes.
#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/crypto.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/helpers.h"
#include "tests/support/process.h"

namespace agni::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Runs the binary to completion; returns its exit code, output in `out`.
int RunTool(const std::vector<std::string>& args, std::string* out = nullptr) {
  CommandResult result = RunGateway(args);
  if (out) *out = std::move(result.output);
  return result.exit_code;
}

// A gateway config in a folder, in front of `upstream`: users, policy,
// signing key, audit path.
class Deployment {
 public:
  explicit Deployment(const FakeUpstream& upstream,
                      std::string audit_path = "audit.db")
      : people_{{"alice", {"support"}, NewToken()},
                {"mallory", {"contractors"}, NewToken()},
                {"carl", {"compliance"}, NewToken()}} {
    std::string out;
    EXPECT_EQ(RunTool({"audit", "keygen", "--private", dir_.File("sign.pem"),
                       "--public", dir_.File("sign.pub")},
                      &out),
              0)
        << out;
    audit_path_ =
        audit_path.starts_with("/") ? audit_path : dir_.File(audit_path);
    dir_.Write("fingerprint.key", RandomBytes(32));
    GatewayConfig{.upstream_base_url = upstream.url(),
                  .users = people_,
                  .policy_json =
                      R"({"rules":[{"id":"support-sandbox","effect":"allow",)"
                      R"("groups":["support"],"numbers":["+1555*"]}]})",
                  .patch = {{"upstream", {{"read_timeout", "5s"}}},
                            {"server", {{"threads", 16}}},
                            {"audit",
                             {{"path", audit_path_},
                              {"busy_timeout", "500ms"},
                              {"signing_key_file", "sign.pem"},
                              {"checkpoint_interval", "1s"},
                              {"fingerprint_key_file", "fingerprint.key"}}}}}
        .WriteTo(dir_);
  }

  // `serve` on this config; the test waits for it to listen (or exit).
  GatewayProcess::Options Serve() const {
    return {.config_file = config(), .wait_listening = false};
  }
  std::string config() const { return dir_.File("gateway.json"); }
  std::string db() const { return audit_path_; }
  std::string pubkey() const { return dir_.File("sign.pub"); }
  std::string File(const std::string& n) const { return dir_.File(n); }
  std::string log() const { return dir_.File("gateway.log"); }
  const TestUser& alice() const { return people_[0]; }
  const TestUser& mallory() const { return people_[1]; }
  const TestUser& carl() const { return people_[2]; }
  const std::vector<TestUser>& people() const { return people_; }

 private:
  TempDir dir_;
  std::vector<TestUser> people_;
  std::string audit_path_;
};

httplib::Headers Auth(const TestUser& p, const std::string& request_id = "") {
  httplib::Headers h = Bearer(p.token);
  if (!request_id.empty()) h.emplace("X-Request-Id", request_id);
  return h;
}

// The page `auditor` gets for GET /v1/audit`query`; on anything but a 200
// the test fails and the page has no records.
nlohmann::json Search(httplib::Client& c, const TestUser& auditor,
                      const std::string& query) {
  auto r = c.Get("/v1/audit" + query, Auth(auditor));
  if (!r || r->status != 200) {
    ADD_FAILURE() << query << ": " << (r ? r->body : "no answer");
    return {{"records", nlohmann::json::array()}};
  }
  return nlohmann::json::parse(r->body);
}

// request_id -> stages of its records, plus the whole rows.
struct AuditView {
  std::multimap<std::string, nlohmann::json> by_request;
  std::vector<nlohmann::json> rows;
};

AuditView ReadAudit(const std::string& db) {
  AuditView v;
  v.rows = ReadAuditRows(db);
  for (const nlohmann::json& row : v.rows) {
    if (row.contains("request_id")) {
      v.by_request.emplace(row["request_id"].get<std::string>(), row);
    }
  }
  return v;
}

bool HasStage(const AuditView& v, const std::string& id,
              const std::string& stage) {
  auto [b, e] = v.by_request.equal_range(id);
  for (auto it = b; it != e; ++it) {
    if (it->second.value("stage", "") == stage) return true;
  }
  return false;
}

// --- crash ----------------------------------------------------------------

TEST(CrashTest, SigkillUnderLoadLosesNothingAcknowledgedAndLeavesAValidChain) {
  FakeUpstream upstream;
  FakeUpstream::Reply slow;
  slow.delay = 25ms;  // keeps releases in flight when the kill lands
  upstream.SetReply(slow);
  Deployment d(upstream);

  struct Ack {
    std::string id;
    int status;
    bool release;
  };
  std::mutex acks_mu;
  std::vector<Ack> acks;
  std::atomic<int> port{0};
  std::atomic<bool> stop{false};
  std::atomic<int> counter{0};
  auto client = [&](int seed) {
    std::mt19937 rng(seed);
    while (!stop) {
      const int p = port.load();
      if (p == 0) {
        std::this_thread::sleep_for(2ms);
        continue;
      }
      httplib::Client c("127.0.0.1", p);
      c.set_connection_timeout(1, 0);
      c.set_read_timeout(3, 0);
      const int n = counter++;
      const std::string id = "crash-" + std::to_string(n);
      const int kind = static_cast<int>(rng() % 10);
      char number[32];
      std::snprintf(number, sizeof number, "+1555%07d", n);
      const TestUser& who = kind < 7 ? d.alice() : d.mallory();
      auto res = c.Delete(ReleasePath(number), Auth(who, id));
      if (res) {
        std::lock_guard lock(acks_mu);
        acks.push_back({id, res->status, kind < 7});
      }
    }
  };

  constexpr int kKills = 20;
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) clients.emplace_back(client, 1000 + i);
  std::mt19937 rng(std::random_device{}());
  const auto started = Clock::now();
  for (int i = 0; i < kKills; ++i) {
    GatewayProcess gw(d.Serve());
    ASSERT_TRUE(gw.WaitListening()) << "start " << i << ":\n" << gw.Log();
    port = gw.port();
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 500));
    gw.Kill();
    port = 0;
  }
  stop = true;
  for (std::thread& t : clients) t.join();
  const auto load_time = Clock::now() - started;

  // One more start closes the intents the kills left open; then a clean stop.
  {
    GatewayProcess gw(d.Serve());
    ASSERT_TRUE(gw.WaitListening()) << gw.Log();
    EXPECT_EQ(gw.Stop(20s), std::optional<int>(0)) << gw.Log();
  }

  std::string out;
  EXPECT_EQ(RunTool({"audit", "verify", "--db", d.db(), "--pubkey", d.pubkey()},
                    &out),
            0)
      << out;
  const AuditView audit = ReadAudit(d.db());
  std::size_t released = 0, denied = 0;
  for (const Ack& a : acks) {
    SCOPED_TRACE(a.id + " answered " + std::to_string(a.status));
    if (a.status == 200) {
      ++released;
      EXPECT_TRUE(HasStage(audit, a.id, "intent"));
      EXPECT_TRUE(HasStage(audit, a.id, "outcome"));
    } else {
      if (a.status == 403) ++denied;
      EXPECT_TRUE(audit.by_request.count(a.id) > 0);
    }
  }
  std::size_t forwarded = 0;
  for (const ReceivedRequest& r : upstream.Received()) {
    auto it = r.headers.find("X-Request-Id");
    ASSERT_NE(it, r.headers.end());
    ++forwarded;
    EXPECT_TRUE(HasStage(audit, it->second, "intent"))
        << it->second << " reached the upstream without an intent record";
  }
  std::size_t unknown = 0;
  for (const nlohmann::json& row : audit.rows) {
    if (row.value("reason", "") == "recovered_at_start") ++unknown;
  }
  // Not vacuous: there was load, and kills landed on releases in flight.
  EXPECT_GT(released, 20u);
  EXPECT_GT(denied, 5u);
  EXPECT_GE(unknown, 1u);
  std::cout << "[ crash    ] " << kKills << " SIGKILLs in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(load_time)
                   .count()
            << " ms; " << acks.size() << " answered (" << released
            << " released, " << denied << " denied), " << forwarded
            << " forwarded, " << unknown << " intents closed as unknown, "
            << audit.rows.size() << " records\n";
}

// --- query API, head, export, secrets -------------------------------------

TEST(AuditApiTest,
     AuditorsSearchPagesAndAnchorTheHeadOthersAreRefusedAndAudited) {
  FakeUpstream upstream;
  Deployment d(upstream);
  GatewayProcess gw(d.Serve());
  ASSERT_TRUE(gw.WaitListening()) << gw.Log();
  httplib::Client c("127.0.0.1", gw.port());
  c.set_read_timeout(5, 0);
  for (const char* n : {"+15550000001", "+15550000002", "+15550000003"}) {
    auto r = c.Delete(ReleasePath(n), Auth(d.alice()));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  auto denied = c.Delete(ReleasePath("+15550000004"), Auth(d.mallory()));
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);

  // Not an auditor: 403 forbidden, and the refusal is in the log.
  auto refused = c.Get("/v1/audit", Auth(d.alice(), "peek-1"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  EXPECT_NE(refused->body.find("\"reason\":\"forbidden\""), std::string::npos);
  auto refused_head = c.Get("/v1/audit/head", Auth(d.mallory(), "peek-2"));
  ASSERT_TRUE(refused_head);
  EXPECT_EQ(refused_head->status, 403);
  auto anonymous = c.Get("/v1/audit");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  // A wrong credential is identified by its keyed fingerprint, never itself.
  const std::string wrong = NewToken();
  for (const char* id : {"wrong-1", "wrong-2"}) {
    httplib::Headers h{{"X-Api-Key", wrong}, {"X-Request-Id", id}};
    auto r = c.Delete(ReleasePath("+15550000009"), h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
  }

  // An auditor pages through alice's records by seq.
  nlohmann::json p1 = Search(c, d.carl(), "?user=alice&limit=4");
  ASSERT_EQ(p1["records"].size(), 4u);
  for (const auto& r : p1["records"]) EXPECT_EQ(r["principal"], "alice");
  EXPECT_TRUE(p1["records"][0].contains("hash"));
  const std::int64_t next = p1["next_after_seq"].get<std::int64_t>();
  nlohmann::json p2 = Search(
      c, d.carl(), "?user=alice&limit=4&after_seq=" + std::to_string(next));
  ASSERT_GE(p2["records"].size(), 2u);
  EXPECT_GT(p2["records"][0]["seq"].get<std::int64_t>(), next);
  nlohmann::json bn =
      Search(c, d.carl(), "?phone_number=%2B15550000004&decision=deny");
  ASSERT_EQ(bn["records"].size(), 1u);
  EXPECT_EQ(bn["records"][0]["principal"], "mallory");
  nlohmann::json rf = Search(c, d.carl(), "?decision=deny&user=alice");
  ASSERT_EQ(rf["records"].size(), 1u);
  EXPECT_EQ(rf["records"][0]["reason"], "forbidden");
  EXPECT_EQ(rf["records"][0]["path"], "/v1/audit");
  EXPECT_EQ(rf["records"][0]["request_id"], "peek-1");
  // Each read is audited with what was searched for.
  nlohmann::json se = Search(c, d.carl(), "?user=carl&limit=1000");
  ASSERT_GE(se["records"].size(), 4u);
  EXPECT_EQ(se["records"][0]["path"], "/v1/audit");
  EXPECT_EQ(se["records"][0]["detail"], "query: user=alice&limit=4");
  EXPECT_EQ(se["records"][0]["decision"], "allow");
  auto bad = c.Get("/v1/audit?limit=0", Auth(d.carl()));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("limit"), std::string::npos);
  auto post = c.Post("/v1/audit", Auth(d.carl()), "", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);

  // The head is a signed checkpoint an operator can keep elsewhere.
  auto head = c.Get("/v1/audit/head", Auth(d.carl()));
  ASSERT_TRUE(head);
  ASSERT_EQ(head->status, 200);
  nlohmann::json h = nlohmann::json::parse(head->body);
  EXPECT_EQ(h["algorithm"], "ed25519");
  {
    std::ofstream f(d.File("head.json"));
    f << head->body;
  }
  // Verify and export work while the gateway runs.
  std::string out;
  EXPECT_EQ(RunTool({"audit", "verify", "--db", d.db(), "--pubkey", d.pubkey(),
                     "--checkpoint", d.File("head.json")},
                    &out),
            0)
      << out;
  EXPECT_EQ(gw.Stop(20s), std::optional<int>(0)) << gw.Log();

  EXPECT_EQ(
      RunTool({"audit", "export", "--db", d.db(), "--out", d.File("all.jsonl")},
              &out),
      0)
      << out;
  EXPECT_EQ(RunTool({"audit", "export", "--db", d.db(), "--format", "csv",
                     "--out", d.File("all.csv")},
                    &out),
            0)
      << out;
  EXPECT_EQ(RunTool({"audit", "verify", "--jsonl", d.File("all.jsonl")}, &out),
            0)
      << out;

  {
    const AuditView view = ReadAudit(d.db());
    std::vector<std::string> fingerprints;
    for (const char* id : {"wrong-1", "wrong-2"}) {
      auto it = view.by_request.find(id);
      ASSERT_NE(it, view.by_request.end());
      EXPECT_EQ(it->second["reason"], "unauthenticated");
      const std::string detail = it->second.value("detail", "");
      const std::size_t at = detail.find("hmac-sha256:");
      ASSERT_NE(at, std::string::npos) << detail;
      fingerprints.push_back(detail.substr(at, 12 + 32));
    }
    EXPECT_EQ(fingerprints[0], fingerprints[1]);  // the same credential
    EXPECT_EQ(fingerprints[0].find(Sha256Hex(wrong).substr(0, 32)),
              std::string::npos);
  }
  // Never a secret: not the API key, no token, no token hash, anywhere.
  std::vector<std::string> secrets = {kApiKey, wrong, Sha256Hex(wrong),
                                      ReadFile(d.File("fingerprint.key"))};
  for (const TestUser& p : d.people()) {
    secrets.push_back(p.token);
    secrets.push_back(Sha256Hex(p.token));
  }
  for (const std::string& file :
       {d.db(), d.db() + "-wal", d.File("all.jsonl"), d.File("all.csv"),
        d.log(), d.File("head.json")}) {
    const std::string bytes = ReadFile(file);
    for (const std::string& s : secrets) {
      EXPECT_EQ(bytes.find(s), std::string::npos)
          << file << " contains a secret";
    }
  }
  EXPECT_GT(ReadFile(d.File("all.jsonl")).size(), 1000u);  // searched something
  EXPECT_GT(ReadFile(d.log()).size(), 100u);
}

TEST(AuditToolsTest, BrokenChainStopsServeAndVerifyNamesTheSeq) {
  FakeUpstream upstream;
  Deployment d(upstream);
  {
    GatewayProcess gw(d.Serve());
    ASSERT_TRUE(gw.WaitListening()) << gw.Log();
    httplib::Client c("127.0.0.1", gw.port());
    for (int i = 0; i < 3; ++i) {
      auto r = c.Delete(ReleasePath("+1555000000" + std::to_string(i)),
                        Auth(d.alice()));
      ASSERT_TRUE(r);
    }
    EXPECT_EQ(gw.Stop(20s), std::optional<int>(0));
  }
  std::string out;
  ASSERT_EQ(RunTool({"audit", "verify", "--db", d.db()}, &out), 0) << out;
  {
    SQLite::Database db(d.db(), SQLite::OPEN_READWRITE);
    db.exec("DROP TRIGGER audit_records_no_update");
    db.exec(
        "UPDATE audit_records SET phone_number = '+15559999999' WHERE seq = 3");
  }
  EXPECT_EQ(RunTool({"audit", "verify", "--db", d.db(), "--pubkey", d.pubkey()},
                    &out),
            1);
  EXPECT_NE(out.find("TAMPERED: first bad seq 3"), std::string::npos) << out;

  // Below the head it signed at its clean stop: start-up trusts its own
  // checkpoint, and the background verifier finds the break.
  {
    GatewayProcess gw(d.Serve());
    ASSERT_TRUE(gw.WaitListening()) << gw.Log();
    EXPECT_TRUE(WaitFor(
        [&] {
          auto r = gw.AdminClient().Get("/readyz");
          return r && r->status == 503 &&
                 r->body.find("audit chain broken at seq 3") !=
                     std::string::npos;
        },
        30s))
        << gw.Log();
    EXPECT_EQ(gw.Stop(20s), std::optional<int>(0));
  }
  // Nothing of its own to trust: the whole chain is re-hashed at start.
  {
    SQLite::Database db(d.db(), SQLite::OPEN_READWRITE);
    db.exec("DROP TRIGGER audit_checkpoints_no_delete");
    db.exec("DELETE FROM audit_checkpoints");
  }
  GatewayProcess gw(d.Serve());
  const std::optional<int> exit = gw.process().Wait(20s);
  ASSERT_TRUE(exit.has_value()) << "serve kept running on a broken chain";
  EXPECT_EQ(*exit, 1);
  EXPECT_NE(gw.Log().find("broken at seq 3"), std::string::npos) << gw.Log();
  EXPECT_NE(gw.Log().find("not starting"), std::string::npos);

  EXPECT_EQ(RunTool({"audit", "verify", "--db", d.File("nope.db")}, &out), 2);
  EXPECT_NE(out.find("UNREADABLE"), std::string::npos) << out;
}

// --- disk full -------------------------------------------------------------

// A small tmpfs mounted for the test's life; skipped where mounting is not
// allowed (no CAP_SYS_ADMIN).
class SmallFileSystem {
 public:
  explicit SmallFileSystem(const std::string& path) : path_(path) {
    fs::create_directories(path);
    mounted_ = ::mount("tmpfs", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                       "size=4m") == 0;
  }
  ~SmallFileSystem() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

 private:
  std::string path_;
  bool mounted_ = false;
};

void FillUp(const std::string& file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::string block(4096, 'f');
  while (::write(fd, block.data(), block.size()) > 0) {
  }
  ::close(fd);
}

TEST(DiskFullTest, ReleasesGet503NothingIsForwardedAndItRecoversByItself) {
  TempDir mount_dir;
  const std::string fs_dir = mount_dir.File("fs");
  SmallFileSystem small(fs_dir);
  if (!small.mounted()) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                 << "); needs root with CAP_SYS_ADMIN";
  }
  FakeUpstream upstream;
  Deployment d(upstream, fs_dir + "/audit.db");
  GatewayProcess gw(d.Serve());
  ASSERT_TRUE(gw.WaitListening()) << gw.Log();
  httplib::Client c("127.0.0.1", gw.port());
  c.set_read_timeout(10, 0);
  int n = 0;
  auto release = [&](const std::string& id) {
    char number[32];
    std::snprintf(number, sizeof number, "+1555%07d", n++);
    return c.Delete(ReleasePath(number), Auth(d.alice(), id));
  };
  auto first = release("before-full");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200);

  FillUp(fs_dir + "/filler");
  // SQLite may still reuse WAL space it already has; keep going until the
  // file system refuses (bounded).
  std::vector<std::string> refused;
  int accepted_while_full = 0;
  for (int i = 0; i < 2000 && refused.size() < 5; ++i) {
    const std::string id = "full-" + std::to_string(i);
    auto r = release(id);
    ASSERT_TRUE(r) << "the gateway stopped answering";
    if (r->status == 503) {
      EXPECT_NE(r->body.find("audit_unavailable"), std::string::npos);
      refused.push_back(id);
    } else {
      EXPECT_EQ(r->status, 200);
      ++accepted_while_full;
    }
  }
  ASSERT_EQ(refused.size(), 5u) << "the full disk never refused a write";
  std::set<std::string> forwarded;
  for (const ReceivedRequest& r : upstream.Received()) {
    forwarded.insert(r.headers.find("X-Request-Id")->second);
  }
  for (const std::string& id : refused) {
    EXPECT_EQ(forwarded.count(id), 0u) << id << " was forwarded without audit";
  }
  httplib::Client admin("127.0.0.1", gw.admin_port());
  auto live = admin.Get("/livez");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);

  const auto upstream_before = upstream.Received().size();
  fs::remove(fs_dir + "/filler");
  const auto freed = Clock::now();
  bool recovered = false;
  const auto deadline = Clock::now() + 15s;
  while (!recovered && Clock::now() < deadline) {
    auto r = release("after-" + std::to_string(n));
    ASSERT_TRUE(r);
    recovered = r->status == 200;
    if (!recovered) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(recovered) << "still refusing after space came back";
  EXPECT_EQ(upstream.Received().size(), upstream_before + 1);
  std::cout << "[ diskfull ] " << accepted_while_full
            << " releases fit in space SQLite already had, then "
            << refused.size() << " refused with 503; recovered "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   Clock::now() - freed)
                   .count()
            << " ms after space came back\n";
  EXPECT_EQ(gw.Stop(20s), std::optional<int>(0)) << gw.Log();

  // A restart closes any intent whose outcome could not be written; then the
  // whole log verifies.
  {
    GatewayProcess again(d.Serve());
    ASSERT_TRUE(again.WaitListening()) << again.Log();
    EXPECT_EQ(again.Stop(20s), std::optional<int>(0));
  }
  std::string out;
  EXPECT_EQ(RunTool({"audit", "verify", "--db", d.db(), "--pubkey", d.pubkey()},
                    &out),
            0)
      << out;
}

}  // namespace
}  // namespace agni::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::signal(SIGPIPE, SIG_IGN);
  return RUN_ALL_TESTS();
}
