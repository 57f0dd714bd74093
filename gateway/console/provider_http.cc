#include "gateway/console/provider_http.h"

#include <httplib.h>

#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "gateway/auth/jwks_fetch.h"

namespace agni {
namespace {

// A discovery document or a token response is a few KiB; more is refused.
constexpr std::size_t kMaxAnswerBytes = 1 << 20;

struct Target {
  bool tls = true;
  std::string host;
  int port = 443;
  std::string path;
};

// `url` split, once IsAllowedKeyUrl() has vouched for its form (https, or
// http to a loopback host; no user info; a valid port).
std::optional<Target> Split(const std::string& url) {
  if (!IsAllowedKeyUrl(url)) return std::nullopt;
  Target t;
  std::string_view rest = url;
  if (rest.starts_with("http://")) {
    t.tls = false;
    t.port = 80;
  }
  rest.remove_prefix(rest.find("://") + 3);
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  t.path =
      slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  std::size_t colon = authority.rfind(':');
  if (authority.starts_with("[")) {
    const std::size_t close = authority.find(']');
    t.host = std::string(authority.substr(1, close - 1));
    colon = close + 1 < authority.size() ? close + 1 : std::string_view::npos;
  } else {
    t.host = std::string(authority.substr(0, colon));
  }
  if (colon != std::string_view::npos) {
    t.port = std::stoi(std::string(authority.substr(colon + 1)));
  }
  return t;
}

}  // namespace

ProviderAnswer CallProvider(const ProviderCall& call) {
  const std::optional<Target> t = Split(call.url);
  if (!t) {
    return {0, "",
            "refusing to call \"" + call.url +
                "\": https:// (or http:// to a loopback address) only"};
  }
  std::unique_ptr<httplib::ClientImpl> client;
  if (t->tls) {
    auto tls = std::make_unique<httplib::SSLClient>(t->host, t->port);
    tls->enable_server_certificate_verification(true);
    if (!call.ca_file.empty()) tls->set_ca_cert_path(call.ca_file.c_str());
    SSL_CTX_set_min_proto_version(tls->ssl_context(), TLS1_2_VERSION);
    client = std::move(tls);
  } else {
    client = std::make_unique<httplib::ClientImpl>(t->host, t->port);
  }
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(call.timeout)
          .count();
  client->set_connection_timeout(us / 1'000'000, us % 1'000'000);
  client->set_read_timeout(us / 1'000'000, us % 1'000'000);
  client->set_write_timeout(us / 1'000'000, us % 1'000'000);
  client->set_follow_location(false);
  client->set_keep_alive(false);
  httplib::Headers headers{{"Accept", "application/json"}};
  if (!call.basic_user.empty()) {
    headers.insert(httplib::make_basic_authentication_header(
        call.basic_user, call.basic_password));
  }
  httplib::Request req;
  req.method = call.post ? "POST" : "GET";
  req.path = t->path;
  req.headers = std::move(headers);
  if (call.post) {
    req.body = call.form;
    req.set_header("Content-Type", "application/x-www-form-urlencoded");
  }
  std::string body;
  bool too_big = false;
  req.content_receiver = [&](const char* data, std::size_t len, std::uint64_t,
                             std::uint64_t) {
    if (body.size() + len > kMaxAnswerBytes) {
      too_big = true;
      return false;
    }
    body.append(data, len);
    return true;
  };
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  const bool sent = client->send(req, res, error);
  if (too_big) return {0, "", call.url + " answered more than 1 MiB"};
  if (!sent) return {0, "", call.url + ": " + httplib::to_string(error)};
  return {res.status, std::move(body), ""};
}

ProviderEndpoints DiscoverEndpoints(const std::string& issuer,
                                    const std::string& ca_file,
                                    std::chrono::milliseconds timeout) {
  std::string base = issuer;
  while (base.ends_with("/")) base.pop_back();
  const std::string url = base + "/.well-known/openid-configuration";
  ProviderCall get;
  get.url = url;
  get.ca_file = ca_file;
  get.timeout = timeout;
  const ProviderAnswer doc = CallProvider(get);
  if (!doc.error.empty()) return {"", "", doc.error};
  if (doc.status != 200) {
    return {"", "", url + " answered " + std::to_string(doc.status)};
  }
  const nlohmann::json j = nlohmann::json::parse(doc.body, nullptr, false);
  if (!j.is_object()) return {"", "", url + " is not a JSON object"};
  // Discovery §4.3: a document that names another issuer is someone else's.
  const auto iss = j.find("issuer");
  if (iss == j.end() || !iss->is_string() || *iss != issuer) {
    return {"", "", url + " names a different issuer"};
  }
  ProviderEndpoints out;
  for (auto [key, into] :
       {std::pair{"authorization_endpoint", &out.authorization_endpoint},
        std::pair{"token_endpoint", &out.token_endpoint}}) {
    const auto v = j.find(key);
    if (v == j.end() || !v->is_string() || !IsAllowedKeyUrl(*v)) {
      return {"", "", url + " has no usable " + key};
    }
    *into = v->get<std::string>();
  }
  return out;
}

}  // namespace agni
