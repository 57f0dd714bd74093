// The approvals store answers the list, the sweep and the per-user cap from
// its indexes; the policy loader reads a rule's justification requirement;
// the release's X-Release-Reason is checked against it.
#include <gtest/gtest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <set>

#include "audit/approval_store.h"
#include "gateway/approvals/approvals_api.h"
#include "policies/load/policy_loader.h"
#include "tests/support/temp_dir.h"

namespace agni::policy {
namespace {

Approval Make(const std::string& id, const std::string& requester,
              std::int64_t created_us, ApprovalStatus status,
              std::vector<std::string> groups = {"telecom-ops"}) {
  Approval a;
  a.id = id;
  a.status = status;
  a.requester = requester;
  a.phone_number = "+14155550100";
  a.rule_id = "prod";
  a.rule_key = "prod";
  a.required = {{"prod", 1, std::move(groups)}};
  a.created_us = created_us;
  a.expires_us = created_us + 1000;
  a.execute_within_ms = 1;
  if (status == ApprovalStatus::kApproved) {
    a.execute_before_us = created_us + 500;
  }
  return a;
}

std::vector<std::string> Ids(const ApprovalPage& page) {
  std::vector<std::string> out;
  for (const Approval& a : page.items) out.push_back(a.id);
  return out;
}

TEST(ApprovalStoreList, PagesNewestFirstAndShowsOnlyWhatTheViewerMaySee) {
  testing::TempDir dir;
  audit::SqliteApprovalStore store(dir.File("approvals.db"));
  store.Put(Make("a1", "alice", 100, ApprovalStatus::kPending));
  store.Put(Make("a2", "alice", 200, ApprovalStatus::kCancelled));
  store.Put(Make("b1", "bob", 200, ApprovalStatus::kPending, {"net-ops"}));
  store.Put(Make("b2", "bob", 300, ApprovalStatus::kPending));

  ApprovalPageQuery auditor{.everyone = true, .limit = 2};
  ApprovalPage first = store.ListPage(auditor);
  EXPECT_EQ(Ids(first), (std::vector<std::string>{"b2", "b1"}));
  ASSERT_TRUE(first.next);
  auditor.after = ParseCursor(FormatCursor(*first.next));
  ASSERT_TRUE(auditor.after);
  ApprovalPage second = store.ListPage(auditor);
  EXPECT_EQ(Ids(second), (std::vector<std::string>{"a2", "a1"}));
  EXPECT_FALSE(second.next);

  // alice: her own; olga (telecom-ops): what her group decides on.
  ApprovalPageQuery alice{.viewer = "alice", .viewer_groups = {"support"}};
  EXPECT_EQ(Ids(store.ListPage(alice)), (std::vector<std::string>{"a2", "a1"}));
  ApprovalPageQuery olga{.status = ApprovalStatus::kPending,
                         .viewer = "olga",
                         .viewer_groups = {"telecom-ops"}};
  EXPECT_EQ(Ids(store.ListPage(olga)), (std::vector<std::string>{"b2", "a1"}));

  // The scan bound ends a page early with a cursor to go on from.
  ApprovalPageQuery bounded{.viewer = "alice", .max_scanned = 2};
  ApprovalPage part = store.ListPage(bounded);
  EXPECT_TRUE(part.items.empty());
  ASSERT_TRUE(part.next);
  bounded.after = part.next;
  EXPECT_EQ(Ids(store.ListPage(bounded)),
            (std::vector<std::string>{"a2", "a1"}));
}

TEST(ApprovalStoreList, DueAndOpenCountsComeFromTheDeadlineAndRequester) {
  testing::TempDir dir;
  audit::SqliteApprovalStore store(dir.File("approvals.db"));
  store.Put(Make("p_due", "alice", 0, ApprovalStatus::kPending));  // 1000
  store.Put(Make("p_later", "alice", 5000, ApprovalStatus::kPending));
  store.Put(Make("ok_due", "bob", 0, ApprovalStatus::kApproved));  // 500
  store.Put(Make("closed", "bob", 0, ApprovalStatus::kDenied));
  std::set<std::string> due;
  for (const Approval& a : store.ListDue(1000, 10)) due.insert(a.id);
  EXPECT_EQ(due, (std::set<std::string>{"p_due", "ok_due"}));
  EXPECT_EQ(store.ListDue(600, 10).size(), 1u);
  EXPECT_EQ(store.ListDue(1000, 1).size(), 1u);
  EXPECT_EQ(store.CountOpen("alice", 0), 2u);
  EXPECT_EQ(store.CountOpen("bob", 0), 1u);
  // Due ones no longer count: they expire at the next sweep or read.
  EXPECT_EQ(store.CountOpen("alice", 1000), 1u);
  EXPECT_EQ(store.CountOpen("bob", 500), 0u);
  // Closing one takes it off the deadline index.
  Approval p = *store.Get("p_due");
  p.status = ApprovalStatus::kCancelled;
  store.Put(p);
  EXPECT_EQ(store.ListDue(1000, 10).size(), 1u);
  EXPECT_EQ(store.CountOpen("alice", 0), 1u);
}

TEST(ApprovalStoreList, ADatabaseFromBeforeTheListColumnsIsFilledIn) {
  testing::TempDir dir;
  const std::string path = dir.File("approvals.db");
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec(
        "CREATE TABLE approvals (id TEXT PRIMARY KEY, status TEXT NOT NULL, "
        "requester TEXT NOT NULL, phone_number TEXT NOT NULL, rule_key TEXT "
        "NOT NULL, created_us INTEGER NOT NULL, doc TEXT NOT NULL)");
    SQLite::Statement q(db, "INSERT INTO approvals VALUES (?,?,?,?,?,?,?)");
    const Approval a = Make("old", "alice", 0, ApprovalStatus::kPending);
    q.bind(1, a.id);
    q.bind(2, "pending");
    q.bind(3, a.requester);
    q.bind(4, a.phone_number);
    q.bind(5, a.rule_key);
    q.bind(6, static_cast<std::int64_t>(a.created_us));
    q.bind(7, ToStorageJson(a).dump());
    q.exec();
  }
  audit::SqliteApprovalStore store(path);
  EXPECT_EQ(store.ListDue(1000, 10).size(), 1u);
  ApprovalPageQuery olga{.viewer = "olga", .viewer_groups = {"telecom-ops"}};
  EXPECT_EQ(Ids(store.ListPage(olga)), (std::vector<std::string>{"old"}));
}

// Records what the sweep hands over; refuses the change of `refused_id`.
class BatchListener final : public ApprovalListener {
 public:
  bool OnChange(const Approval& after, ApprovalEvent, const Actor&,
                const std::string&) override {
    return after.id != refused_id;
  }
  std::vector<bool> OnChanges(const std::vector<Change>& changes) override {
    batches.push_back(changes.size());
    return ApprovalListener::OnChanges(changes);
  }
  std::string refused_id;
  std::vector<std::size_t> batches;
};

TEST(ApprovalSweep, ExpiresADueBatchTogetherAndFailsClosedPerApproval) {
  testing::TempDir dir;
  audit::SqliteApprovalStore store(dir.File("approvals.db"));
  store.Put(Make("p1", "alice", 100, ApprovalStatus::kPending));
  store.Put(Make("p2", "alice", 110, ApprovalStatus::kPending));
  store.Put(Make("p3", "bob", 120, ApprovalStatus::kPending));
  store.Put(Make("later", "bob", 5000, ApprovalStatus::kPending));
  BatchListener listener;
  listener.refused_id = "p2";  // its expiry cannot be recorded
  std::int64_t now = 2000;
  ApprovalService service(
      store, listener, [&] { return now; }, [] { return "unused"; });
  service.Sweep();

  // One hand-over for the three due; the one refused stays as it was.
  EXPECT_EQ(listener.batches, (std::vector<std::size_t>{3}));
  EXPECT_EQ(store.Get("p1")->status, ApprovalStatus::kExpired);
  EXPECT_EQ(store.Get("p3")->status, ApprovalStatus::kExpired);
  EXPECT_EQ(store.Get("p2")->status, ApprovalStatus::kPending);
  EXPECT_EQ(store.Get("later")->status, ApprovalStatus::kPending);
  // ...and is never shown or used as open: reading it fails closed.
  const ApprovalResult read = service.Get("p2", {"alice"}, false);
  EXPECT_EQ(read.error, ApprovalError::kUnavailable);
  listener.refused_id.clear();
  EXPECT_EQ(service.Get("p2", {"alice"}, false).approval->status,
            ApprovalStatus::kExpired);
}

TEST(ApprovalCursor, OnlyWhatFormatCursorWritesIsRead) {
  EXPECT_EQ(FormatCursor({12, "apr_x-1"}), "12.apr_x-1");
  const auto c = ParseCursor("12.apr_x-1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->created_us, 12);
  EXPECT_EQ(c->id, "apr_x-1");
  for (const char* bad : {"", ".", "12.", ".apr", "x.apr", "-1.apr", "12.a/b",
                          "12.a b", "99999999999999999999.a"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseCursor(bad));
  }
}

TEST(PolicyLoaderApproval, ReadsTheJustificationRequirementAndItsMistakes) {
  KnownPrincipals known{{"alice"}, {"support", "telecom-ops"}};
  ConfigErrors errors;
  auto ok = ParsePolicy(nlohmann::json::parse(R"({"rules":[
      {"id":"r","effect":"require_approval","groups":["support"],
       "approval":{"approvals":1,"from_groups":["telecom-ops"],"ttl":"24h",
                   "execute_within":"15m","reason":"required",
                   "reason_pattern":"^[A-Z]+-[0-9]+$"}}]})"),
                        "policy.json", known, errors);
  ASSERT_TRUE(ok) << (errors.empty() ? "" : errors[0].message);
  EXPECT_TRUE(ok->rules[0].approval.reason_required);
  ASSERT_TRUE(ok->rules[0].approval.reason_regex);
  EXPECT_TRUE(ReasonMatches(*ok->rules[0].approval.reason_regex, "OPS-12"));
  EXPECT_FALSE(ReasonMatches(*ok->rules[0].approval.reason_regex, "ops 12"));

