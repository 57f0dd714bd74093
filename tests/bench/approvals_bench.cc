// Approvals figures, run by hand (never a test): 100,000 approvals in the
// database, 1,000 of them open; the time of GET /v1/approvals pages over
// HTTP for an approver, an auditor, a requester and someone who sees none of
// them, next to GET /v1/whoami (an audited read that reads no approvals);
// then the expiry sweep of all 1,000 open requests among the 100,000, once
// through the service alone and once in the gateway (with its audit records).
//
// Usage: approvals_bench [REQUESTS_PER_CASE]
#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "audit/approval_store.h"
#include "tests/support/harness.h"

namespace {

using Clock = std::chrono::steady_clock;
using agni::policy::Approval;
using agni::policy::ApprovalStatus;

constexpr int kTotal = 100000;
constexpr int kOpen = 1000;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// Writes kTotal approvals in one transaction (a bench shortcut: the store
// writes one durable row per change), the kOpen newest still pending.
void Fill(const std::string& path, std::int64_t now_us) {
  { agni::audit::SqliteApprovalStore create(path); }
  SQLite::Database db(path, SQLite::OPEN_READWRITE);
  SQLite::Transaction tx(db);
  SQLite::Statement q(db,
                      "INSERT INTO approvals (id, status, requester, "
                      "phone_number, rule_key, created_us, doc, deadline_us, "
                      "approver_groups) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const ApprovalStatus closed[] = {ApprovalStatus::kExecuted,
                                   ApprovalStatus::kExpired,
                                   ApprovalStatus::kDenied};
  for (int i = 0; i < kTotal; ++i) {
    Approval a;
    a.id = "apr_bench" + std::to_string(i);
    a.status = i >= kTotal - kOpen ? ApprovalStatus::kPending : closed[i % 3];
    a.requester = i % 2 == 0 ? "alice" : "bob";
    a.phone_number = "+1415666" + std::to_string(1000 + i % 9000);
    a.rule_id = a.rule_key = "prod-needs-two";
    a.required = {{"prod-needs-two", 2, {"telecom-ops"}}};
    a.created_us = now_us - (kTotal - i) * 1'000'000LL;
    a.expires_us = now_us + 30LL * 24 * 3600 * 1'000'000;
    a.execute_within_ms = 3'600'000;
    q.bind(1, a.id);
    q.bind(2, std::string(agni::policy::StatusName(a.status)));
    q.bind(3, a.requester);
    q.bind(4, a.phone_number);
    q.bind(5, a.rule_key);
    q.bind(6, static_cast<std::int64_t>(a.created_us));
    q.bind(7, agni::policy::ToStorageJson(a).dump());
    if (a.status == ApprovalStatus::kPending) {
      q.bind(8, static_cast<std::int64_t>(a.expires_us));
    } else {
      q.bind(8);
    }
    q.bind(9, ",telecom-ops,");
    q.exec();
    q.reset();
  }
  tx.commit();
}

// What the database holds, read with SQL so the figures below are known to
// be over 100,000 rows.
void PrintCounts(const std::string& path, const char* when) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  std::printf("%s: %lld approvals, %lld open\n", when,
              static_cast<long long>(
                  db.execAndGet("SELECT COUNT(*) FROM approvals").getInt64()),
              static_cast<long long>(
                  db.execAndGet("SELECT COUNT(*) FROM approvals WHERE status "
                                "IN ('pending', 'approved')")
                      .getInt64()));
}

void Report(const char* name, std::vector<double> ms, std::size_t shown) {
  std::sort(ms.begin(), ms.end());
  const auto at = [&](double p) {
    return ms[std::min(ms.size() - 1, static_cast<std::size_t>(p * ms.size()))];
  };
  std::printf("%-44s n=%zu p50=%.2f ms p99=%.2f ms max=%.2f ms (%zu shown)\n",
              name, ms.size(), at(0.5), at(0.99), ms.back(), shown);
}

