#include "audit/approval_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <optional>
#include <stdexcept>

#include "audit/sqlite_store.h"

namespace agni::audit {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS approvals (
  id           TEXT PRIMARY KEY,
  status       TEXT    NOT NULL,
  requester    TEXT    NOT NULL,
  phone_number TEXT    NOT NULL,
  rule_key     TEXT    NOT NULL,
  created_us   INTEGER NOT NULL,
  doc          TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS approvals_open
  ON approvals (requester, phone_number, rule_key, status);
CREATE INDEX IF NOT EXISTS approvals_by_status ON approvals (status, created_us);
)sql";

constexpr const char* kPutSql =
    "INSERT OR REPLACE INTO approvals (id, status, requester, phone_number, "
    "rule_key, created_us, doc, deadline_us, approver_groups) VALUES (?, ?, "
    "?, ?, ?, ?, ?, ?, ?)";

policy::Approval Parse(const std::string& doc) {
  return policy::FromStorageJson(nlohmann::json::parse(doc));
}

// The columns the list, the sweep and the per-user cap read from indexes
// (added to databases created before them, then filled from the documents).
constexpr const char* kListSchema = R"sql(
CREATE INDEX IF NOT EXISTS approvals_page ON approvals (status, created_us, id);
CREATE INDEX IF NOT EXISTS approvals_newest ON approvals (created_us, id);
CREATE INDEX IF NOT EXISTS approvals_due ON approvals (deadline_us)
  WHERE deadline_us IS NOT NULL;
CREATE INDEX IF NOT EXISTS approvals_by_requester
  ON approvals (requester, status);
CREATE INDEX IF NOT EXISTS approvals_open_newest ON approvals (created_us, id)
  WHERE status IN ('pending', 'approved');
)sql";

// The deadline of an open request (NULL once closed): what the sweep
// searches by.
std::optional<std::int64_t> DeadlineOf(const policy::Approval& a) {
  switch (a.status) {
    case policy::ApprovalStatus::kPending: return a.expires_us;
    case policy::ApprovalStatus::kApproved: return a.execute_before_us;
    default: return std::nullopt;
  }
}

// ",g1,g2,": every group that decides on `a`, searchable as ",g,".
std::string GroupsColumn(const policy::Approval& a) {
  std::string out = ",";
  for (const std::string& g : policy::ApproverGroups(a)) out += g + ",";
  return out;
}

// Every approval the rows of `q` hold in their first column, in order.
std::vector<policy::Approval> ParseAll(SQLite::Statement& q) {
  std::vector<policy::Approval> out;
  while (q.executeStep()) out.push_back(Parse(q.getColumn(0).getString()));
  return out;
}

std::vector<std::string> SplitGroups(const std::string& column) {
  std::vector<std::string> out;
  for (std::size_t p = 1; p < column.size();) {
    const std::size_t comma = column.find(',', p);
    if (comma == std::string::npos) break;
    out.push_back(column.substr(p, comma - p));
    p = comma + 1;
  }
  return out;
}

bool HasColumn(SQLite::Database& db, const char* name) {
  SQLite::Statement q(db,
                      "SELECT 1 FROM pragma_table_info('approvals') "
                      "WHERE name = ?");
  q.bind(1, name);
  return q.executeStep();
}

void BindListColumns(SQLite::Statement& q, int first,
                     const policy::Approval& a) {
  if (const auto deadline = DeadlineOf(a)) {
    q.bind(first, static_cast<std::int64_t>(*deadline));
  } else {
    q.bind(first);
  }
  q.bind(first + 1, GroupsColumn(a));
}

void MigrateListColumns(SQLite::Database& db) {
  SQLite::Transaction tx(db);
  if (!HasColumn(db, "deadline_us")) {
    db.exec("ALTER TABLE approvals ADD COLUMN deadline_us INTEGER");
  }
  if (!HasColumn(db, "approver_groups")) {
    db.exec("ALTER TABLE approvals ADD COLUMN approver_groups TEXT");
  }
  SQLite::Statement rows(
      db, "SELECT doc FROM approvals WHERE approver_groups IS NULL");
  SQLite::Statement fill(db,
                         "UPDATE approvals SET deadline_us = ?, "
                         "approver_groups = ? WHERE id = ?");
  while (rows.executeStep()) {
    const policy::Approval a = Parse(rows.getColumn(0).getString());
    BindListColumns(fill, 1, a);
    fill.bind(3, a.id);
    fill.exec();
    fill.reset();
  }
  db.exec(kListSchema);
  tx.commit();
}

// Binds every column of `a` to kPutSql.
void BindPut(SQLite::Statement& q, const policy::Approval& a) {
  q.bind(1, a.id);
  q.bind(2, std::string(policy::StatusName(a.status)));
  q.bind(3, a.requester);
  q.bind(4, a.phone_number);
  q.bind(5, a.rule_key);
  q.bind(6, static_cast<std::int64_t>(a.created_us));
  q.bind(7, policy::ToStorageJson(a).dump());
  BindListColumns(q, 8, a);
}

}  // namespace

SqliteApprovalStore::SqliteApprovalStore(const std::string& path)
    : lock_(path + ".lock", "the approvals database \"" + path +
                                "\" is in use by another agni-gateway") {
  try {
    db_ = OpenDurable(path);
    db_->exec(kSchema);
    MigrateListColumns(*db_);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot open the approvals database \"" + path +
                             "\": " + e.what());
  }
}

SqliteApprovalStore::~SqliteApprovalStore() = default;

std::optional<policy::Approval> SqliteApprovalStore::Get(
    const std::string& id) {
  std::lock_guard lock(mu_);
  SQLite::Statement q(*db_, "SELECT doc FROM approvals WHERE id = ?");
  q.bind(1, id);
  if (!q.executeStep()) return std::nullopt;
  return Parse(q.getColumn(0).getString());
}

