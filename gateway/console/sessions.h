// The web console's cookie sessions (DESIGN.md §11): sign-in creates one,
// the cookie names it on later requests, idle and absolute timeouts end it,
// and a state change made with it must carry the session's CSRF token and,
// when the browser sends one, a same-origin Origin.
//
// Thread-safe: the settings are immutable and the store is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/auth/authenticator.h"
#include "gateway/config/console_config.h"
#include "gateway/console/session_store.h"
#include "gateway/http/http_types.h"

namespace agni {

inline constexpr const char* kSessionCookie = "__Host-agni_session";

// Every value of the cookie `name` across all Cookie headers (views into
// `headers`).
std::vector<std::string_view> CookieValues(
    const std::vector<std::string>& headers, std::string_view name);

class ConsoleSessions {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // `listener_tls`: the main listener speaks TLS; `loopback_listener`: it
  // listens on a loopback address only. Without either the cookie would
  // cross a network in clear, so no session is created or accepted.
  ConsoleSessions(const ConsoleConfig& config, bool listener_tls,
                  bool loopback_listener, SessionStore& store, Clock clock);

  bool cookies_allowed() const { return cookies_allowed_; }

  struct SignedIn {
    std::string set_cookie;  // the Set-Cookie header value
    std::string csrf_token;
    std::int64_t expires_us = 0;  // absolute end (session_max)
  };
  SignedIn Create(const Principal& principal);

  // What a request's Cookie headers say.
  struct Lookup {
    enum class State { kNoCookie, kInvalid, kValid } state;
    StoredSession session;    // kValid only
    std::string cookie_hash;  // kValid only
    std::int64_t expires_us = 0;
  };
  // Valid sessions are touched (the idle timeout starts again); expired ones
  // are removed.
  Lookup Resolve(const HttpRequest& request);
  void Remove(const std::string& cookie_hash) { store_.Remove(cookie_hash); }

  // Set-Cookie value that makes the browser drop the cookie.
  static std::string ClearCookie();

  // Empty when a state change through `session` may go ahead; otherwise why
  // not (safe to audit: it never quotes a token).
  std::string CheckCsrf(const HttpRequest& request,
                        std::string_view session_csrf_token) const;
  // Empty when the request carries no Origin or a same-origin one.
  std::string CheckOrigin(const HttpRequest& request) const;

  std::chrono::milliseconds idle() const { return idle_; }

 private:
  std::int64_t NowUs() const;

  const bool cookies_allowed_;
  const bool listener_tls_;
  const std::chrono::milliseconds idle_;
  const std::chrono::milliseconds max_;
  const std::string public_url_;
  SessionStore& store_;
  const Clock clock_;
};

}  // namespace agni
