#include "gateway/console/session_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <stdexcept>

namespace agni {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS sessions (
  cookie_sha256 TEXT PRIMARY KEY,
  user          TEXT    NOT NULL,
  groups_json   TEXT    NOT NULL,
  auth_method   TEXT    NOT NULL,
  csrf_token    TEXT    NOT NULL,
  created_us    INTEGER NOT NULL,
  last_seen_us  INTEGER NOT NULL
);
)sql";

}  // namespace

SessionStore::SessionStore(const std::string& path) {
  try {
    db_ = std::make_unique<SQLite::Database>(
        path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db_->setBusyTimeout(2000);
    db_->exec("PRAGMA journal_mode=WAL");
    db_->exec(kSchema);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot open the console sessions database \"" +
                             path + "\": " + e.what());
  }
}

SessionStore::~SessionStore() = default;

void SessionStore::Insert(const std::string& cookie_hash,
                          const StoredSession& s) {
  std::lock_guard lock(mu_);
  SQLite::Statement q(*db_,
                      "INSERT INTO sessions (cookie_sha256, user, groups_json, "
                      "auth_method, csrf_token, created_us, last_seen_us) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)");
  q.bind(1, cookie_hash);
  q.bind(2, s.user);
  q.bind(3, s.groups_json);
  q.bind(4, s.auth_method);
  q.bind(5, s.csrf_token);
  q.bind(6, static_cast<int64_t>(s.created_us));
  q.bind(7, static_cast<int64_t>(s.last_seen_us));
  q.exec();
}

std::optional<StoredSession> SessionStore::Find(
    const std::string& cookie_hash) {
  std::lock_guard lock(mu_);
  SQLite::Statement q(*db_,
                      "SELECT user, groups_json, auth_method, csrf_token, "
                      "created_us, last_seen_us FROM sessions WHERE "
                      "cookie_sha256 = ?");
  q.bind(1, cookie_hash);
  if (!q.executeStep()) return std::nullopt;
  StoredSession s;
  s.user = q.getColumn(0).getString();
  s.groups_json = q.getColumn(1).getString();
  s.auth_method = q.getColumn(2).getString();
  s.csrf_token = q.getColumn(3).getString();
  s.created_us = q.getColumn(4).getInt64();
  s.last_seen_us = q.getColumn(5).getInt64();
  return s;
}

void SessionStore::Touch(const std::string& cookie_hash,
                         std::int64_t last_seen_us) {
  std::lock_guard lock(mu_);
  SQLite::Statement q(
      *db_, "UPDATE sessions SET last_seen_us = ? WHERE cookie_sha256 = ?");
  q.bind(1, static_cast<int64_t>(last_seen_us));
  q.bind(2, cookie_hash);
  q.exec();
}

void SessionStore::Remove(const std::string& cookie_hash) {
  std::lock_guard lock(mu_);
  SQLite::Statement q(*db_, "DELETE FROM sessions WHERE cookie_sha256 = ?");
  q.bind(1, cookie_hash);
  q.exec();
}

void SessionStore::RemoveExpired(std::int64_t idle_before_us,
                                 std::int64_t created_before_us) {
  std::lock_guard lock(mu_);
  SQLite::Statement q(
      *db_, "DELETE FROM sessions WHERE last_seen_us < ? OR created_us < ?");
  q.bind(1, static_cast<int64_t>(idle_before_us));
  q.bind(2, static_cast<int64_t>(created_before_us));
  q.exec();
}

}  // namespace agni
