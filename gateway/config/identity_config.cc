#include "gateway/config/identity_config.h"

#include <chrono>

#include "gateway/auth/jwk.h"
#include "gateway/auth/jwks_fetch.h"
#include "gateway/config/config.h"
#include "gateway/config/identity_warnings.h"
#include "policies/load/json_reader.h"

namespace agni {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// A verified token's entry is a few hundred bytes: a million is a few
// hundred MB, more than any gateway needs.
constexpr long long kMaxTokenCacheSize = 1'000'000;

// Appended, not `"[" + ...`: GCC 12 at -O3 reports a false -Wrestrict there.
std::string Index(std::size_t i) {
  std::string out = "[";
  out += std::to_string(i);
  out += ']';
  return out;
}

std::string Resolve(const fs::path& base_dir, const std::string& file) {
  fs::path p(file);
  return (p.is_absolute() ? p : base_dir / p).lexically_normal().string();
}

void FileInto(ObjectReader& r, std::string_view key, const fs::path& base_dir,
              std::string& out) {
  if (auto f = r.String(key, false)) {
    out = Resolve(base_dir, *f);
    if (!fs::is_regular_file(out)) {
      r.Error(r.PathOf(key), "no such file \"" + out + "\"");
    }
  }
}

void DurationInto(ObjectReader& r, std::string_view key,
                  std::chrono::milliseconds min, std::chrono::milliseconds max,
                  std::chrono::milliseconds& out, const std::string& range) {
  if (auto v = r.Duration(key, false)) {
    if (*v < min || *v > max) r.Error(r.PathOf(key), "must be " + range);
    out = *v;
  }
}

void ReadIssuer(const json& value, const std::string& path, std::size_t index,
                const fs::path& base_dir,
                const std::set<std::string, std::less<>>& declared,
                OidcIssuerConfig& o, ConfigErrors& errors) {
  ObjectReader r(value, path, errors,
                 {"name", "issuer", "audiences", "user_claim", "groups_claim",
                  "group_map", "algorithms", "leeway", "jwks_refresh",
                  "jwks_min_refresh", "jwks_url", "jwks_file", "ca_file",
                  "client_id", "client_secret_file", "redirect_url"});
  if (!r.ok()) return;
  o.name = std::to_string(index);
  if (auto name = r.String("name", false)) {
    if (!IsConfigName(*name)) {
      r.Error(r.PathOf("name"), "must be 1-64 characters of [A-Za-z0-9._@-]");
    }
    o.name = *name;
  }
  if (auto iss = r.String("issuer", true)) {
    o.issuer = *iss;
    if (!IsAllowedKeyUrl(*iss)) {
      r.Error(r.PathOf("issuer"),
              "must be an https:// URL (http:// only for a loopback address), "
              "exactly as the provider writes it in its tokens' \"iss\"");
    }
  }
  if (auto aud = r.StringList("audiences", true)) {
    if (aud->empty()) {
      r.Error(r.PathOf("audiences"),
              "must name at least one audience (the gateway's client id or "
              "resource at the provider)");
    }
    o.audiences = std::move(*aud);
  }
  if (auto c = r.String("user_claim", false)) o.user_claim = *c;
  if (auto c = r.String("groups_claim", false)) o.groups_claim = *c;
  if (const json* map = r.Get("group_map")) {
    if (!map->is_object()) {
      r.Error(r.PathOf("group_map"),
              "must be an object of provider group -> declared group");
    } else {
      for (const auto& [from, to] : map->items()) {
        const std::string at = r.PathOf("group_map") + "[\"" + from + "\"]";
        if (!to.is_string()) {
          errors.push_back({at, "must be a string (a declared group)"});
        } else if (!declared.contains(to.get<std::string>())) {
          std::string message = "\"";
          message += to.get<std::string>();
          message += "\" is not a declared group (add it to \"groups\")";
          errors.push_back({at, std::move(message)});
        } else {
          o.group_map[from] = to.get<std::string>();
        }
      }
    }
  }
  if (auto algs = r.StringList("algorithms", false)) {
    if (algs->empty()) r.Error(r.PathOf("algorithms"), "must not be empty");
    for (std::size_t k = 0; k < algs->size(); ++k) {
      if (!ParseJwsAlg((*algs)[k])) {
        r.Error(r.PathOf("algorithms") + Index(k),
                "must be one of RS256, RS384, RS512, PS256, ES256, ES384, "
                "EdDSA (never \"none\", never an HMAC algorithm), got \"" +
                    (*algs)[k] + "\"");
      }
    }
    o.algorithms = std::move(*algs);
  }
  DurationInto(r, "leeway", 1s, 5min, o.leeway, "between 1s and 5m");
  DurationInto(r, "jwks_refresh", 1s, 24h * 7, o.jwks_refresh,
               "between 1s and 7d");
  DurationInto(r, "jwks_min_refresh", 1s, 24h, o.jwks_min_refresh,
               "between 1s and 24h");
  if (o.jwks_min_refresh > o.jwks_refresh) {
    r.Error(r.PathOf("jwks_min_refresh"), "must not exceed jwks_refresh");
  }
  if (auto url = r.String("jwks_url", false)) {
    o.jwks_url = *url;
    if (!IsAllowedKeyUrl(*url)) {
      r.Error(r.PathOf("jwks_url"),
              "must be an https:// URL (http:// only for a loopback address)");
    }
  }
  FileInto(r, "jwks_file", base_dir, o.jwks_file);
  if (!o.jwks_url.empty() && !o.jwks_file.empty()) {
    r.Error(r.PathOf("jwks_file"), "give jwks_url or jwks_file, not both");
  }
  FileInto(r, "ca_file", base_dir, o.ca_file);
  if (auto v = r.String("client_id", false)) {
    o.client_id = *v;
    if (v->empty()) r.Error(r.PathOf("client_id"), "must not be empty");
  }
  FileInto(r, "client_secret_file", base_dir, o.client_secret_file);
  if (auto v = r.String("redirect_url", false)) {
    o.redirect_url = *v;
    if (!IsAllowedKeyUrl(*v)) {
      r.Error(r.PathOf("redirect_url"),
              "must be an https:// URL (http:// only for a loopback address): "
              "where the provider sends the browser back with the code");
    }
  }
  if (!o.client_id.empty()) {
    // The console's sign-in with this provider cannot work without them;
    // said now rather than at the first person's sign-in.
    for (const char* key : {"client_secret_file", "redirect_url"}) {
      if (r.Get(key) != nullptr) continue;
      std::string message = "required when client_id is set: the console's ";
      message += "sign-in with provider \"";
      message += o.name;
      message += "\" needs ";
      message += key == std::string_view("redirect_url")
                     ? "the URL the provider sends the browser back to "
                       "(https://<gateway>/ui/callback)"
                     : "the file holding the client secret the provider "
                       "issued for client_id";
      r.Error(r.PathOf(key), std::move(message));
    }
  }
}

bool Digits(std::string_view text, std::size_t at, std::size_t n, int& out) {
  if (at + n > text.size()) return false;
  out = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

std::optional<std::int64_t> ParseRfc3339(std::string_view t) {
  int y, mo, d, h, mi, s;
  if (!Digits(t, 0, 4, y) || t.size() < 20 || t[4] != '-' ||
      !Digits(t, 5, 2, mo) || t[7] != '-' || !Digits(t, 8, 2, d) ||
      (t[10] != 'T' && t[10] != 't') || !Digits(t, 11, 2, h) || t[13] != ':' ||
      !Digits(t, 14, 2, mi) || t[16] != ':' || !Digits(t, 17, 2, s)) {
    return std::nullopt;
  }
  std::size_t at = 19;
  if (t[at] == '.') {
    ++at;
    const std::size_t start = at;
    while (at < t.size() && t[at] >= '0' && t[at] <= '9') ++at;
    if (at == start) return std::nullopt;
  }
  int offset_minutes = 0;
  const std::string_view zone = t.substr(at);
  if (zone == "Z" || zone == "z") {
    offset_minutes = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') &&
             zone[3] == ':') {
    int oh, om;
    if (!Digits(zone, 1, 2, oh) || !Digits(zone, 4, 2, om) || oh > 23 ||
        om > 59) {
      return std::nullopt;
    }
    offset_minutes = (zone[0] == '-' ? -1 : 1) * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{
      std::chrono::year(y), std::chrono::month(mo), std::chrono::day(d)};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  const std::int64_t days =
      std::chrono::sys_days(ymd).time_since_epoch().count();
  return days * 86400 + h * 3600 + mi * 60 + s - offset_minutes * 60;
}

void AddIdentityProviderMembers(const Config& config,
                                std::vector<policy::Member>& members) {
  if (config.identity.oidc.empty()) return;
  std::set<std::string, std::less<>> declared(config.groups.begin(),
                                              config.groups.end());
  for (const User& u : config.users) {
    declared.insert(u.groups.begin(), u.groups.end());
  }
  for (const std::string& g : declared) {
    members.push_back(policy::IdentityProviderMembers(g));
  }
}

std::vector<std::string> IdentityWarnings(const Config& config) {
  std::vector<std::string> out;
  if (config.identity.oidc.empty() || !config.policy) return out;
  std::vector<policy::Member> static_members;
  for (const User& u : config.users) {
    static_members.push_back({u.name, u.groups});
  }
  ConfigErrors unproven;
  policy::CheckSatisfiable(*config.policy, static_members,
                           fs::path(config.policy_file).filename().string(),
                           unproven);
  for (const ConfigError& e : unproven) {
    out.push_back(e.path + ": " + e.message +
                  " unless enough people at the identity provider hold those "
                  "groups (not provable from the config)");
  }
  return out;
}

void ReadDeclaredGroups(const json* value, const std::string& path,
                        std::vector<std::string>& out, ConfigErrors& errors) {
  if (value == nullptr) return;
  if (!value->is_array()) {
    errors.push_back({path, "must be an array of group names"});
    return;
  }
  for (std::size_t i = 0; i < value->size(); ++i) {
    const json& g = (*value)[i];
    if (!g.is_string() || !IsConfigName(g.get<std::string>())) {
      errors.push_back(
          {path + Index(i), "must be 1-64 characters of [A-Za-z0-9._@-]"});
      continue;
    }
    out.push_back(g.get<std::string>());
  }
}

void ReadIdentityConfig(const json* value, const std::string& path,
                        const fs::path& base_dir,
                        const std::set<std::string, std::less<>>& declared,
                        IdentityConfig& out, ConfigErrors& errors) {
  if (value == nullptr) return;
  ObjectReader r(*value, path, errors, {"oidc", "token_cache_size"});
  if (!r.ok()) return;
  r.IntegerInto("token_cache_size", 0, kMaxTokenCacheSize,
                out.token_cache_size);
  const json* list = r.Get("oidc");
  if (list == nullptr) return;
  if (!list->is_array()) {
    r.Error(r.PathOf("oidc"), "must be an array of issuers");
    return;
  }
  std::set<std::string, std::less<>> names, issuers;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string at = r.PathOf("oidc") + Index(i);
    OidcIssuerConfig o;
    ReadIssuer((*list)[i], at, i, base_dir, declared, o, errors);
    if (!o.name.empty() && !names.insert(o.name).second) {
      errors.push_back(
          {at + ".name", "duplicate issuer name \"" + o.name + "\""});
    }
    if (!o.issuer.empty() && !issuers.insert(o.issuer).second) {
      errors.push_back({at + ".issuer", "the same issuer is configured twice"});
    }
    out.oidc.push_back(std::move(o));
  }
}

}  // namespace agni
