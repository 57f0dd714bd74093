#include "gateway/config/config.h"

#include <arpa/inet.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "audit/checkpoint.h"
#include "base/ascii.h"
#include "base/e164.h"
#include "gateway/config/syslog_config.h"
#include "policies/approvals.h"
#include "policies/load/json_reader.h"
#include "policies/load/policy_loader.h"

namespace agni {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

// What IsConfigName accepts, as an error message says it.
constexpr const char* kConfigNameRule =
    "must be 1-64 characters of [A-Za-z0-9._@-]";

namespace {

std::optional<int> ParsePort(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  int port = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  if (port < 0 || port > 65535) return std::nullopt;
  return port;
}

bool IsHostName(std::string_view host) {
  return IsAsciiWord(host, 253, "-.") && host.front() != '-' &&
         host.front() != '.';
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool IsLowerHex(std::string_view s, std::size_t len) {
  if (s.size() != len) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string Resolve(const fs::path& base_dir, const std::string& file) {
  fs::path p(file);
  return (p.is_absolute() ? p : base_dir / p).lexically_normal().string();
}

// Reads a JSON file; on failure records an error at `path` and returns null.
std::optional<json> ReadJsonFile(const std::string& file,
                                 const std::string& path,
                                 ConfigErrors& errors) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    errors.push_back({path, "cannot read file \"" + file + "\""});
    return std::nullopt;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  // nlohmann keeps the last of two equal keys; a policy with "effect" twice
  // must not load as whichever came last, so duplicates are errors.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  json::parser_callback_t callback = [&](int, json::parse_event_t event,
                                         json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end: open_objects.pop_back(); break;
      case json::parse_event_t::key:
        if (!open_objects.back().insert(parsed.get<std::string>()).second &&
            duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default: break;
    }
    return true;
  };
  json doc = json::parse(buf.str(), callback, false);
  if (doc.is_discarded()) {
    errors.push_back({path, "\"" + file + "\" is not valid JSON"});
    return std::nullopt;
  }
  if (!duplicate.empty()) {
    errors.push_back({path, "\"" + file + "\" has the key \"" + duplicate +
                                "\" twice in one object"});
    return std::nullopt;
  }
  return doc;
}

void ReadEndpoint(ObjectReader& r, std::string_view key, Endpoint& out) {
  auto text = r.String(key, false);
  if (!text) return;
  auto ep = ParseEndpoint(*text);
  if (!ep) {
    r.Error(r.PathOf(key),
            "must be host:port with an IP address or localhost and a port "
            "0-65535 (IPv6 as [::1]:8080), got \"" +
                *text + "\"");
    return;
  }
  out = *ep;
}

void ReadUpstream(const json& value, const std::string& path,
                  const fs::path& base_dir, UpstreamConfig& up,
                  ConfigErrors& errors) {
  ObjectReader r(value, path, errors,
                 {"base_url", "ca_file", "connect_timeout", "read_timeout",
                  "allow_plain_http", "max_idle_connections", "max_in_flight"});
  if (auto v = r.Duration("connect_timeout", false)) up.connect_timeout = *v;
  if (auto v = r.Duration("read_timeout", false)) up.read_timeout = *v;
  if (auto v = r.Bool("allow_plain_http")) up.allow_plain_http = *v;
  r.IntegerInto("max_idle_connections", 1, 4096, up.max_idle_connections);
  r.IntegerInto("max_in_flight", 1, 100'000, up.max_in_flight);
  if (auto ca = r.String("ca_file", false)) {
    up.ca_file = Resolve(base_dir, *ca);
    if (!fs::is_regular_file(up.ca_file)) {
      r.Error(r.PathOf("ca_file"), "no such file \"" + up.ca_file + "\"");
    }
  }
  if (auto url = r.String("base_url", false)) {
    up.base_url = *url;
    std::string_view rest = *url;
    if (rest.starts_with("https://")) {
      up.tls = true;
      up.port = 443;
      rest.remove_prefix(8);
    } else if (rest.starts_with("http://")) {
      up.tls = false;
      up.port = 80;
      rest.remove_prefix(7);
    } else {
      r.Error(r.PathOf("base_url"), "must start with https:// (or http://)");
      return;
    }
    if (rest.ends_with("/")) rest.remove_suffix(1);
    std::string host(rest);
    if (rest.starts_with("[")) {
      const auto close = rest.find(']');
      if (close == std::string_view::npos) {
        r.Error(r.PathOf("base_url"), "unterminated IPv6 address");
        return;
      }
      host = std::string(rest.substr(1, close - 1));
      rest.remove_prefix(close + 1);
      if (!rest.empty() && rest.front() != ':') {
        r.Error(r.PathOf("base_url"),
                "must be scheme://host[:port] with no path, query or "
                "credentials");
        return;
      }
    } else {
      const auto colon = rest.find(':');
      host = std::string(rest.substr(0, colon));
      rest = colon == std::string_view::npos ? std::string_view()
                                             : rest.substr(colon);
    }
    if (!rest.empty()) {  // ":port"
      auto port = ParsePort(rest.substr(1));
      if (!port || *port == 0) {
        r.Error(r.PathOf("base_url"), "has an invalid port");
        return;
      }
      up.port = *port;
    }
    if (!(IsHostName(host) || IsIpLiteral(host))) {
      r.Error(r.PathOf("base_url"),
              "must be scheme://host[:port] with no path, query or "
              "credentials, got \"" +
                  *url + "\"");
      return;
    }
    up.host = host;
    if (!up.tls && !up.allow_plain_http) {
      r.Error(r.PathOf("base_url"),
              "http:// would send the API key in clear text; use https:// (or "
              "set upstream.allow_plain_http for a loopback test upstream)");
    }
    if (!up.tls && up.allow_plain_http && !IsLoopbackHost(host)) {
      r.Error(r.PathOf("allow_plain_http"),
              "is only allowed for a loopback upstream (127.0.0.0/8, ::1, "
              "localhost)");
    }
  }
}

// The optional duration `key` into `out`; `message` is recorded when it lies
// outside [min, max] (the value is kept, as for every other error).
template <typename Duration>
void BoundedDurationInto(ObjectReader& r, std::string_view key,
                         std::chrono::milliseconds min,
                         std::chrono::milliseconds max, Duration& out,
                         const std::string& message) {
  if (auto v = r.Duration(key, false)) {
    if (*v < min || *v > max) r.Error(r.PathOf(key), message);
    out = *v;
  }
}

void ReadServer(const json& value, const std::string& path, ServerConfig& s,
                ConfigErrors& errors) {
  ObjectReader r(
      value, path, errors,
      {"threads", "admin_threads", "read_timeout", "write_timeout",
       "keep_alive_timeout", "keep_alive_max_requests", "listen_backlog",
       "drain_timeout", "max_connections", "max_queued_connections",
       "admin_max_connections", "request_header_timeout", "cpu_scheduling"});
  if (auto v = r.Duration("drain_timeout", false)) s.drain_timeout = *v;
  r.IntegerInto("listen_backlog", 1, 65535, s.listen_backlog);
  r.IntegerInto("threads", 1, 4096, s.threads);
  r.IntegerInto("admin_threads", 1, 64, s.admin_threads);
  if (auto v = r.Duration("read_timeout", false)) s.read_timeout = *v;
  if (auto v = r.Duration("write_timeout", false)) s.write_timeout = *v;
  if (auto v = r.Duration("keep_alive_timeout", false)) {
    s.keep_alive_timeout = *v;
  }
  r.IntegerInto("keep_alive_max_requests", 1, 100'000'000,
                s.keep_alive_max_requests);
  r.IntegerInto("max_connections", 1, 65'536, s.max_connections);
  r.IntegerInto("max_queued_connections", 0, 65'536, s.max_queued_connections);
  r.IntegerInto("admin_max_connections", 1, 4096, s.admin_max_connections);
  if (auto v = r.Duration("request_header_timeout", false)) {
    s.request_header_timeout = *v;
  }
  if (auto v = r.String("cpu_scheduling", false)) {
    if (*v == "batch") {
      s.cpu_scheduling = ServerConfig::CpuScheduling::kBatch;
    } else if (*v == "other") {
      s.cpu_scheduling = ServerConfig::CpuScheduling::kOther;
    } else {
      r.Error(r.PathOf("cpu_scheduling"), "must be \"batch\" or \"other\"");
    }
  }
  if (s.threads > s.max_connections) {
    r.Error(r.PathOf("threads"), "is more than server.max_connections (" +
                                     std::to_string(s.max_connections) + ")");
  }
  if (s.admin_threads > s.admin_max_connections) {
    r.Error(r.PathOf("admin_threads"),
            "is more than server.admin_max_connections (" +
                std::to_string(s.admin_max_connections) + ")");
  }
}

void ReadAuditRejections(const json& value, const std::string& path,
                         AuditRejectionsConfig& c, ConfigErrors& errors) {
  ObjectReader r(value, path, errors,
                 {"burst", "window", "max_individual", "max_keys"});
  if (!r.ok()) return;
  r.IntegerInto("burst", 0, 1'000'000, c.burst);
  BoundedDurationInto(r, "window", 1s, 1h, c.window,
                      "must be between 1s and 1h: a crash loses the counts of "
                      "at most one window");
  r.IntegerInto("max_individual", 0, 10'000'000, c.max_individual);
  r.IntegerInto("max_keys", 1, 1'000'000, c.max_keys);
}

void ReadAudit(const json& value, const std::string& path,
               const fs::path& base_dir, AuditConfig& a, ConfigErrors& errors) {
  ObjectReader r(
      value, path, errors,
      {"path", "busy_timeout", "max_queue", "max_batch", "signing_key_file",
       "checkpoint_interval", "fingerprint_key_file", "rejections",
       "verify_records_per_second", "verify_full_pass_every", "witness_dir",
       "syslog"});
  if (auto p = r.String("path", true)) {
    a.path = Resolve(base_dir, *p);
    const fs::path dir = fs::path(a.path).parent_path();
    if (p->empty() || p->ends_with("/") || fs::is_directory(a.path)) {
      r.Error(r.PathOf("path"),
              "must name the database file, not a directory (e.g. "
              "\"/var/lib/agni-gateway/audit.db\")");
    } else if (!fs::is_directory(dir)) {
      r.Error(r.PathOf("path"),
              "directory \"" + dir.string() + "\" does not exist");
    }
  }
  BoundedDurationInto(r, "busy_timeout", std::chrono::milliseconds::min(), 1min,
                      a.busy_timeout,
                      "must be at most 1m: a request waits this long for the "
                      "audit log before failing closed");
  r.IntegerInto("max_queue", 1, 10'000'000, a.max_queue);
  r.IntegerInto("max_batch", 1, 100'000, a.max_batch);
  if (auto k = r.String("signing_key_file", false)) {
    a.signing_key_file = Resolve(base_dir, *k);
    try {
      audit::SigningKey::LoadPem(a.signing_key_file);
    } catch (const std::exception& e) {
      r.Error(r.PathOf("signing_key_file"), e.what());
    }
  }
  if (auto k = r.String("fingerprint_key_file", false)) {
    const std::string file = Resolve(base_dir, *k);
    std::ifstream in(file, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (!in) {
      r.Error(r.PathOf("fingerprint_key_file"),
              "cannot read file \"" + file + "\"");
    } else if (bytes.str().size() < 32) {
      r.Error(r.PathOf("fingerprint_key_file"),
              "must hold at least 32 random bytes (e.g. `head -c 32 "
              "/dev/urandom > fingerprint.key`)");
    } else {
      a.fingerprint_key = bytes.str();
    }
  }
  BoundedDurationInto(r, "checkpoint_interval", 1s,
                      std::chrono::milliseconds::max(), a.checkpoint_interval,
                      "must be at least 1s");
  if (const json* v = r.Get("rejections")) {
    ReadAuditRejections(*v, r.PathOf("rejections"), a.rejections, errors);
  }
  r.IntegerInto("verify_records_per_second", 0, 100'000'000,
                a.verify_records_per_second);
  BoundedDurationInto(r, "verify_full_pass_every", 1s,
                      std::chrono::milliseconds::max(),
                      a.verify_full_pass_every, "must be at least 1s");
  if (auto w = r.String("witness_dir", false)) {
    a.witness_dir = Resolve(base_dir, *w);
    if (w->empty() || !fs::is_directory(a.witness_dir)) {
      r.Error(r.PathOf("witness_dir"),
              "directory \"" + a.witness_dir + "\" does not exist");
    }
  }
  if (const json* v = r.Get("syslog")) {
    ReadSyslogConfig(*v, r.PathOf("syslog"), base_dir, a.path, a.syslog,
                     errors);
  }
}

void ReadUsers(const json* value, const std::string& path,
               std::vector<User>& users, ConfigErrors& errors) {
  if (value == nullptr) {
    errors.push_back({path, "is required (a list of users)"});
    return;
  }
  if (!value->is_array()) {
    errors.push_back({path, "must be an array of users"});
    return;
  }
  std::set<std::string, std::less<>> names, hashes;
  for (std::size_t i = 0; i < value->size(); ++i) {
    const std::string upath = path + "[" + std::to_string(i) + "]";
    ObjectReader r((*value)[i], upath, errors,
                   {"name", "groups", "token_sha256", "expires"});
    if (!r.ok()) continue;
    User u;
    if (auto name = r.String("name", true)) {
      if (!IsConfigName(*name)) {
        r.Error(r.PathOf("name"), kConfigNameRule);
      } else if (!names.insert(*name).second) {
        r.Error(r.PathOf("name"), "duplicate user \"" + *name + "\"");
      }
      u.name = *name;
    }
    if (auto groups = r.StringList("groups", false)) {
      for (std::size_t k = 0; k < groups->size(); ++k) {
        if (!IsConfigName((*groups)[k])) {
          r.Error(r.PathOf("groups") + "[" + std::to_string(k) + "]",
                  kConfigNameRule);
        }
      }
      u.groups = std::move(*groups);
    }
    if (auto hash = r.String("token_sha256", true)) {
      if (!IsLowerHex(*hash, 64)) {
        r.Error(r.PathOf("token_sha256"),
                "must be 64 lowercase hex characters (the SHA-256 of the "
                "token; see `agni-gateway token new`)");
      } else if (!hashes.insert(*hash).second) {
        r.Error(r.PathOf("token_sha256"),
                "the same token hash is used by another user");
      }
      u.token_sha256 = *hash;
    }
    if (auto expires = r.String("expires", false)) {
      u.expires = ParseRfc3339(*expires);
      if (!u.expires) {
        r.Error(r.PathOf("expires"),
                "must be an RFC 3339 time such as \"2027-03-01T00:00:00Z\"");
      }
    }
    users.push_back(std::move(u));
  }
}

void ReadInventory(const json& doc, const std::string& origin, Inventory& inv,
                   ConfigErrors& errors) {
  const std::string root = origin + ":$";
  if (!doc.is_object()) {
    errors.push_back({root, "must be an object of E.164 number -> labels"});
    return;
  }
  for (const auto& [number, labels] : doc.items()) {
    const std::string path = root + "[\"" + number + "\"]";
    if (!IsE164(number)) {
      errors.push_back({path, "is not an E.164 number"});
      continue;
    }
    if (!labels.is_object()) {
      errors.push_back({path, "must be an object of label -> string value"});
      continue;
    }
    auto& out = inv[number];
    for (const auto& [k, v] : labels.items()) {
      if (!v.is_string()) {
        errors.push_back({path + "." + k, "must be a string"});
        continue;
      }
      out[k] = v.get<std::string>();
    }
  }
}

}  // namespace

std::string Endpoint::ToString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool IsConfigName(std::string_view s) { return IsAsciiWord(s, 64, "-_.@"); }

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr a4;
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    return (ntohl(a4.s_addr) >> 24) == 127;
  }
  return false;
}

std::optional<Endpoint> ParseEndpoint(const std::string& text) {
  std::string host;
  std::string_view port_text;
  if (text.starts_with("[")) {
    const auto close = text.find("]:");
    if (close == std::string::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port_text = std::string_view(text).substr(close + 2);
    in6_addr a6;
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1) return std::nullopt;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    host = text.substr(0, colon);
    port_text = std::string_view(text).substr(colon + 1);
    if (host.find(':') != std::string::npos) return std::nullopt;
    if (!(IsIpLiteral(host) || host == "localhost")) return std::nullopt;
  }
  auto port = ParsePort(port_text);
  if (!port) return std::nullopt;
  return Endpoint{host, *port};
}

ConfigLoad LoadConfig(const std::string& path) {
  ConfigLoad out;
  ConfigErrors& errors = out.errors;
  std::optional<json> doc = ReadJsonFile(path, "$", errors);
  if (!doc) return out;

  Config c;
  c.source_path = path;
  const fs::path base_dir = fs::absolute(path).parent_path();
  ObjectReader r(
      *doc, "$", errors,
      {"listen", "admin_listen", "upstream", "server", "audit", "users",
       "auditors", "policy_file", "inventory_file", "tls", "approvals",
       "admins", "trusted_proxies", "groups", "identity", "console"});
  if (!r.ok()) return out;

  ReadEndpoint(r, "listen", c.listen);
  ReadEndpoint(r, "admin_listen", c.admin_listen);
  auto wildcard = [](const std::string& h) {
    return h == "0.0.0.0" || h == "::";
  };
  if (c.listen.port != 0 && c.listen.port == c.admin_listen.port &&
      (c.listen.host == c.admin_listen.host || wildcard(c.listen.host) ||
       wildcard(c.admin_listen.host))) {
    r.Error(r.PathOf("admin_listen"), "must differ from listen");
  }
  if (const json* up = r.Get("upstream")) {
    ReadUpstream(*up, r.PathOf("upstream"), base_dir, c.upstream, errors);
  }
  if (const json* s = r.Get("server")) {
    ReadServer(*s, r.PathOf("server"), c.server, errors);
  }
  if (const json* a = r.Get("audit")) {
    ReadAudit(*a, r.PathOf("audit"), base_dir, c.audit, errors);
  } else {
    r.Error(r.PathOf("audit"), "is required (audit.path names the database)");
  }
  ReadUsers(r.Get("users"), r.PathOf("users"), c.users, errors);
  if (auto a = r.StringList("auditors", false)) c.auditors = std::move(*a);
  if (const json* t = r.Get("tls")) {
    std::set<std::string, std::less<>> user_names;
    for (const User& u : c.users) user_names.insert(u.name);
    ReadTlsConfig(*t, r.PathOf("tls"), base_dir.string(), user_names, c.tls,
                  errors);
  }
  ReadApprovalsConfig(r.Get("approvals"), r.PathOf("approvals"), base_dir,
                      c.audit.path, c.approvals, errors);
  ReadConsoleConfig(r.Get("console"), r.PathOf("console"), base_dir,
                    c.audit.path, c.console, errors);
  if (auto a = r.StringList("admins", false)) c.admins = std::move(*a);
  if (auto proxies = r.StringList("trusted_proxies", false)) {
    for (std::size_t k = 0; k < proxies->size(); ++k) {
      if (auto cidr = policy::Cidr::Parse((*proxies)[k])) {
        c.trusted_proxies.push_back(std::move(*cidr));
      } else {
        r.Error(r.PathOf("trusted_proxies") + "[" + std::to_string(k) + "]",
                "must be an IPv4 or IPv6 address or range (\"10.0.0.5\", "
                "\"10.0.0.0/8\")");
      }
    }
  }

  ReadDeclaredGroups(r.Get("groups"), r.PathOf("groups"), c.groups, errors);
  std::set<std::string, std::less<>> declared(c.groups.begin(), c.groups.end());
  for (const User& u : c.users)
    declared.insert(u.groups.begin(), u.groups.end());
  ReadIdentityConfig(r.Get("identity"), r.PathOf("identity"), base_dir,
                     declared, c.identity, errors);

  if (auto inv = r.String("inventory_file", false)) {
    c.inventory_file = Resolve(base_dir, *inv);
    if (auto inv_doc = ReadJsonFile(c.inventory_file,
                                    r.PathOf("inventory_file"), errors)) {
      ReadInventory(*inv_doc, fs::path(c.inventory_file).filename().string(),
                    c.inventory, errors);
    }
  }

  if (auto pf = r.String("policy_file", true)) {
    c.policy_file = Resolve(base_dir, *pf);
    if (auto pdoc =
            ReadJsonFile(c.policy_file, r.PathOf("policy_file"), errors)) {
      policy::KnownPrincipals known;
      for (const User& u : c.users) {
        known.users.insert(u.name);
        known.groups.insert(u.groups.begin(), u.groups.end());
      }
      known.groups.insert(c.groups.begin(), c.groups.end());
      if (auto p = policy::ParsePolicy(
              *pdoc, fs::path(c.policy_file).filename().string(), known,
              errors)) {
        std::vector<policy::Member> members;
        for (const User& u : c.users) members.push_back({u.name, u.groups});
        AddIdentityProviderMembers(c, members);
        policy::CheckSatisfiable(
            *p, members, fs::path(c.policy_file).filename().string(), errors);
        c.policy = std::make_shared<const policy::Policy>(std::move(*p));
      }
    }
  }

  if (errors.empty()) out.config = std::move(c);
  return out;
}

}  // namespace agni
