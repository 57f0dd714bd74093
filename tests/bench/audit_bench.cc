// Audit figures, run by hand (never a test): the group-commit writer's
// records per second with synchronous=FULL, then a 1,000,000-record log
// (the rest written in bulk with a correct chain) and the time of filtered
// GET /v1/audit pages over it. `tests/bench/audit_bench.sh` adds the timings
// of `audit verify` and `audit export` on the same file.
//
// Usage: audit_bench DB_PATH [TOTAL_RECORDS] [WRITER_SECONDS] [SIGNING_KEY]
//   SIGNING_KEY: a private key (`audit keygen`) that signs the head of the
//   bulk-filled chain, as a gateway's clean stop would, so that a gateway
//   with that key starts without re-hashing a log it never wrote.
#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/read/query.h"
#include "audit/record.h"
#include "audit/store.h"

namespace {

using Clock = std::chrono::steady_clock;
using agni::audit::Record;
using agni::audit::Stage;

constexpr int kUsers = 200;
constexpr int kNumbers = 200000;

Record Make(std::mt19937_64& rng, std::int64_t n) {
  Record r;
  const int kind = static_cast<int>(rng() % 10);
  r.principal = "user" + std::to_string(rng() % kUsers);
  r.groups = "[\"support\"]";
  r.auth_method = "bearer";
  r.peer = "10.0.0." + std::to_string(rng() % 250);
  r.method = "DELETE";
  char number[32];
  std::snprintf(number, sizeof number, "+1555%07d",
                static_cast<int>(rng() % kNumbers));
  r.phone_number = number;
  r.path = std::string("/api/v1/phone-numbers/") + number + "/release/";
  r.request_id = "bench-" + std::to_string(n);
  r.policy_hash = std::string(64, 'a');
  if (kind < 2) {
    r.stage = Stage::kDecision;
    r.decision = "deny";
    r.rule_id = "never-release-emergency";
    r.reason = "policy_denied";
    r.response_status = 403;
  } else {
    r.stage = kind < 6 ? Stage::kIntent : Stage::kDecision;
    r.decision = "allow";
    r.rule_id = "support-sandbox";
    if (r.stage == Stage::kDecision) r.response_status = 200;
  }
  return r;
}

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DB_PATH [TOTAL] [WRITER_SECONDS]\n",
                 argv[0]);
    return 2;
  }
  const std::string db_path = argv[1];
  const std::int64_t total = argc > 2 ? std::stoll(argv[2]) : 1'000'000;
  const int writer_seconds = argc > 3 ? std::stoi(argv[3]) : 5;
  const std::string signing_key = argc > 4 ? argv[4] : "";
  std::filesystem::remove(db_path);
  std::filesystem::remove(db_path + "-wal");
  std::filesystem::remove(db_path + "-shm");

  // 1. The real writer: 64 threads appending (each waits for its commit).
  std::int64_t written = 0;
  {
    // The writer's records come first in the log, so their time does too:
    // the store keeps time non-decreasing along seq, and so must the bench.
    std::atomic<std::int64_t> clock_us{1'779'000'000'000'000};
    agni::audit::AuditStore store({db_path}, nullptr,
                                  [&clock_us] { return clock_us += 10; });
    std::atomic<bool> stop{false};
    std::atomic<std::int64_t> count{0};
    std::vector<std::thread> threads;
    const auto started = Clock::now();
    for (int t = 0; t < 64; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(t);
        while (!stop) {
          Record r = Make(rng, count.load());
          if (r.stage == Stage::kIntent)
            r.stage = Stage::kDecision;  // no open intents
          if (store.Append(std::move(r)).ok) ++count;
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::seconds(writer_seconds));
    stop = true;
    for (auto& t : threads) t.join();
    const double secs = Ms(Clock::now() - started) / 1000;
    written = count.load();
    std::printf(
        "writer: %lld records in %.2f s with 64 concurrent callers = "
        "%.0f records/s (WAL, synchronous=FULL, group commit)\n",
        static_cast<long long>(written), secs, written / secs);
  }

  // 2. Bulk fill to `total` with a correct chain, in one transaction.
  {
    SQLite::Database db(db_path, SQLite::OPEN_READWRITE);
    std::int64_t seq = 0;
    std::string prev;
    {
      SQLite::Statement last(
          db, "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1");
      last.executeStep();
      seq = last.getColumn(0).getInt64();
      prev = last.getColumn(1).getString();
    }
    // Random-order index inserts (number, request id) dominate a bulk fill
    // once the indexes outgrow the page cache: the fill drops them and
    // builds them again afterwards (one sort each), as the store defined them.
    std::vector<std::string> index_sql;
    {
      SQLite::Statement idx(db,
                            "SELECT name, sql FROM sqlite_master WHERE type = "
                            "'index' AND tbl_name = 'audit_records' AND sql "
                            "IS NOT NULL");
      std::vector<std::string> names;
      while (idx.executeStep()) {
        names.push_back(idx.getColumn(0).getString());
        index_sql.push_back(idx.getColumn(1).getString());
      }
      for (const std::string& name : names) {
        db.exec("DROP INDEX \"" + name + "\"");
      }
    }
    db.exec("PRAGMA cache_size = -262144");  // 256 MiB for the index builds
    // One transaction of gigabytes: through the WAL it would be written
    // twice. A bench file that a crash may leave half-built.
    db.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;");
    const auto started = Clock::now();
    SQLite::Transaction tx(db);
    SQLite::Statement ins(db, R"sql(
      INSERT INTO audit_records (seq, time, stage, request_id, principal,
        groups, auth_method, peer, method, path, phone_number, decision,
        rule_id, reason, policy_hash, intent_seq, upstream_status,
        upstream_latency_us, response_status, outcome, prev_hash, hash)
      VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?))sql");
    std::mt19937_64 rng(42);
    std::int64_t time_us = 1'780'000'000'000'000;  // 2026-05-28
    auto insert = [&](Record& r) {
      r.seq = ++seq;
      time_us += 100'000;
      r.time_us = time_us;
      r.prev_hash = prev;
      r.hash = agni::audit::ChainHash(r);
      int i = 1;
      ins.reset();
      ins.bind(i++, r.seq);
      ins.bind(i++, agni::audit::FormatTime(r.time_us));
      ins.bind(i++, std::string(agni::audit::StageColumn(r)));
      for (const std::string* v :
           {&r.request_id, &r.principal, &r.groups, &r.auth_method, &r.peer,
            &r.method, &r.path, &r.phone_number, &r.decision, &r.rule_id,
            &r.reason, &r.policy_hash}) {
        if (v->empty())
          ins.bind(i++);
        else
          ins.bind(i++, *v);
      }
      for (const auto& v :
           {r.intent_seq,
            r.upstream_status ? std::optional<std::int64_t>(*r.upstream_status)
                              : std::nullopt,
            r.upstream_latency_us,
            r.response_status ? std::optional<std::int64_t>(*r.response_status)
                              : std::nullopt}) {
        if (v)
          ins.bind(i++, *v);
        else
          ins.bind(i++);
      }
      if (r.outcome.empty())
        ins.bind(i++);
      else
        ins.bind(i++, r.outcome);
      ins.bind(i++, r.prev_hash);
      ins.bind(i++, r.hash);
      ins.exec();
      prev = r.hash;
    };
    while (seq < total) {
      Record r = Make(rng, seq + 1);
      insert(r);
      if (r.stage == Stage::kIntent) {  // may end one past `total`
        Record out = r;
        out.stage = Stage::kOutcome;
        out.intent_seq = r.seq;
        out.outcome = "released";
        out.upstream_status = 200;
        out.upstream_latency_us = 12000;
        out.response_status = 200;
        insert(out);
      }
    }
    tx.commit();
    std::printf("bulk fill to %lld records: %.1f s\n",
                static_cast<long long>(total),
                Ms(Clock::now() - started) / 1000);
    const auto indexed = Clock::now();
    for (const std::string& sql : index_sql) db.exec(sql);
    std::printf("store indexes built again: %.1f s\n",
                Ms(Clock::now() - indexed) / 1000);
    if (!signing_key.empty()) {
      const auto key = agni::audit::SigningKey::LoadPem(signing_key);
      agni::audit::EnsureCheckpointSchema(db);
      const agni::audit::Checkpoint c =
          key.Sign(seq, prev,
                   agni::audit::FormatTime(
                       std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count()));
      agni::audit::InsertCheckpoint(db, c);
      // As the checkpointer does: no intent before the head is open.
      agni::audit::SetIntentsClosedThrough(db, seq);
      std::printf("head signed at seq %lld with key %s\n",
                  static_cast<long long>(seq), c.key_id.c_str());
    }
    db.exec("PRAGMA journal_mode = WAL");
  }
  {
    const auto started = Clock::now();
    agni::audit::PrepareReadSide(db_path);
    std::printf("query indexes built: %.1f s\n",
                Ms(Clock::now() - started) / 1000);
  }

  // 3. Filtered pages, as GET /v1/audit runs them (fresh read-only
  //    connection per page would add ~0.1 ms; the API keeps a pool).
  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  struct Case {
    const char* name;
    const char* query;
  };
  const Case cases[] = {
      {"first page, no filter", "limit=100"},
      {"deep page, no filter", "after_seq=900000&limit=100"},
      {"user", "user=user17&limit=100"},
      {"user, deep page", "user=user17&after_seq=800000&limit=100"},
      {"phone_number", "phone_number=%2B15550012345&limit=100"},
      {"decision=deny", "decision=deny&limit=100"},
      {"user + decision=deny", "user=user42&decision=deny&limit=100"},
      {"user + phone (no match)", "user=user3&phone_number=%2B15550000007"},
      {"one-hour time window",
       "from=2026-05-29T10:00:00Z&to=2026-05-29T11:00:00Z&limit=100"},
      {"user + one-day window",
       "user=user99&from=2026-05-29&to=2026-05-29&limit=100"},
      {"stage=outcome, deep", "stage=outcome&after_seq=500000&limit=1000"},
      {"unknown user (no match)", "user=nobody&limit=100"},
  };
  std::printf("\nfiltered page over %lld records (20 runs each):\n",
              static_cast<long long>(total));
  double worst = 0;
  for (const Case& c : cases) {
    agni::audit::AuditQuery q;
    const std::string error = agni::audit::ParseAuditQuery(c.query, q);
    if (!error.empty()) {
      std::printf("bad case %s: %s\n", c.query, error.c_str());
      return 1;
    }
    std::vector<double> times;
    std::size_t rows = 0;
    for (int i = 0; i < 20; ++i) {
      const auto started = Clock::now();
      const std::string body = agni::audit::RunAuditQuery(db, q);
      times.push_back(Ms(Clock::now() - started));
      rows = nlohmann::json::parse(body)["records"].size();
    }
    std::sort(times.begin(), times.end());
    worst = std::max(worst, times.back());
    std::printf("  %-28s %4zu rows  median %7.2f ms  max %7.2f ms   (%s)\n",
                c.name, rows, times[times.size() / 2], times.back(), c.query);
  }
  std::printf("worst page: %.2f ms\n", worst);
  return 0;
}
