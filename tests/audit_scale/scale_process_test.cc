// The audit log at scale through the real binary: a tampered record below the
// trusted checkpoint no longer stops the start but is found by the background
// verifier (/readyz 503, log line with the seq); every signed checkpoint
// lands in audit.witness_dir too, and a witness that fails never fails a
// release; `audit tail --follow` prints what a serving gateway commits.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "audit/checkpoint.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/helpers.h"
#include "tests/support/process.h"

namespace agni::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A gateway config with a signing key, in front of `upstream`; `audit` is
// merged into the audit section.
class Deployment {
 public:
  Deployment(const FakeUpstream& upstream, nlohmann::json audit) {
    const CommandResult keygen =
        RunGateway({"audit", "keygen", "--private", dir_.File("sign.pem"),
                    "--public", dir_.File("sign.pub")});
    EXPECT_EQ(keygen.exit_code, 0) << keygen.output;
    audit["path"] = dir_.File("audit.db");
    audit["signing_key_file"] = "sign.pem";
    users_ = StandardUsers();
    config_ = {.upstream_base_url = upstream.url(),
               .users = users_,
               .patch = {{"audit", audit}}};
    config_.WriteTo(dir_);
  }

  // Rewrites the audit section (between runs).
  void SetAudit(const nlohmann::json& audit) {
    config_.patch["audit"].update(audit);
    config_.WriteTo(dir_);
  }

  GatewayProcess::Options Serve() const {
    return {.config_file = dir_.File("gateway.json"), .wait_listening = false};
  }
  std::string db() const { return dir_.File("audit.db"); }
  std::string File(const std::string& n) const { return dir_.File(n); }
  const TestUser& alice() const { return users_[0]; }

 private:
  TempDir dir_;
  std::vector<TestUser> users_;
  GatewayConfig config_;
};

int Release(const GatewayProcess& gw, const TestUser& user, int n,
            const std::string& request_id = "") {
  httplib::Client c("127.0.0.1", gw.port());
  httplib::Headers h = Bearer(user.token);
  if (!request_id.empty()) h.emplace("X-Request-Id", request_id);
  auto r = c.Delete(ReleasePath(Numbered("+155500", 10000 + n)), h);
  return r ? r->status : -1;
}

std::pair<int, std::string> Readyz(const GatewayProcess& gw) {
  auto r = gw.AdminClient().Get("/readyz");
  return r ? std::pair{r->status, r->body} : std::pair{-1, std::string()};
}

// The first log line whose "message" contains `text`, or null.
nlohmann::json LogLine(const GatewayProcess& gw, const std::string& text) {
  for (const nlohmann::json& line : gw.LogLines()) {
    if (line.value("message", "").find(text) != std::string::npos) return line;
  }
  return nullptr;
}

TEST(BackgroundVerifierProcess,
     TamperedRecordBelowTheCheckpointIsFoundAfterAFastStart) {
  FakeUpstream upstream;
  Deployment d(upstream, {{"verify_records_per_second", 0}});
  {
    GatewayProcess gw(d.Serve());
    ASSERT_TRUE(gw.WaitListening()) << gw.Log();
    for (int i = 0; i < 8; ++i) ASSERT_EQ(Release(gw, d.alice(), i), 200);
    ASSERT_EQ(gw.Stop(20s), std::optional<int>(0));  // signs the head
  }
  const std::size_t records = ReadAuditRows(d.db()).size();
  ASSERT_GE(records, 16u);
  {
    SQLite::Database db(d.db(), SQLite::OPEN_READWRITE);
    db.exec("DROP TRIGGER audit_records_no_update");
    db.exec(
        "UPDATE audit_records SET phone_number = '+15559999999' "
        "WHERE seq = 5");
  }
  d.SetAudit({{"verify_records_per_second", 1000}});
  GatewayProcess gw(d.Serve());
  ASSERT_TRUE(gw.WaitListening()) << gw.Log();
  // Start-up re-hashed nothing: the head was signed at the clean stop.
  const nlohmann::json started = LogLine(gw, "audit chain checked at start");
  ASSERT_FALSE(started.is_null()) << gw.Log();
  EXPECT_EQ(started.value("rehashed", -1), 0) << started;
  EXPECT_EQ(started.value("trusted_through_seq", -1), static_cast<int>(records))
      << started;

  ASSERT_TRUE(WaitFor([&] { return Readyz(gw).first == 503; }, 30s))
      << gw.Log();
  const auto [status, body] = Readyz(gw);
  EXPECT_EQ(status, 503);
  EXPECT_NE(body.find("audit chain broken at seq 5"), std::string::npos)
      << body;
  const nlohmann::json broken = LogLine(gw, "found the audit chain broken");
  ASSERT_FALSE(broken.is_null()) << gw.Log();
  EXPECT_EQ(broken.value("seq", -1), 5) << broken;
  EXPECT_EQ(gw.Metric("agni_gateway_audit_verified_seq"),
            std::optional<double>(4));
}

