// Durable home of approval requests: one SQLite file (WAL, synchronous=FULL),
// separate from the audit log so the audit writer thread never contends with
// it. Each row holds the indexed binding columns plus the whole approval as a
// JSON document. The audit log, not this table, is the history: every change
// written here is also an "approval" audit record.
//
// Thread-safe: one connection behind one mutex.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "audit/lock_file.h"
#include "policies/approvals.h"

namespace SQLite {
class Database;
}

namespace agni::audit {

class SqliteApprovalStore final : public policy::ApprovalStore {
 public:
  // Opens (creating if needed) the database and takes an exclusive lock on
  // "<path>.lock" for the store's life: consuming an approval is atomic only
  // because one process decides. Throws std::runtime_error.
  explicit SqliteApprovalStore(const std::string& path);
  ~SqliteApprovalStore() override;

  std::optional<policy::Approval> Get(const std::string& id) override;
  std::optional<policy::Approval> FindOpen(
      const std::string& requester, const std::string& phone_number,
      const std::string& rule_key) override;
  std::vector<policy::Approval> List(
      std::optional<policy::ApprovalStatus> status) override;
  void Put(const policy::Approval& approval) override;
  void PutAll(const std::vector<policy::Approval>& approvals) override;
  void Remove(const std::string& id) override;
  std::vector<policy::Approval> ListAwaitingIntent() override;
  policy::ApprovalPage ListPage(
      const policy::ApprovalPageQuery& query) override;
  std::vector<policy::Approval> ListDue(std::int64_t now_us,
                                        std::size_t limit) override;
  std::size_t CountOpen(const std::string& requester,
                        std::int64_t now_us) override;
  std::size_t CountPending();

 private:
  std::mutex mu_;
  FileLock lock_;  // declared before db_: released after the connection
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace agni::audit
