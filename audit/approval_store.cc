#include "audit/approval_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <stdexcept>

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

policy::Approval Parse(const std::string& doc) {
  return policy::FromStorageJson(nlohmann::json::parse(doc));
}

}  // namespace

SqliteApprovalStore::SqliteApprovalStore(const std::string& path)
    : lock_(path + ".lock", "the approvals database \"" + path +
                                "\" is in use by another agni-gateway") {
  try {
    db_ = std::make_unique<SQLite::Database>(
        path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db_->setBusyTimeout(2000);
    db_->exec("PRAGMA journal_mode=WAL");
    db_->exec("PRAGMA synchronous=FULL");
    db_->exec(kSchema);
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
  SQLite::Statement q(
      *db_,
      "SELECT doc FROM approvals WHERE requester = ? AND "
      "phone_number = ? AND rule_key = ? AND status IN "
      "('pending', 'approved') ORDER BY created_us DESC LIMIT 1");
  q.bind(1, requester);
  q.bind(2, phone_number);
  q.bind(3, rule_key);
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
  std::vector<policy::Approval> out;
  while (q.executeStep()) out.push_back(Parse(q.getColumn(0).getString()));
  return out;
}

void SqliteApprovalStore::Put(const policy::Approval& a) {
  std::lock_guard lock(mu_);
  SQLite::Statement q(
      *db_,
      "INSERT OR REPLACE INTO approvals (id, status, requester, "
      "phone_number, rule_key, created_us, doc) VALUES "
      "(?, ?, ?, ?, ?, ?, ?)");
  q.bind(1, a.id);
  q.bind(2, std::string(policy::StatusName(a.status)));
  q.bind(3, a.requester);
  q.bind(4, a.phone_number);
  q.bind(5, a.rule_key);
  q.bind(6, static_cast<std::int64_t>(a.created_us));
  q.bind(7, policy::ToStorageJson(a).dump());
  q.exec();
}

void SqliteApprovalStore::Remove(const std::string& id) {
  std::lock_guard lock(mu_);
  SQLite::Statement q(*db_, "DELETE FROM approvals WHERE id = ?");
  q.bind(1, id);
  q.exec();
}

std::vector<policy::Approval> SqliteApprovalStore::ListAwaitingIntent() {
  std::lock_guard lock(mu_);
  // Only the executed rows are looked at, through the status index.
  SQLite::Statement q(*db_,
                      "SELECT doc FROM approvals WHERE status = 'executed' AND "
                      "json_extract(doc, '$.awaiting_intent') = 1");
  std::vector<policy::Approval> out;
  while (q.executeStep()) out.push_back(Parse(q.getColumn(0).getString()));
  return out;
}

std::size_t SqliteApprovalStore::CountPending() {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(
      db_->execAndGet("SELECT COUNT(*) FROM approvals WHERE status = 'pending'")
          .getInt64());
}

}  // namespace agni::audit
