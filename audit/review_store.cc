#include "audit/review_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "audit/sqlite_store.h"

namespace agni::audit {
namespace {

using nlohmann::json;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS reviews (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  id         TEXT    NOT NULL UNIQUE,
  status     TEXT    NOT NULL,
  due_us     INTEGER NOT NULL,
  announced  INTEGER NOT NULL DEFAULT 0,
  doc        TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS reviews_due ON reviews (status, due_us);
)sql";

json ToJson(const policy::Review& r) {
  return {{"id", r.id},
          {"request_id", r.request_id},
          {"actor", r.actor},
          {"actor_groups", r.actor_groups},
          {"phone_number", r.phone_number},
          {"rule_id", r.rule_id},
          {"reason", r.reason},
          {"from_groups", r.from_groups},
          {"created_us", r.created_us},
          {"due_us", r.due_us},
          {"status", policy::ReviewStatusName(r.status)},
          {"acked_by", r.acked_by},
          {"ack_reason", r.ack_reason},
          {"acked_us", r.acked_us},
          {"overdue_announced", r.overdue_announced}};
}

policy::Review FromJson(const std::string& doc) {
  const json j = json::parse(doc);
  policy::Review r;
  r.id = j.at("id");
  r.request_id = j.at("request_id");
  r.actor = j.at("actor");
  r.actor_groups = j.at("actor_groups").get<std::vector<std::string>>();
  r.phone_number = j.at("phone_number");
  r.rule_id = j.at("rule_id");
  r.reason = j.at("reason");
  r.from_groups = j.at("from_groups").get<std::vector<std::string>>();
  r.created_us = j.at("created_us");
  r.due_us = j.at("due_us");
  r.status = policy::ParseReviewStatus(j.at("status").get<std::string>())
                 .value_or(policy::ReviewStatus::kPending);
  r.acked_by = j.at("acked_by");
  r.ack_reason = j.at("ack_reason");
  r.acked_us = j.at("acked_us");
  r.overdue_announced = j.at("overdue_announced");
  return r;
}

// The review stored under `id`, if any.
std::optional<policy::Review> Find(SQLite::Database& db,
                                   const std::string& id) {
  SQLite::Statement q =
      BoundStatement(db, "SELECT doc FROM reviews WHERE id = ?", id);
  if (!q.executeStep()) return std::nullopt;
  return FromJson(q.getColumn(0).getString());
}

}  // namespace

SqliteReviewStore::SqliteReviewStore(const std::string& path) {
  try {
    db_ = OpenDurable(path);
    db_->exec(kSchema);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot open the reviews database \"" + path +
                             "\": " + e.what());
  }
}

SqliteReviewStore::~SqliteReviewStore() = default;

void SqliteReviewStore::Add(const policy::Review& review) {
  std::lock_guard lock(mu_);
  ExecBound(*db_,
            "INSERT INTO reviews (id, status, due_us, announced, doc) VALUES "
            "(?, ?, ?, ?, ?)",
            review.id, std::string(policy::ReviewStatusName(review.status)),
            review.due_us, review.overdue_announced ? 1 : 0,
            ToJson(review).dump());
}

void SqliteReviewStore::Put(const policy::Review& review) {
  ExecBound(
      *db_,
      "UPDATE reviews SET status = ?, announced = ?, doc = ? WHERE id = ?",
      std::string(policy::ReviewStatusName(review.status)),
      review.overdue_announced ? 1 : 0, ToJson(review).dump(), review.id);
}

void SqliteReviewStore::Remove(const std::string& id) {
  std::lock_guard lock(mu_);
  ExecBound(*db_, "DELETE FROM reviews WHERE id = ?", id);
}

std::optional<policy::Review> SqliteReviewStore::Get(const std::string& id) {
  std::lock_guard lock(mu_);
  return Find(*db_, id);
}

bool SqliteReviewStore::Ack(const std::string& id, const std::string& user,
                            const std::string& reason, std::int64_t now_us) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(*db_);
  std::optional<policy::Review> r = Find(*db_, id);
  if (!r || r->status != policy::ReviewStatus::kPending) return false;
  r->status = policy::ReviewStatus::kAcked;
  r->acked_by = user;
  r->ack_reason = reason;
  r->acked_us = now_us;
  Put(*r);
  tx.commit();
  return true;
}

void SqliteReviewStore::Unack(const std::string& id) {
  std::lock_guard lock(mu_);
  std::optional<policy::Review> r = Find(*db_, id);
  if (!r) return;
  r->status = policy::ReviewStatus::kPending;
  r->acked_by.clear();
  r->ack_reason.clear();
  r->acked_us = 0;
  Put(*r);
}

ReviewPage SqliteReviewStore::Page(const ReviewPageQuery& query) {
  std::lock_guard lock(mu_);
  SQLite::Statement q(*db_,
                      "SELECT seq, doc FROM reviews WHERE seq < ? AND "
                      "(? IS NULL OR status = ?) ORDER BY seq DESC LIMIT ?");
  q.bind(1, query.after.value_or(INT64_MAX));
  if (query.status) {
    const std::string s(policy::ReviewStatusName(*query.status));
    q.bind(2, s);
    q.bind(3, s);
  } else {
    q.bind(2);
    q.bind(3);
  }
  q.bind(4, static_cast<std::int64_t>(query.max_scanned));
  ReviewPage page;
  std::size_t scanned = 0;
  std::int64_t last_seq = 0;
  while (q.executeStep()) {
    ++scanned;
    last_seq = q.getColumn(0).getInt64();
    policy::Review r = FromJson(q.getColumn(1).getString());
    if (!policy::ReviewVisibleTo(r, query.viewer, query.viewer_groups,
                                 query.everyone)) {
      continue;
    }
    page.items.push_back(std::move(r));
    if (page.items.size() == query.limit) break;
  }
  // More may follow when the page filled up or the scan budget ran out.
  if (page.items.size() == query.limit || scanned == query.max_scanned) {
    page.next = last_seq;
  }
  return page;
}

std::vector<policy::Review> SqliteReviewStore::DueUnannounced(
    std::int64_t now_us, std::size_t limit) {
  std::lock_guard lock(mu_);
  SQLite::Statement q = BoundStatement(
      *db_,
      "SELECT doc FROM reviews WHERE status = 'pending' AND due_us <= ? AND "
      "announced = 0 ORDER BY due_us LIMIT ?",
      now_us, static_cast<std::int64_t>(limit));
  std::vector<policy::Review> out;
  while (q.executeStep()) out.push_back(FromJson(q.getColumn(0).getString()));
  return out;
}

void SqliteReviewStore::MarkOverdueAnnounced(const std::string& id) {
  std::lock_guard lock(mu_);
  std::optional<policy::Review> r = Find(*db_, id);
  if (!r) return;
  r->overdue_announced = true;
  Put(*r);
}

std::size_t SqliteReviewStore::CountPending() {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(
      db_->execAndGet("SELECT count(*) FROM reviews WHERE status = 'pending'")
          .getInt64());
}

std::size_t SqliteReviewStore::CountOverdue(std::int64_t now_us) {
  std::lock_guard lock(mu_);
  SQLite::Statement q(*db_,
                      "SELECT count(*) FROM reviews WHERE status = 'pending' "
                      "AND due_us <= ?");
  q.bind(1, static_cast<std::int64_t>(now_us));
  q.executeStep();
  return static_cast<std::size_t>(q.getColumn(0).getInt64());
}

}  // namespace agni::audit