std::optional<policy::Approval> SqliteApprovalStore::FindOpen(
    const std::string& requester, const std::string& phone_number,
    const std::string& rule_key) {
  std::lock_guard lock(mu_);
  SQLite::Statement q =
      BoundStatement(*db_,
                     "SELECT doc FROM approvals WHERE requester = ? AND "
                     "phone_number = ? AND rule_key = ? AND status IN "
                     "('pending', 'approved') ORDER BY created_us DESC LIMIT 1",
                     requester, phone_number, rule_key);
  if (!q.executeStep()) return std::nullopt;
  return Parse(q.getColumn(0).getString());
}

std::vector<policy::Approval> SqliteApprovalStore::List(
    std::optional<policy::ApprovalStatus> status) {
  std::lock_guard lock(mu_);
  SQLite::Statement q(
      *db_, status ? "SELECT doc FROM approvals WHERE status = ? ORDER BY "
                     "created_us DESC, id"
                   : "SELECT doc FROM approvals ORDER BY created_us DESC, id");
  if (status) q.bind(1, std::string(policy::StatusName(*status)));
  return ParseAll(q);
}

void SqliteApprovalStore::Put(const policy::Approval& a) {
  std::lock_guard lock(mu_);
  SQLite::Statement q(*db_, kPutSql);
  BindPut(q, a);
  q.exec();
}

void SqliteApprovalStore::PutAll(
    const std::vector<policy::Approval>& approvals) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(*db_);
  SQLite::Statement q(*db_, kPutSql);
  for (const policy::Approval& a : approvals) {
    BindPut(q, a);
    q.exec();
    q.reset();
  }
  tx.commit();
}

void SqliteApprovalStore::Remove(const std::string& id) {
  std::lock_guard lock(mu_);
  ExecBound(*db_, "DELETE FROM approvals WHERE id = ?", id);
}

std::vector<policy::Approval> SqliteApprovalStore::ListAwaitingIntent() {
  std::lock_guard lock(mu_);
  // Only the executed rows are looked at, through the status index.
  SQLite::Statement q(*db_,
                      "SELECT doc FROM approvals WHERE status = 'executed' AND "
                      "json_extract(doc, '$.awaiting_intent') = 1");
  return ParseAll(q);
}

std::size_t SqliteApprovalStore::CountPending() {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(
      db_->execAndGet("SELECT COUNT(*) FROM approvals WHERE status = 'pending'")
          .getInt64());
}

policy::ApprovalPage SqliteApprovalStore::ListPage(
    const policy::ApprovalPageQuery& query) {
  std::lock_guard lock(mu_);
  // Walks the (status,) created_us, id index from the cursor, newest first;
  // who may see a row is decided from its columns, and only rows shown are
  // parsed.
  std::string sql =
      "SELECT id, created_us, requester, approver_groups, doc FROM approvals "
      "WHERE 1";
  if (query.status) sql += " AND status = :status";
  // Spelled as approvals_open_newest's condition, so that index is used.
  if (query.open_only) sql += " AND status IN ('pending', 'approved')";
  if (query.after) {
    sql += " AND (created_us < :at OR (created_us = :at AND id < :id))";
  }
  sql += " ORDER BY created_us DESC, id DESC LIMIT :scan";
  SQLite::Statement q(*db_, sql);
  if (query.status) {
    q.bind(":status", std::string(policy::StatusName(*query.status)));
  }
  if (query.after) {
    q.bind(":at", static_cast<std::int64_t>(query.after->created_us));
    q.bind(":id", query.after->id);
  }
  q.bind(":scan", static_cast<std::int64_t>(query.max_scanned));
  policy::ApprovalPage page;
  std::size_t scanned = 0;
  policy::ListCursor last;
  while (q.executeStep()) {
    ++scanned;
    last = {q.getColumn(1).getInt64(), q.getColumn(0).getString()};
    if (!policy::ListedFor(query, q.getColumn(2).getString(),
                           SplitGroups(q.getColumn(3).getString()))) {
      continue;
    }
    policy::Approval a = Parse(q.getColumn(4).getString());
    if (query.keep && !query.keep(a)) continue;
    if (page.items.size() == query.limit) {
      // One more shown row exists: the page ends at its last item.
      page.next = policy::ListCursor{page.items.back().created_us,
                                     page.items.back().id};
      return page;
    }
    page.items.push_back(std::move(a));
  }
  if (scanned == query.max_scanned && scanned > 0) {
    // Stopped by the scan bound, not the end: continue after the last row
    // looked at (this page may hold fewer than `limit`).
    page.next = std::move(last);
  }
  return page;
}

std::vector<policy::Approval> SqliteApprovalStore::ListDue(std::int64_t now_us,
                                                           std::size_t limit) {
  std::lock_guard lock(mu_);
  SQLite::Statement q = BoundStatement(
      *db_,
      "SELECT doc FROM approvals WHERE deadline_us <= ? AND "
      "status IN ('pending', 'approved') ORDER BY deadline_us LIMIT ?",
      now_us, static_cast<std::int64_t>(limit));
  return ParseAll(q);
}

std::size_t SqliteApprovalStore::CountOpen(const std::string& requester,
                                           std::int64_t now_us) {
  std::lock_guard lock(mu_);
  SQLite::Statement q = BoundStatement(
      *db_,
      "SELECT COUNT(*) FROM approvals WHERE requester = ? AND status IN "
      "('pending', 'approved') AND deadline_us > ?",
      requester, now_us);
  q.executeStep();
  return static_cast<std::size_t>(q.getColumn(0).getInt64());
}

}  // namespace agni::audit
