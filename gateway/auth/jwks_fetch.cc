#include "gateway/auth/jwks_fetch.h"

#include <httplib.h>

#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "gateway/config/config.h"

namespace agni {
namespace {

// A JWKS or discovery document is a few KiB; more is refused.
constexpr std::size_t kMaxDocumentBytes = 1 << 20;

struct Url {
  bool tls = true;
  std::string host;
  int port = 443;
  std::string path;
};

std::optional<Url> ParseUrl(const std::string& url) {
  Url u;
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    u.tls = false;
    u.port = 80;
    rest.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  u.path =
      slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return std::nullopt;
  }
  std::size_t colon = authority.rfind(':');
  if (authority.starts_with("[")) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = std::string(authority.substr(1, close - 1));
    colon = close + 1 < authority.size() ? close + 1 : std::string_view::npos;
    if (colon != std::string_view::npos && authority[colon] != ':') {
      return std::nullopt;
    }
  } else {
    u.host = std::string(authority.substr(0, colon));
  }
  if (colon != std::string_view::npos) {
    const std::string port(authority.substr(colon + 1));
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos) {
      return std::nullopt;
    }
    u.port = std::stoi(port);
    if (u.port <= 0 || u.port > 65535) return std::nullopt;
  }
  if (u.host.empty()) return std::nullopt;
  if (!u.tls && !IsLoopbackHost(u.host)) return std::nullopt;
  return u;
}

JwksFetchResult Get(const std::string& url, const JwksSource& source) {
  std::optional<Url> u = ParseUrl(url);
  if (!u) {
    return {"", "refusing to fetch \"" + url +
                    "\": https:// (or http:// to a loopback address) only"};
  }
  std::unique_ptr<httplib::ClientImpl> client;
  if (u->tls) {
    auto tls = std::make_unique<httplib::SSLClient>(u->host, u->port);
    tls->enable_server_certificate_verification(true);
    if (!source.ca_file.empty()) tls->set_ca_cert_path(source.ca_file.c_str());
    SSL_CTX_set_min_proto_version(tls->ssl_context(), TLS1_2_VERSION);
    client = std::move(tls);
  } else {
    client = std::make_unique<httplib::ClientImpl>(u->host, u->port);
  }
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(source.timeout)
          .count();
  client->set_connection_timeout(us / 1'000'000, us % 1'000'000);
  client->set_read_timeout(us / 1'000'000, us % 1'000'000);
  client->set_write_timeout(us / 1'000'000, us % 1'000'000);
  client->set_follow_location(false);
  client->set_keep_alive(false);
  std::string body;
  bool too_big = false;
  auto res = client->Get(u->path.c_str(),
                         httplib::Headers{{"Accept", "application/json"}},
                         [&](const char* data, std::size_t len) {
                           if (body.size() + len > kMaxDocumentBytes) {
                             too_big = true;
                             return false;
                           }
                           body.append(data, len);
                           return true;
                         });
  if (too_big) return {"", url + " answered more than 1 MiB"};
  if (!res) {
    return {"", url + ": " + httplib::to_string(res.error())};
  }
  if (res->status != 200) {
    return {"", url + " answered " + std::to_string(res->status)};
  }
  return {std::move(body), ""};
}

JwksFetchResult Discover(const JwksSource& source) {
  std::string base = source.issuer;
  while (base.ends_with("/")) base.pop_back();
  const std::string url = base + "/.well-known/openid-configuration";
  JwksFetchResult doc = Get(url, source);
  if (!doc.error.empty()) return doc;
  nlohmann::json j = nlohmann::json::parse(doc.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return {"", url + " is not a JSON object"};
  }
  // OpenID Connect Discovery §4.3: the document must name the issuer it was
  // fetched for, else its keys belong to someone else.
  auto iss = j.find("issuer");
  if (iss == j.end() || !iss->is_string() || *iss != source.issuer) {
    return {"", url + " names a different issuer"};
  }
  auto jwks_uri = j.find("jwks_uri");
  if (jwks_uri == j.end() || !jwks_uri->is_string()) {
    return {"", url + " has no jwks_uri"};
  }
  return Get(jwks_uri->get<std::string>(), source);
}

}  // namespace

bool IsAllowedKeyUrl(const std::string& url) {
  return ParseUrl(url).has_value();
}

JwksFetcher MakeJwksFetcher(JwksSource source) {
  return [source = std::move(source)]() -> JwksFetchResult {
    if (!source.jwks_file.empty()) {
      std::ifstream in(source.jwks_file, std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      if (!in) return {"", "cannot read \"" + source.jwks_file + "\""};
      return {text.str(), ""};
    }
    if (!source.jwks_url.empty()) return Get(source.jwks_url, source);
    return Discover(source);
  };
}

}  // namespace agni
