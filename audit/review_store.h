// Durable home of break-glass reviews: one SQLite file (WAL,
// synchronous=FULL) next to the approvals database, so a review survives a
// restart. Each row holds the columns the list and the overdue sweep search
// by plus the whole review as JSON. The audit log, not this table, is the
// history: the release and every acknowledgement are audit records.
//
// Thread-safe: one connection behind one mutex. Failures throw
// std::runtime_error (or SQLite's exceptions).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "policies/review.h"

namespace SQLite {
class Database;
}

namespace agni::audit {

struct ReviewPage {
  std::vector<policy::Review> items;  // newest first
  std::optional<std::int64_t> next;   // the cursor of the following page
};

struct ReviewPageQuery {
  std::optional<policy::ReviewStatus> status;
  std::string viewer;
  std::vector<std::string> viewer_groups;
  bool everyone = false;              // an auditor sees every review
  std::optional<std::int64_t> after;  // a previous page's `next`
  std::size_t limit = 50;
  // Rows looked at per page, visible or not, so one call stays bounded.
  std::size_t max_scanned = 5000;
};

class SqliteReviewStore {
 public:
  explicit SqliteReviewStore(const std::string& path);
  ~SqliteReviewStore();

  void Add(const policy::Review& review);
  // Takes back a review whose release was never sent.
  void Remove(const std::string& id);
  std::optional<policy::Review> Get(const std::string& id);
  // Records the acknowledgement when the review is still pending; false
  // when it was not (someone else was first).
  bool Ack(const std::string& id, const std::string& user,
           const std::string& reason, std::int64_t now_us);
  // Undoes Ack() when its audit record could not be committed.
  void Unack(const std::string& id);
  ReviewPage Page(const ReviewPageQuery& query);
  // Pending reviews due at or before `now_us` whose overdue event has not
  // gone out, oldest first, at most `limit`.
  std::vector<policy::Review> DueUnannounced(std::int64_t now_us,
                                             std::size_t limit);
  void MarkOverdueAnnounced(const std::string& id);
  std::size_t CountPending();
  std::size_t CountOverdue(std::int64_t now_us);

 private:
  void Put(const policy::Review& review);

  std::mutex mu_;
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace agni::audit
