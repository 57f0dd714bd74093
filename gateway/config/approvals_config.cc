#include "gateway/config/approvals_config.h"

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include "gateway/config/config.h"
#include "policies/load/json_reader.h"

namespace agni {
namespace fs = std::filesystem;

namespace {

std::string Resolve(const fs::path& base_dir, const std::string& file) {
  fs::path p(file);
  return (p.is_absolute() ? p : base_dir / p).lexically_normal().string();
}

std::string TrimNewline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// The host of an http(s) URL's authority ("[::1]" gives "::1"), or nullopt
// when the authority is empty, carries credentials or has a malformed port.
std::optional<std::string> UrlHost(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  std::string_view authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with("[")) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    port = authority.substr(close + 1);
  } else {
    const std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    port = colon == std::string_view::npos ? "" : authority.substr(colon);
  }
  if (!port.empty()) {
    if (port.size() < 2 || port.size() > 6 || port[0] != ':' ||
        port.substr(1).find_first_not_of("0123456789") !=
            std::string_view::npos) {
      return std::nullopt;
    }
  }
  if (host.empty()) return std::nullopt;
  return std::string(host);
}

void ReadWebhook(const nlohmann::json& value, const std::string& path,
                 const fs::path& base_dir, WebhookConfig& out,
                 ConfigErrors& errors) {
  ObjectReader r(value, path, errors,
                 {"url", "secret_env", "secret_file", "timeout", "max_queue",
                  "max_attempts", "initial_backoff"});
  if (!r.ok()) return;
  if (auto url = r.String("url", true)) {
    // Notifications name the request and its approvers: plain http:// only
    // where they never cross a network.
    const std::optional<std::string> host = UrlHost(*url);
    if (!url->starts_with("https://") && !url->starts_with("http://")) {
      r.Error(r.PathOf("url"), "must be an https:// URL");
    } else if (!host) {
      r.Error(r.PathOf("url"),
              "must be https://host[:port][/path] with no credentials");
    } else if (url->starts_with("http://") && !IsLoopbackHost(*host)) {
      r.Error(r.PathOf("url"),
              "must be https:// (plain http:// is allowed only to a loopback "
              "host: 127.0.0.0/8, ::1, localhost)");
    } else {
      out.url = *url;
    }
  }
  auto env = r.String("secret_env", false);
  auto file = r.String("secret_file", false);
  if (env.has_value() == file.has_value()) {
    r.Error(path,
            "needs exactly one of secret_env or secret_file (the "
            "HMAC-SHA256 key that signs every notification)");
  } else if (env) {
    const char* v = std::getenv(env->c_str());
    if (v == nullptr || *v == '\0') {
      r.Error(r.PathOf("secret_env"),
              "environment variable " + *env + " is not set or empty");
    } else {
      out.secret = v;
    }
  } else {
    const std::string f = Resolve(base_dir, *file);
    std::ifstream in(f, std::ios::binary);
    std::stringstream buf;
    if (in) buf << in.rdbuf();
    out.secret = TrimNewline(buf.str());
    if (!in || out.secret.empty()) {
      r.Error(r.PathOf("secret_file"),
              "cannot read a secret from \"" + f + "\"");
    }
  }
  if (!out.secret.empty() && out.secret.size() < 16) {
    r.Error(path, "the webhook secret must be at least 16 bytes");
  }
  if (auto v = r.Duration("timeout", false)) out.timeout = *v;
  r.IntegerInto("max_queue", 1, 1000000, out.max_queue);
  r.IntegerInto("max_attempts", 1, 100, out.max_attempts);
  if (auto v = r.Duration("initial_backoff", false)) out.initial_backoff = *v;
}

}  // namespace

void ReadApprovalsConfig(const nlohmann::json* value, const std::string& path,
                         const fs::path& base_dir,
                         const std::string& audit_path, ApprovalsConfig& out,
                         ConfigErrors& errors) {
  if (!audit_path.empty()) {
    out.path = (fs::path(audit_path).parent_path() / "approvals.db").string();
  }
  if (value == nullptr) return;
  ObjectReader r(*value, path, errors,
                 {"path", "webhook", "max_open_per_user"});
  if (!r.ok()) return;
  if (auto p = r.String("path", false)) out.path = Resolve(base_dir, *p);
  r.IntegerInto("max_open_per_user", 1, 100000, out.max_open_per_user);
  if (const nlohmann::json* w = r.Get("webhook")) {
    ReadWebhook(*w, r.PathOf("webhook"), base_dir, out.webhook, errors);
  }
  if (!audit_path.empty() && fs::path(out.path).lexically_normal() ==
                                 fs::path(audit_path).lexically_normal()) {
    r.Error(r.PathOf("path"), "must differ from audit.path");
  }
}

}  // namespace agni