TEST(StartupProcess, AFirstStartWithANewKeyRehashesTheChainOnce) {
  FakeUpstream upstream;
  Deployment d(upstream, {{"verify_records_per_second", 0}});
  {
    GatewayProcess gw(d.Serve());
    ASSERT_TRUE(gw.WaitListening()) << gw.Log();
    for (int i = 0; i < 6; ++i) ASSERT_EQ(Release(gw, d.alice(), i), 200);
    ASSERT_EQ(gw.Stop(20s), std::optional<int>(0));
  }
  const int records = static_cast<int>(ReadAuditRows(d.db()).size());
  ASSERT_GE(records, 12);
  const CommandResult keygen =
      RunGateway({"audit", "keygen", "--private", d.File("new.pem"), "--public",
                  d.File("new.pub")});
  ASSERT_EQ(keygen.exit_code, 0) << keygen.output;
  d.SetAudit({{"signing_key_file", "new.pem"}});

  GatewayProcess gw(d.Serve());
  ASSERT_TRUE(gw.WaitListening()) << gw.Log();
  // Nothing signed by this key yet: the start check re-hashes every record,
  // and the first checkpoint signs on that check instead of repeating it.
  const nlohmann::json checked = LogLine(gw, "audit chain checked at start");
  ASSERT_FALSE(checked.is_null()) << gw.Log();
  EXPECT_EQ(checked.value("rehashed", -1), records) << checked;
  const nlohmann::json signed_line = LogLine(gw, "audit head signed at start");
  ASSERT_FALSE(signed_line.is_null()) << gw.Log();
  EXPECT_EQ(signed_line.value("rehashed", -1), 0) << signed_line;
  // And that checkpoint is the new key's, over the head.
  SQLite::Database db(d.db(), SQLite::OPEN_READONLY);
  const auto latest = audit::LatestCheckpoint(db);
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->key_id,
            audit::KeyId(audit::LoadPublicKeyHex(d.File("new.pub"))));
  EXPECT_EQ(latest->seq, records);
  EXPECT_TRUE(audit::CheckpointSignatureValid(*latest));
}

TEST(BackgroundVerifierProcess, AnIntactLogIsVerifiedToTheHeadAndStaysReady) {
  FakeUpstream upstream;
  Deployment d(upstream, {{"verify_records_per_second", 1000}});
  GatewayProcess gw(d.Serve());
  ASSERT_TRUE(gw.WaitListening()) << gw.Log();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Release(gw, d.alice(), i), 200);
  const double head = static_cast<double>(ReadAuditRows(d.db()).size());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto v = gw.Metric("agni_gateway_audit_verified_seq");
        return v && *v >= head;
      },
      30s))
      << gw.Metrics();
  EXPECT_EQ(Readyz(gw).first, 200) << Readyz(gw).second;
}

