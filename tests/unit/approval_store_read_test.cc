// An approvals store that cannot be read (a disk error, a locked file) fails
// every step of the approval workflow closed and says so: nothing is
// created, decided, confirmed or restored, and nothing is audited.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "policies/approvals.h"

namespace agni::policy {
namespace {

using namespace std::chrono_literals;

constexpr const char* kReadFailed =
    "approval store read failed: disk I/O error";

// Every read throws, as SQLite's exceptions do; FindOpen only while
// `find_open_fails`. Counts the writes, which must not happen.
class UnreadableStore final : public ApprovalStore {
 public:
  std::optional<Approval> Get(const std::string&) override { Fail(); }
  std::optional<Approval> FindOpen(const std::string&, const std::string&,
                                   const std::string&) override {
    if (find_open_fails) Fail();
    return std::nullopt;
  }
  std::vector<Approval> List(std::optional<ApprovalStatus>) override { Fail(); }
  std::size_t CountOpen(const std::string&, std::int64_t) override { Fail(); }
  void Put(const Approval&) override { ++writes; }
  void Remove(const std::string&) override { ++writes; }

  bool find_open_fails = true;
  int writes = 0;

 private:
  [[noreturn]] static void Fail() {
    throw std::runtime_error("disk I/O error");
  }
};

class CountingListener final : public ApprovalListener {
 public:
  bool OnChange(const Approval&, ApprovalEvent, const Actor&,
                const std::string&) override {
    ++changes;
    return true;
  }
  int changes = 0;
};

TEST(ApprovalStoreReadTest, EveryStepFailsClosedWhenTheStoreCannotBeRead) {
  Rule rule;
  rule.id = "prod";
  rule.effect = Effect::kRequireApproval;
  rule.approval = {1, {"telecom-ops"}, 24h, 1h};
  const std::vector<Member> members = {{"alice", {"support"}},
                                       {"olga", {"telecom-ops"}}};
  const Actor alice{"alice", {"support"}, "req-alice"};
  const Actor olga{"olga", {"telecom-ops"}, "req-olga"};
  UnreadableStore store;
  CountingListener listener;
  ApprovalService service(
      store, listener, [] { return std::int64_t{1'000'000}; },
      [] { return std::string("apr_1"); }, /*max_open_per_user=*/1);

  struct Case {
    std::string name;
    bool find_open_fails;
    std::function<ApprovalResult()> step;
  };
  const std::vector<Case> cases = {
      {"request (looking for an open one)", true,
       [&] {
         return service.Request(alice, "+14155550100", {&rule}, members, "h");
       }},
      {"request (counting the requester's open ones)", false,
       [&] {
         return service.Request(alice, "+14155550100", {&rule}, members, "h");
       }},
      {"approve", true, [&] { return service.Approve("apr_1", olga, ""); }},
      {"get", true, [&] { return service.Get("apr_1", alice, false); }},
      {"confirm executed", true,
       [&] { return service.ConfirmExecuted("apr_1", alice); }},
      {"restore", true,
       [&] { return service.Restore("apr_1", alice, "upstream_unreachable"); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    store.find_open_fails = c.find_open_fails;
    const ApprovalResult r = c.step();
    EXPECT_EQ(r.error, ApprovalError::kUnavailable);
    EXPECT_EQ(r.detail, kReadFailed);
    EXPECT_FALSE(r.approval);
  }
  EXPECT_EQ(store.writes, 0);
  EXPECT_EQ(listener.changes, 0);
}

}  // namespace
}  // namespace agni::policy
