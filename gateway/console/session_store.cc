#include "gateway/console/session_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "audit/sqlite_store.h"

namespace agni {
namespace {

using audit::BoundStatement;
using audit::ExecBound;

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
CREATE TABLE IF NOT EXISTS login_flows (
  state_sha256   TEXT    PRIMARY KEY,
  provider       TEXT    NOT NULL,
  browser_sha256 TEXT    NOT NULL,
  nonce          TEXT    NOT NULL,
  code_verifier  TEXT    NOT NULL,
  created_us     INTEGER NOT NULL
);
)sql";

// SQLite creates a database with 0644 less the umask, and its -wal and -shm
// with the database's mode. Creating the file 0600 first (and narrowing one
// left wider by an earlier version) keeps the sessions the owner's alone.
void OwnerOnly(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::runtime_error(std::strerror(errno));
  }
  const int changed = ::fchmod(fd, 0600);
  const int error = errno;
  ::close(fd);
  if (changed != 0) throw std::runtime_error(std::strerror(error));
  for (const char* suffix : {"-wal", "-shm"}) {
    const std::string side = path + suffix;
    if (::chmod(side.c_str(), 0600) != 0 && errno != ENOENT) {
      throw std::runtime_error(side + ": " + std::strerror(errno));
    }
  }
}

}  // namespace

SessionStore::SessionStore(const std::string& path) {
  try {
    if (path != ":memory:") OwnerOnly(path);
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
  ExecBound(*db_,
            "INSERT INTO sessions (cookie_sha256, user, groups_json, "
            "auth_method, csrf_token, created_us, last_seen_us) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            cookie_hash, s.user, s.groups_json, s.auth_method, s.csrf_token,
            s.created_us, s.last_seen_us);
}

std::optional<StoredSession> SessionStore::Find(
    const std::string& cookie_hash) {
  std::lock_guard lock(mu_);
  SQLite::Statement q = BoundStatement(
      *db_,
      "SELECT user, groups_json, auth_method, csrf_token, created_us, "
      "last_seen_us FROM sessions WHERE cookie_sha256 = ?",
      cookie_hash);
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
  ExecBound(*db_,
            "UPDATE sessions SET last_seen_us = ? WHERE cookie_sha256 = ?",
            last_seen_us, cookie_hash);
}

void SessionStore::Remove(const std::string& cookie_hash) {
  std::lock_guard lock(mu_);
  ExecBound(*db_, "DELETE FROM sessions WHERE cookie_sha256 = ?", cookie_hash);
}

void SessionStore::RemoveExpired(std::int64_t idle_before_us,
                                 std::int64_t created_before_us) {
  std::lock_guard lock(mu_);
  ExecBound(*db_,
            "DELETE FROM sessions WHERE last_seen_us < ? OR created_us < ?",
            idle_before_us, created_before_us);
}

void SessionStore::InsertLoginFlow(const std::string& state_hash,
                                   const LoginFlow& flow,
                                   std::int64_t created_before_us,
                                   std::size_t max_flows) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(*db_);
  ExecBound(*db_, "DELETE FROM login_flows WHERE created_us < ?",
            created_before_us);
  ExecBound(*db_,
            "DELETE FROM login_flows WHERE state_sha256 IN (SELECT "
            "state_sha256 FROM login_flows ORDER BY created_us DESC LIMIT -1 "
            "OFFSET ?)",
            static_cast<std::int64_t>(max_flows > 0 ? max_flows - 1 : 0));
  ExecBound(*db_,
            "INSERT INTO login_flows (state_sha256, provider, browser_sha256, "
            "nonce, code_verifier, created_us) VALUES (?, ?, ?, ?, ?, ?)",
            state_hash, flow.provider, flow.browser_sha256, flow.nonce,
            flow.code_verifier, flow.created_us);
  tx.commit();
}

std::optional<LoginFlow> SessionStore::TakeLoginFlow(
    const std::string& state_hash) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(*db_);
  SQLite::Statement q = BoundStatement(
      *db_,
      "SELECT provider, browser_sha256, nonce, code_verifier, created_us "
      "FROM login_flows WHERE state_sha256 = ?",
      state_hash);
  if (!q.executeStep()) return std::nullopt;
  LoginFlow flow;
  flow.provider = q.getColumn(0).getString();
  flow.browser_sha256 = q.getColumn(1).getString();
  flow.nonce = q.getColumn(2).getString();
  flow.code_verifier = q.getColumn(3).getString();
  flow.created_us = q.getColumn(4).getInt64();
  q.reset();
  ExecBound(*db_, "DELETE FROM login_flows WHERE state_sha256 = ?", state_hash);
  tx.commit();
  return flow;
}

}  // namespace agni