TEST(WitnessProcess,
     EverySignedCheckpointIsCopiedAndAFailureNeverFailsARelease) {
  FakeUpstream upstream;
  TempDir witness_parent;
  const std::string witness = witness_parent.Mkdir("worm");
  Deployment d(upstream,
               {{"witness_dir", witness}, {"checkpoint_interval", "1s"}});
  GatewayProcess gw(d.Serve());
  ASSERT_TRUE(gw.WaitListening()) << gw.Log();
  ASSERT_EQ(Release(gw, d.alice(), 1), 200);
  const std::int64_t head =
      static_cast<std::int64_t>(ReadAuditRows(d.db()).size());
  // The checkpoint of the new head, as a file `audit verify` accepts.
  std::string copy;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& e : fs::directory_iterator(witness)) {
          // A dot file is a copy still being written (renamed when complete).
          if (e.path().filename().string().starts_with(".")) continue;
          const std::string text = ReadFile(e.path().string());
          auto j = nlohmann::json::parse(text, nullptr, false);
          if (j.is_object() && j.value("seq", -1) == head) {
            copy = e.path().string();
            return true;
          }
        }
        return false;
      },
      30s))
      << gw.Log();
  EXPECT_EQ(fs::path(copy).filename().string().rfind("checkpoint-", 0), 0u);
  std::string error;
  auto c =
      audit::CheckpointFromJson(nlohmann::json::parse(ReadFile(copy)), error);
  ASSERT_TRUE(c) << error;
  EXPECT_TRUE(audit::CheckpointSignatureValid(*c));
  const CommandResult verify =
      RunGateway({"audit", "verify", "--db", d.db(), "--pubkey",
                  d.File("sign.pub"), "--checkpoint", copy});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_EQ(gw.Metric("agni_gateway_audit_witness_failures_total"),
            std::optional<double>(0));

  // The witness goes away: releases still succeed; the failure is counted
  // and logged.
  fs::remove_all(witness);
  ASSERT_EQ(Release(gw, d.alice(), 2), 200);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto v = gw.Metric("agni_gateway_audit_witness_failures_total");
        return v && *v >= 1;
      },
      30s))
      << gw.Log();
  EXPECT_EQ(Release(gw, d.alice(), 3), 200);
  EXPECT_FALSE(LogLine(gw, "not copied to audit.witness_dir").is_null());
  EXPECT_EQ(Readyz(gw).first, 200);
}

// The request ids of the JSONL lines in `text`, and whether every line is a
// record with a hash.
std::vector<std::string> RequestIds(const std::string& text) {
  std::vector<std::string> ids;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("hash")) continue;
    ids.push_back(j.value("request_id", ""));
  }
  return ids;
}

TEST(TailProcess, FollowPrintsWhatAServingGatewayCommits) {
  FakeUpstream upstream;
  Deployment d(upstream, nlohmann::json::object());
  GatewayProcess gw(d.Serve());
  ASSERT_TRUE(gw.WaitListening()) << gw.Log();
  ASSERT_EQ(Release(gw, d.alice(), 0, "before-tail"), 200);
  const std::int64_t after =
      static_cast<std::int64_t>(ReadAuditRows(d.db()).size());

  TempDir out;
  Process tail({.argv = {AGNI_GATEWAY_BINARY, "audit", "tail", "--db", d.db(),
                         "--after-seq", std::to_string(after), "--follow"},
                .log_file = out.File("tail.jsonl")});
  for (int i = 1; i <= 5; ++i) {
    ASSERT_EQ(Release(gw, d.alice(), i, Numbered("followed-", i)), 200);
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        const auto ids = RequestIds(tail.Log());
        return std::count(ids.begin(), ids.end(), "followed-5") == 2;
      },
      30s))
      << tail.Log();
  EXPECT_TRUE(tail.Running());
  const std::vector<std::string> ids = RequestIds(tail.Log());
  // From after+1 on, intent and outcome of each release, in order.
  std::vector<std::string> want;
  for (int i = 1; i <= 5; ++i) {
    want.push_back(Numbered("followed-", i));
    want.push_back(Numbered("followed-", i));
  }
  EXPECT_EQ(ids, want);
  const auto first =
      nlohmann::json::parse(tail.Log().substr(0, tail.Log().find('\n')));
  EXPECT_EQ(first.value("seq", -1), after + 1);
  tail.Kill();

  // The lines are the export's: they verify as a piece of the chain.
  TempDir files;
  const std::string piece =
      files.Write("piece.jsonl", ReadFile(out.File("tail.jsonl")));
  const CommandResult verify =
      RunGateway({"audit", "verify", "--jsonl", piece});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;

  // Without --follow it prints what is there and ends.
  const CommandResult all = RunGateway({"audit", "tail", "--db", d.db()});
  EXPECT_EQ(all.exit_code, 0) << all.output;
  EXPECT_EQ(RequestIds(all.output).front(), "before-tail");
  EXPECT_EQ(RequestIds(all.output).size(), ReadAuditRows(d.db()).size());
}

}  // namespace
}  // namespace agni::testing
