#include "gateway/config/syslog_config.h"

#include <algorithm>
#include <string_view>

#include "audit/ship/tls_stream.h"
#include "policies/load/json_reader.h"

namespace agni {
namespace fs = std::filesystem;

namespace {

std::string Resolve(const fs::path& base_dir, const std::string& file) {
  fs::path p(file);
  return (p.is_absolute() ? p : base_dir / p).lexically_normal().string();
}

// "host:port" or "[v6]:port" into its parts; false when malformed.
bool SplitAddress(std::string_view address, std::string& host, int& port) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view h = address.substr(0, colon);
  const std::string_view p = address.substr(colon + 1);
  if (h.starts_with("[") && h.ends_with("]")) {
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string_view::npos) {
    return false;  // an IPv6 address needs brackets
  }
  if (h.empty() || p.empty() || p.size() > 5 ||
      p.find_first_not_of("0123456789") != std::string_view::npos) {
    return false;
  }
  for (char c : h) {
    if (c <= ' ' || c > '~' || c == '/' || c == '@') return false;
  }
  port = std::stoi(std::string(p));
  if (port < 1 || port > 65535) return false;
  host = std::string(h);
  return true;
}

}  // namespace

void ReadSyslogConfig(const nlohmann::json& value, const std::string& path,
                      const fs::path& base_dir, const std::string& audit_path,
                      std::optional<audit::SyslogOptions>& out,
                      ConfigErrors& errors) {
  ObjectReader r(value, path, errors,
                 {"address", "ca_file", "server_name", "client_cert_file",
                  "client_key_file", "app_name", "queue", "state_file",
                  "idle_timeout", "confirm_interval"});
  if (!r.ok()) return;
  audit::SyslogOptions o;
  bool valid = true;
  if (auto a = r.String("address", true)) {
    o.address = *a;
    if (!SplitAddress(*a, o.tls.host, o.tls.port)) {
      r.Error(r.PathOf("address"),
              "must be host:port (e.g. \"siem.example.com:6514\", "
              "\"[2001:db8::1]:6514\")");
      valid = false;
    }
  } else {
    valid = false;
  }
  if (auto ca = r.String("ca_file", true)) {
    o.tls.ca_file = Resolve(base_dir, *ca);
  } else {
    valid = false;
  }
  if (auto n = r.String("server_name", false)) {
    o.tls.server_name = *n;
    if (n->empty()) {
      r.Error(r.PathOf("server_name"), "must not be empty");
      valid = false;
    }
  }
  const auto cert = r.String("client_cert_file", false);
  const auto key = r.String("client_key_file", false);
  if (cert.has_value() != key.has_value()) {
    r.Error(r.PathOf(cert ? "client_key_file" : "client_cert_file"),
            std::string("is required with ") +
                r.PathOf(cert ? "client_cert_file" : "client_key_file"));
    valid = false;
  } else if (cert) {
    o.tls.client_cert_file = Resolve(base_dir, *cert);
    o.tls.client_key_file = Resolve(base_dir, *key);
  }
  if (auto a = r.String("app_name", false)) {
    const bool printable = std::all_of(
        a->begin(), a->end(), [](char c) { return c > ' ' && c <= '~'; });
    if (a->empty() || a->size() > 48 || !printable) {
      r.Error(r.PathOf("app_name"),
              "must be 1 to 48 printable ASCII characters without spaces "
              "(RFC 5424 APP-NAME)");
      valid = false;
    }
    o.app_name = *a;
  }
  r.IntegerInto("queue", 1, 1'000'000, o.queue);
  if (auto d = r.Duration("idle_timeout", false)) {
    if (*d > std::chrono::hours(1)) {
      r.Error(r.PathOf("idle_timeout"), "must be at most 1h");
      valid = false;
    }
    o.idle_timeout = *d;
  }
  if (auto d = r.Duration("confirm_interval", false)) {
    if (*d < std::chrono::milliseconds(100) || *d > std::chrono::hours(1)) {
      r.Error(r.PathOf("confirm_interval"), "must be between 100ms and 1h");
      valid = false;
    }
    o.confirm_interval = *d;
  }
  o.state_file = audit_path.empty() ? "" : audit_path + ".syslog";
  if (auto s = r.String("state_file", false)) {
    o.state_file = Resolve(base_dir, *s);
    const fs::path dir = fs::path(o.state_file).parent_path();
    if (s->empty() || !fs::is_directory(dir)) {
      r.Error(r.PathOf("state_file"),
              "must name a file in an existing directory");
      valid = false;
    }
  }
  if (valid) {
    std::string error;
    if (!audit::TlsClientContext::Create(o.tls, error)) {
      const bool client = !o.tls.client_cert_file.empty() &&
                          error.find("client") != std::string::npos;
      r.Error(r.PathOf(client ? "client_cert_file" : "ca_file"), error);
      valid = false;
    }
  }
  if (valid) out = std::move(o);
}

}  // namespace agni
