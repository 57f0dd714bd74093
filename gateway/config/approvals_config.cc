#include "gateway/config/approvals_config.h"

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include "base/ascii.h"
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

// `url` or `url_file` (a file holding the URL: chat webhooks carry their
// credential in the URL). Messages never repeat the URL.
void ReadUrl(ObjectReader& r, const fs::path& base_dir, std::string& out) {
  auto url = r.String("url", false);
  auto file = r.String("url_file", false);
  if (url.has_value() == file.has_value()) {
    r.Error(r.PathOf("url"), "needs exactly one of url or url_file");
    return;
  }
  std::string key = "url";
  if (file) {
    key = "url_file";
    const std::string f = Resolve(base_dir, *file);
    std::ifstream in(f, std::ios::binary);
    std::stringstream buf;
    if (in) buf << in.rdbuf();
    url = TrimNewline(buf.str());
    if (!in || url->empty()) {
      r.Error(r.PathOf("url_file"), "cannot read a URL from \"" + f + "\"");
      return;
    }
  }
  // Notifications name the request and its approvers: plain http:// only
  // where they never cross a network.
  const std::optional<std::string> host = UrlHost(*url);
  if (!url->starts_with("https://") && !url->starts_with("http://")) {
    r.Error(r.PathOf(key), "must be an https:// URL");
  } else if (!host) {
    r.Error(r.PathOf(key),
            "must be https://host[:port][/path] with no credentials");
  } else if (url->starts_with("http://") && !IsLoopbackHost(*host)) {
    r.Error(r.PathOf(key),
            "must be https:// (plain http:// is allowed only to a loopback "
            "host: 127.0.0.0/8, ::1, localhost)");
  } else {
    out = *url;
  }
}

// The HMAC key of a webhook: `secret_env` or `secret_file`.
void ReadSecret(ObjectReader& r, const std::string& path,
                const fs::path& base_dir, std::string& out) {
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
      out = v;
    }
  } else {
    const std::string f = Resolve(base_dir, *file);
    std::ifstream in(f, std::ios::binary);
    std::stringstream buf;
    if (in) buf << in.rdbuf();
    out = TrimNewline(buf.str());
    if (!in || out.empty()) {
      r.Error(r.PathOf("secret_file"),
              "cannot read a secret from \"" + f + "\"");
    }
  }
  if (!out.empty() && out.size() < 16) {
    r.Error(path, "the webhook secret must be at least 16 bytes");
  }
}

void ReadRetries(ObjectReader& r, WebhookConfig& out) {
  if (auto v = r.Duration("timeout", false)) out.timeout = *v;
  r.IntegerInto("max_queue", 1, 1000000, out.max_queue);
  r.IntegerInto("max_attempts", 1, 100, out.max_attempts);
  if (auto v = r.Duration("initial_backoff", false)) out.initial_backoff = *v;
}

void ReadWebhook(const nlohmann::json& value, const std::string& path,
                 const fs::path& base_dir, WebhookConfig& out,
                 ConfigErrors& errors) {
  ObjectReader r(value, path, errors,
                 {"url", "url_file", "secret_env", "secret_file", "timeout",
                  "max_queue", "max_attempts", "initial_backoff"});
  if (!r.ok()) return;
  ReadUrl(r, base_dir, out.url);
  ReadSecret(r, path, base_dir, out.secret);
  ReadRetries(r, out);
}

// approvals.notify[]: each channel's type, name, URL and, for a webhook, its
// secret. Names label the metric, so they are short words and unique.
void ReadNotify(const nlohmann::json& value, const std::string& path,
                const fs::path& base_dir, ApprovalsConfig& out,
                ConfigErrors& errors) {
  if (!value.is_array()) {
    errors.push_back({path, "must be an array of channels"});
    return;
  }
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string at = path + "[" + std::to_string(i) + "]";
    ObjectReader r(
        value[i], at, errors,
        {"type", "name", "url", "url_file", "secret_env", "secret_file",
         "timeout", "max_queue", "max_attempts", "initial_backoff"});
    if (!r.ok()) continue;
    NotifyChannelConfig channel;
    const auto type = r.String("type", true);
    if (type == "webhook") {
      channel.type = NotifyChannelConfig::Type::kWebhook;
      ReadSecret(r, at, base_dir, channel.delivery.secret);
    } else if (type == "slack" || type == "teams") {
      channel.type = *type == "slack" ? NotifyChannelConfig::Type::kSlack
                                      : NotifyChannelConfig::Type::kTeams;
      if (r.Has("secret_env") || r.Has("secret_file")) {
        r.Error(at, "only a \"webhook\" channel is signed with a secret");
      }
    } else if (type) {
      r.Error(r.PathOf("type"), "must be \"webhook\", \"slack\" or \"teams\"");
    }
    channel.name = r.String("name", false).value_or(type.value_or(""));
    if (!IsAsciiWord(channel.name, 64, "-_.")) {
      r.Error(r.PathOf("name"), "must be 1-64 characters of [A-Za-z0-9._-]");
    }
    for (const NotifyChannelConfig& other : out.notify) {
      if (other.name == channel.name) {
        r.Error(r.PathOf("name"),
                "another channel is named \"" + channel.name +
                    "\" (approvals.webhook is named \"webhook\"); give each "
                    "channel its own name");
      }
    }
    ReadUrl(r, base_dir, channel.delivery.url);
    ReadRetries(r, channel.delivery);
    out.notify.push_back(std::move(channel));
  }
}

}  // namespace

void ReadApprovalsConfig(const nlohmann::json* value, const std::string& path,
                         const fs::path& base_dir,
                         const std::string& audit_path, ApprovalsConfig& out,
                         ConfigErrors& errors) {
  if (!audit_path.empty()) {
    out.path = (fs::path(audit_path).parent_path() / "approvals.db").string();
    out.reviews_path =
        (fs::path(audit_path).parent_path() / "reviews.db").string();
  }
  if (value == nullptr) return;
  ObjectReader r(
      *value, path, errors,
      {"path", "webhook", "max_open_per_user", "notify", "reviews_path"});
  if (!r.ok()) return;
  if (auto p = r.String("path", false)) out.path = Resolve(base_dir, *p);
  if (auto p = r.String("reviews_path", false)) {
    out.reviews_path = Resolve(base_dir, *p);
  }
  r.IntegerInto("max_open_per_user", 1, 100000, out.max_open_per_user);
  if (const nlohmann::json* w = r.Get("webhook")) {
    ReadWebhook(*w, r.PathOf("webhook"), base_dir, out.webhook, errors);
    if (!out.webhook.url.empty()) {
      out.notify.push_back(
          {NotifyChannelConfig::Type::kWebhook, "webhook", out.webhook});
    }
  }
  if (const nlohmann::json* n = r.Get("notify")) {
    ReadNotify(*n, r.PathOf("notify"), base_dir, out, errors);
  }
  if (!audit_path.empty() && fs::path(out.path).lexically_normal() ==
                                 fs::path(audit_path).lexically_normal()) {
    r.Error(r.PathOf("path"), "must differ from audit.path");
  }
}

}  // namespace agni
