// Server-side console sessions in their own SQLite file. A session is found
// by the SHA-256 of its cookie value; the value itself is never stored, so a
// copy of the file signs no one in. The same file keeps the sign-ins under
// way at an identity provider (between /ui/login and /ui/callback). The file
// and its -wal/-shm are the owner's alone (0600), whatever the umask.
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

// A sign-in at an identity provider between /ui/login and /ui/callback,
// found by the SHA-256 of its `state`.
struct LoginFlow {
  std::string provider;        // identity.oidc[].name
  std::string browser_sha256;  // of the login cookie that binds the browser
  std::string nonce;           // the ID token must carry it back
  std::string code_verifier;   // PKCE (RFC 7636), sent with the code
  std::int64_t created_us = 0;
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

  // Keeps `flow` under `state_hash`, first dropping flows created before
  // `created_before_us` and, past `max_flows`, the oldest (an anonymous
  // caller can start sign-ins; the table stays bounded).
  void InsertLoginFlow(const std::string& state_hash, const LoginFlow& flow,
                       std::int64_t created_before_us, std::size_t max_flows);
  // Removes and returns the flow: a state is good for one callback.
  std::optional<LoginFlow> TakeLoginFlow(const std::string& state_hash);

 private:
  std::mutex mu_;
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace agni
