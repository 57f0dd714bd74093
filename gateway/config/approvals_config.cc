#include "gateway/config/approvals_config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

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

void ReadWebhook(const nlohmann::json& value, const std::string& path,
                 const fs::path& base_dir, WebhookConfig& out,
                 ConfigErrors& errors) {
  ObjectReader r(value, path, errors,
                 {"url", "secret_env", "secret_file", "timeout", "max_queue",
                  "max_attempts", "initial_backoff"});
  if (!r.ok()) return;
  if (auto url = r.String("url", true)) {
    if (!url->starts_with("https://") && !url->starts_with("http://")) {
      r.Error(r.PathOf("url"), "must be an http:// or https:// URL");
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
  ObjectReader r(*value, path, errors, {"path", "webhook"});
  if (!r.ok()) return;
  if (auto p = r.String("path", false)) out.path = Resolve(base_dir, *p);
  if (const nlohmann::json* w = r.Get("webhook")) {
    ReadWebhook(*w, r.PathOf("webhook"), base_dir, out.webhook, errors);
  }
  if (!audit_path.empty() && fs::path(out.path).lexically_normal() ==
                                 fs::path(audit_path).lexically_normal()) {
    r.Error(r.PathOf("path"), "must differ from audit.path");
  }
}

}  // namespace agni
