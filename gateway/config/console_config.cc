#include "gateway/config/console_config.h"

#include "policies/load/json_reader.h"

namespace agni {
namespace fs = std::filesystem;

namespace {

// An origin as browsers send it: scheme://host[:port], no path, no slash.
bool IsOrigin(const std::string& url) {
  const bool https = url.starts_with("https://");
  if (!https && !url.starts_with("http://")) return false;
  const std::string rest = url.substr(https ? 8 : 7);
  return !rest.empty() && rest.find_first_of("/?#@ ") == std::string::npos;
}

}  // namespace

void ReadConsoleConfig(const nlohmann::json* value, const std::string& path,
                       const fs::path& base_dir, const std::string& audit_path,
                       ConsoleConfig& out, ConfigErrors& errors) {
  if (!audit_path.empty()) {
    out.sessions_path =
        (fs::path(audit_path).parent_path() / "sessions.db").string();
  }
  if (value == nullptr) return;
  ObjectReader r(*value, path, errors,
                 {"enabled", "session_idle", "session_max", "public_url",
                  "sessions_path"});
  if (!r.ok()) return;
  if (auto v = r.Bool("enabled")) out.enabled = *v;
  using std::chrono::minutes;
  if (auto v = r.Duration("session_idle", false)) {
    out.session_idle = *v;
    if (*v < minutes(1) || *v > minutes(24 * 60)) {
      r.Error(r.PathOf("session_idle"), "must be between 1m and 24h");
    }
  }
  if (auto v = r.Duration("session_max", false)) {
    out.session_max = *v;
    if (*v < minutes(1) || *v > minutes(7 * 24 * 60)) {
      r.Error(r.PathOf("session_max"), "must be between 1m and 168h");
    }
  }
  if (out.session_idle > out.session_max) {
    r.Error(r.PathOf("session_idle"), "must not be longer than session_max");
  }
  if (auto v = r.String("public_url", false)) {
    if (IsOrigin(*v)) {
      out.public_url = *v;
    } else {
      r.Error(r.PathOf("public_url"),
              "must be an origin: https://host[:port] with no path");
    }
  }
  if (auto p = r.String("sessions_path", false)) {
    fs::path file(*p);
    out.sessions_path = (file.is_absolute() ? file : base_dir / file)
                            .lexically_normal()
                            .string();
  }
  if (!audit_path.empty() && fs::path(out.sessions_path).lexically_normal() ==
                                 fs::path(audit_path).lexically_normal()) {
    r.Error(r.PathOf("sessions_path"), "must differ from audit.path");
  }
}

}  // namespace agni
