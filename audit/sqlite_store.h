// Small SQLiteCpp helpers for the files that keep their own SQLite database
// (audit log, approvals, reviews, console sessions): a store file opened for
// durable writes, and one statement prepared and bound in a single call, each
// `?` taking the next argument as SQLiteCpp's variadic bind does. Bound text
// is copied into the statement (SQLITE_TRANSIENT), so a temporary argument is
// fine.
//
// Not thread-safe: the caller holds whatever guards the connection.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/VariadicBind.h>

#include <memory>
#include <string>

namespace agni::audit {

// Opens (creating if needed) a store's own file for writes that survive a
// power cut: WAL, synchronous=FULL, waiting up to 2 s for another writer.
// Throws SQLite::Exception.
inline std::unique_ptr<SQLite::Database> OpenDurable(const std::string& path) {
  auto db = std::make_unique<SQLite::Database>(
      path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db->setBusyTimeout(2000);
  db->exec("PRAGMA journal_mode=WAL");
  db->exec("PRAGMA synchronous=FULL");
  return db;
}

// `sql` prepared on `db`, with `args` bound to its parameters in order,
// ready for executeStep().
template <class... Args>
SQLite::Statement BoundStatement(SQLite::Database& db, const char* sql,
                                 const Args&... args) {
  SQLite::Statement q(db, sql);
  SQLite::bind(q, args...);
  return q;
}

// Runs `sql` once with `args` bound in order; returns the rows it changed.
template <class... Args>
int ExecBound(SQLite::Database& db, const char* sql, const Args&... args) {
  return BoundStatement(db, sql, args...).exec();
}

}  // namespace agni::audit