// Counts changes; the gateway's listener also writes an audit record each.
class CountingListener final : public agni::policy::ApprovalListener {
 public:
  bool OnChange(const Approval&, agni::policy::ApprovalEvent,
                const agni::policy::Actor&, const std::string&) override {
    ++changes;
    return true;
  }
  int changes = 0;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace agni::testing;
  const int requests = argc > 1 ? std::atoi(argv[1]) : 1000;
  TempDir dir;
  const std::string path = dir.File("approvals.db");
  const std::string copy = dir.File("approvals-copy.db");
  const std::int64_t now_us =
      std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  const auto fill_start = Clock::now();
  Fill(path, now_us);
  std::printf("filled %d approvals (%d open) in %.0f ms\n", kTotal, kOpen,
              Ms(Clock::now() - fill_start));
  std::filesystem::copy_file(path, copy);
  PrintCounts(path, "database before the lists");

  FakeUpstream upstream;
  FakeClock clock{FakeClock::TimePoint(std::chrono::microseconds(now_us))};
  {
    auto o = GatewayHarness::ForApprovals(upstream.url());
    o.approvals_config = {{"path", path}};
    o.clock = clock.Function();
    GatewayHarness gw(o);
    httplib::Client client = gw.Client();
    client.set_keep_alive(true);
    struct Case {
      const char* name;
      const char* user;
      const char* target;
    } cases[] = {
        {"floor: GET /v1/whoami (audited, no approvals)", "olga", "/v1/whoami"},
        {"approver: ?status=pending (limit 50)", "olga",
         "/v1/approvals?status=pending"},
        {"approver: ?status=pending&limit=500", "olga",
         "/v1/approvals?status=pending&limit=500"},
        {"auditor: every status (limit 50)", "carol", "/v1/approvals"},
        {"requester: own, every status (limit 50)", "alice", "/v1/approvals"},
        {"outsider: sees none (5,000 rows scanned)", "mallory",
         "/v1/approvals"},
    };
    for (const Case& c : cases) {
      std::vector<double> ms;
      std::size_t shown = 0;
      const httplib::Headers auth = Bearer(gw.User(c.user).token);
      for (int i = 0; i < requests; ++i) {
        const auto t = Clock::now();
        auto res = client.Get(c.target, auth);
        ms.push_back(Ms(Clock::now() - t));
        if (!res || res->status != 200) {
          std::fprintf(stderr, "%s: failed\n", c.name);
          return 1;
        }
        if (i == 0 && res->body.find("\"approvals\"") != std::string::npos) {
          shown = nlohmann::json::parse(res->body)["approvals"].size();
        }
      }
      Report(c.name, std::move(ms), shown);
    }
    PrintCounts(path, "database after the lists");
    // Every open request due at once; the next list expires them first,
    // each with its audit record (the 10 s sweeper may start it sooner).
    clock.Advance(std::chrono::hours(31 * 24));
    const auto t = Clock::now();
    auto res =
        client.Get("/v1/approvals?limit=1", Bearer(gw.User("carol").token));
    std::printf(
        "gateway: list after all %d open requests fell due (sweep + audit "
        "records): %.0f ms (status %d)\n",
        kOpen, Ms(Clock::now() - t), res ? res->status : 0);
    PrintCounts(path, "database after the gateway's sweep");
  }

  // The sweep through the service alone (a listener that records nothing)
  // on a copy of the same 100,000: first with nothing due, then with every
  // open request due.
  agni::audit::SqliteApprovalStore store(copy);
  CountingListener listener;
  std::int64_t clock_us = now_us;
  agni::policy::ApprovalService service(
      store, listener, [&] { return clock_us; }, [] { return "unused"; });
  std::vector<double> idle;
  for (int i = 0; i < 100; ++i) {
    const auto t = Clock::now();
    service.Sweep();
    idle.push_back(Ms(Clock::now() - t));
  }
  Report("sweep, nothing due", std::move(idle), 0);
  clock_us = now_us + 31LL * 24 * 3600 * 1'000'000;
  const auto t = Clock::now();
  service.Sweep();
  std::printf(
      "service: sweep expiring %d open requests: %.0f ms (%d changes)\n", kOpen,
      Ms(Clock::now() - t), listener.changes);
  PrintCounts(copy, "copy after the service's sweep");
  return 0;
}
