#include "gateway/console/sessions.h"

#include <nlohmann/json.hpp>

#include <string_view>
#include <vector>

#include "base/crypto.h"

namespace agni {
namespace {

constexpr std::size_t kCookieBytes = 32;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IsLowerHex(std::string_view s, std::size_t size) {
  if (s.size() != size) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::vector<std::string_view> CookieValues(
    const std::vector<std::string>& headers, std::string_view name) {
  std::vector<std::string_view> values;
  for (const std::string& header : headers) {
    std::string_view rest = header;
    while (!rest.empty()) {
      const std::size_t semi = rest.find(';');
      const std::string_view pair = Trim(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? "" : rest.substr(semi + 1);
      const std::size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
        values.push_back(pair.substr(eq + 1));
      }
    }
  }
  return values;
}

ConsoleSessions::ConsoleSessions(const ConsoleConfig& config, bool listener_tls,
                                 bool loopback_listener, SessionStore& store,
                                 Clock clock)
    : cookies_allowed_(listener_tls || loopback_listener),
      listener_tls_(listener_tls),
      idle_(config.session_idle),
      max_(config.session_max),
      public_url_(config.public_url),
      store_(store),
      clock_(clock ? std::move(clock)
                   : [] { return std::chrono::system_clock::now(); }) {}

std::int64_t ConsoleSessions::NowUs() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             clock_().time_since_epoch())
      .count();
}

ConsoleSessions::SignedIn ConsoleSessions::Create(const Principal& principal) {
  const std::int64_t now = NowUs();
  const std::int64_t idle_us =
      std::chrono::duration_cast<std::chrono::microseconds>(idle_).count();
  const std::int64_t max_us =
      std::chrono::duration_cast<std::chrono::microseconds>(max_).count();
  store_.RemoveExpired(now - idle_us, now - max_us);

  const std::string cookie = HexEncode(RandomBytes(kCookieBytes));
  StoredSession s;
  s.user = principal.name;
  s.groups_json = nlohmann::json(principal.groups).dump();
  s.auth_method = principal.auth_method;
  s.csrf_token = HexEncode(RandomBytes(kCookieBytes));
  s.created_us = now;
  s.last_seen_us = now;
  store_.Insert(Sha256Hex(cookie), s);

  SignedIn out;
  out.csrf_token = s.csrf_token;
  out.expires_us = now + max_us;
  out.set_cookie =
      std::string(kSessionCookie) + "=" + cookie + "; Path=/; Max-Age=" +
      std::to_string(
          std::chrono::duration_cast<std::chrono::seconds>(max_).count()) +
      "; Secure; HttpOnly; SameSite=Strict";
  return out;
}

ConsoleSessions::Lookup ConsoleSessions::Resolve(const HttpRequest& request) {
  Lookup out{Lookup::State::kNoCookie, {}, {}, 0};
  const std::vector<std::string_view> values =
      CookieValues(request.cookie, kSessionCookie);
  if (values.empty()) return out;
  out.state = Lookup::State::kInvalid;
  // Two session cookies are refused rather than guessed at.
  if (!cookies_allowed_ || values.size() != 1 ||
      !IsLowerHex(values.front(), 2 * kCookieBytes)) {
    return out;
  }
  const std::string hash = Sha256Hex(values.front());
  std::optional<StoredSession> s = store_.Find(hash);
  if (!s) return out;
  const std::int64_t now = NowUs();
  const std::int64_t idle_us =
      std::chrono::duration_cast<std::chrono::microseconds>(idle_).count();
  const std::int64_t max_us =
      std::chrono::duration_cast<std::chrono::microseconds>(max_).count();
  if (now - s->last_seen_us > idle_us || now - s->created_us > max_us) {
    store_.Remove(hash);
    return out;
  }
  store_.Touch(hash, now);
  s->last_seen_us = now;
  out.state = Lookup::State::kValid;
  out.session = std::move(*s);
  out.cookie_hash = hash;
  out.expires_us = out.session.created_us + max_us;
  return out;
}

std::string ConsoleSessions::ClearCookie() {
  return std::string(kSessionCookie) +
         "=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict";
}

std::string ConsoleSessions::CheckOrigin(const HttpRequest& request) const {
  if (request.origin.empty()) return "";
  if (request.origin.size() != 1) return "more than one Origin header";
  const std::string& origin = request.origin.front();
  if (!public_url_.empty() && origin == public_url_) return "";
  if (request.host.size() == 1) {
    const std::string own =
        std::string(listener_tls_ ? "https://" : "http://") +
        request.host.front();
    if (origin == own) return "";
  }
  return "the Origin is not this gateway's";
}

std::string ConsoleSessions::CheckCsrf(
    const HttpRequest& request, std::string_view session_csrf_token) const {
  if (request.csrf_token.size() != 1) {
    return "a change made with the session cookie needs one X-CSRF-Token "
           "header";
  }
  if (!ConstantTimeEquals(request.csrf_token.front(), session_csrf_token)) {
    return "the X-CSRF-Token is not this session's";
  }
  return CheckOrigin(request);
}

}  // namespace agni