  errors.clear();
  auto bad = ParsePolicy(nlohmann::json::parse(R"({"rules":[
      {"id":"a","effect":"require_approval",
       "approval":{"approvals":1,"from_groups":["telecom-ops"],"ttl":"1h",
                   "execute_within":"1h","reason":"sometimes",
                   "reason_pattern":"^[A-Z+$"}},
      {"id":"b","effect":"require_approval",
       "approval":{"approvals":1,"from_groups":["telecom-ops"],"ttl":"1h",
                   "execute_within":"1h","reason":true,
                   "reason_pattern":""}}]})"),
                         "policy.json", known, errors);
  EXPECT_FALSE(bad);
  std::set<std::string> paths;
  for (const auto& e : errors) paths.insert(e.path);
  EXPECT_TRUE(paths.contains("policy.json:$.rules[0].approval.reason"));
  EXPECT_TRUE(paths.contains("policy.json:$.rules[0].approval.reason_pattern"));
  EXPECT_TRUE(paths.contains("policy.json:$.rules[1].approval.reason"));
  EXPECT_TRUE(paths.contains("policy.json:$.rules[1].approval.reason_pattern"));
}

TEST(ReleaseReason, IsCheckedAgainstEveryRuleThatAsks) {
  Rule optional;
  optional.id = "optional";
  Rule required;
  required.id = "required";
  required.approval.reason_required = true;
  std::string error;
  required.approval.reason_regex = CompileReasonPattern("^OPS-[0-9]+$", error);
  required.approval.reason_pattern = "^OPS-[0-9]+$";
  ASSERT_TRUE(required.approval.reason_regex) << error;

  struct Case {
    const char* name;
    std::vector<const Rule*> rules;
    std::vector<std::string> headers;
    std::optional<Reason> refusal;
    std::string recorded;
  };
  const Case cases[] = {
      {"none needed, none sent", {&optional}, {}, std::nullopt, ""},
      {"optional, sent", {&optional}, {"why not"}, std::nullopt, "why not"},
      {"optional, control byte",
       {&optional},
       {"a\tb"},
       Reason::kInvalidRequest,
       ""},
      {"required, missing",
       {&optional, &required},
       {},
       Reason::kReasonRequired,
       ""},
      {"required, matching", {&required}, {"OPS-7"}, std::nullopt, "OPS-7"},
      {"required, not matching",
       {&required},
       {"OPS-7 and more"},
       Reason::kReasonRequired,
       ""},
      {"required, NUL",
       {&required},
       {std::string("OPS-7\0", 6)},
       Reason::kReasonRequired,
       ""},
      {"required, twice",
       {&required},
       {"OPS-7", "OPS-8"},
       Reason::kReasonRequired,
       ""},
      {"required, too long",
       {&required},
       {"OPS-" + std::string(197, '1')},
       Reason::kReasonRequired,
       ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const ReleaseReasonCheck r = CheckReleaseReason(c.headers, c.rules);
    EXPECT_EQ(r.problem.has_value(), c.refusal.has_value());
    if (r.problem && c.refusal) {
      EXPECT_EQ(r.problem->reason, *c.refusal);
    }
    EXPECT_EQ(r.reason, c.recorded);
  }
}

}  // namespace
}  // namespace agni::policy
