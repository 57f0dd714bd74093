#include "gateway/config/tls_config.h"

#include <filesystem>

#include "policies/load/json_reader.h"

namespace agni {
namespace fs = std::filesystem;

namespace {

std::string ResolveFile(const std::string& base_dir, const std::string& file) {
  fs::path p(file);
  return (p.is_absolute() ? p : fs::path(base_dir) / p)
      .lexically_normal()
      .string();
}

}  // namespace

void ReadTlsConfig(const nlohmann::json& value, const std::string& path,
                   const std::string& base_dir,
                   const std::set<std::string, std::less<>>& users,
                   TlsConfig& tls, ConfigErrors& errors) {
  ObjectReader r(value, path, errors,
                 {"cert_file", "key_file", "client_ca_file", "client_auth",
                  "client_certificates"});
  if (!r.ok()) return;
  auto file = [&](const char* key, bool required, std::string& out) {
    if (auto f = r.String(key, required)) {
      out = ResolveFile(base_dir, *f);
      if (!fs::is_regular_file(out)) {
        r.Error(r.PathOf(key), "no such file \"" + out + "\"");
      }
    }
  };
  file("cert_file", true, tls.cert_file);
  file("key_file", true, tls.key_file);
  file("client_ca_file", false, tls.client_ca_file);
  tls.enabled = true;
  if (auto mode = r.String("client_auth", false)) {
    if (*mode == "require") {
      tls.require_client_certificate = true;
    } else if (*mode != "optional") {
      r.Error(r.PathOf("client_auth"), "must be \"optional\" or \"require\"");
    }
    if (!r.Has("client_ca_file")) {
      r.Error(r.PathOf("client_auth"), "needs client_ca_file");
    }
  }
  const nlohmann::json* list = r.Get("client_certificates");
  if (list == nullptr) return;
  const std::string lpath = r.PathOf("client_certificates");
  if (!list->is_array()) {
    r.Error(lpath, "must be an array of {user, subject | san}");
    return;
  }
  if (!r.Has("client_ca_file")) {
    r.Error(lpath,
            "needs client_ca_file (the CA that signs the client "
            "certificates)");
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string epath = lpath + "[" + std::to_string(i) + "]";
    ObjectReader e((*list)[i], epath, errors, {"user", "subject", "san"});
    if (!e.ok()) continue;
    ClientCertificateMapping m;
    if (auto u = e.String("user", true)) {
      m.user = *u;
      if (!users.contains(*u)) {
        e.Error(e.PathOf("user"), "names no configured user \"" + *u + "\"");
      }
    }
    if (auto s = e.String("subject", false)) m.subject = *s;
    if (auto s = e.String("san", false)) {
      m.san = *s;
      if (!(s->starts_with("DNS:") || s->starts_with("URI:") ||
            s->starts_with("email:") || s->starts_with("IP:"))) {
        e.Error(e.PathOf("san"),
                "must start with DNS:, URI:, email: or IP: (e.g. "
                "\"DNS:ops-bot.internal\")");
      }
    }
    if (m.subject.empty() == m.san.empty()) {
      e.Error(epath, "needs exactly one of \"subject\" or \"san\"");
    }
    tls.client_certificates.push_back(std::move(m));
  }
}

}  // namespace agni
