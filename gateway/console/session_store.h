// Server-side console sessions in their own SQLite file. A session is found
// by the SHA-256 of its cookie value; the value itself is never stored, so a
// copy of the file signs no one in.
//
// Thread-safe: one connection behind a mutex (sign-ins and look-ups are
// small; the console's traffic is people clicking).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace SQLite {
class Database;
}

namespace agni {

// One signed-in browser.
struct StoredSession {
  std::string user;
  std::string groups_json;  // the groups at sign-in, as a JSON array
  std::string auth_method;  // of the sign-in: "bearer", "api_key", ...
  std::string csrf_token;   // sent back in X-CSRF-Token on state changes
  std::int64_t created_us = 0;
  std::int64_t last_seen_us = 0;
};

class SessionStore {
 public:
  // Opens or creates the file; throws std::runtime_error naming the path.
  explicit SessionStore(const std::string& path);
  ~SessionStore();

  void Insert(const std::string& cookie_hash, const StoredSession& session);
  std::optional<StoredSession> Find(const std::string& cookie_hash);
  void Touch(const std::string& cookie_hash, std::int64_t last_seen_us);
  void Remove(const std::string& cookie_hash);
  // Drops sessions idle since before `idle_before_us` or created before
  // `created_before_us`.
  void RemoveExpired(std::int64_t idle_before_us,
                     std::int64_t created_before_us);

 private:
  std::mutex mu_;
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace agni
