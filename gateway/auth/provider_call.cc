#include "gateway/auth/provider_call.h"

#include <httplib.h>

#include <memory>
#include <optional>
#include <string_view>

#include "gateway/config/config.h"

namespace agni {
namespace {

// A discovery document, a JWKS or a token response is a few KiB; more is
// refused.
constexpr std::size_t kMaxAnswerBytes = 1 << 20;

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

}  // namespace

bool IsAllowedKeyUrl(const std::string& url) {
  return ParseUrl(url).has_value();
}

ProviderAnswer CallProvider(const ProviderCall& call) {
  const std::optional<Url> u = ParseUrl(call.url);
  if (!u) {
    return {0, "",
            "refusing to call \"" + call.url +
                "\": https:// (or http:// to a loopback address) only"};
  }
  std::unique_ptr<httplib::ClientImpl> client;
  if (u->tls) {
    auto tls = std::make_unique<httplib::SSLClient>(u->host, u->port);
    tls->enable_server_certificate_verification(true);
    if (!call.ca_file.empty()) tls->set_ca_cert_path(call.ca_file.c_str());
    SSL_CTX_set_min_proto_version(tls->ssl_context(), TLS1_2_VERSION);
    client = std::move(tls);
  } else {
    client = std::make_unique<httplib::ClientImpl>(u->host, u->port);
  }
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(call.timeout)
          .count();
  client->set_connection_timeout(us / 1'000'000, us % 1'000'000);
  client->set_read_timeout(us / 1'000'000, us % 1'000'000);
  client->set_write_timeout(us / 1'000'000, us % 1'000'000);
  client->set_follow_location(false);
  client->set_keep_alive(false);
  httplib::Request req;
  req.method = call.post ? "POST" : "GET";
  req.path = u->path;
  req.headers = {{"Accept", "application/json"}};
  if (!call.basic_user.empty()) {
    req.headers.insert(httplib::make_basic_authentication_header(
        call.basic_user, call.basic_password));
  }
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

ProviderAnswer GetProviderDocument(const std::string& url,
                                   const std::string& ca_file,
                                   std::chrono::milliseconds timeout) {
  ProviderCall get;
  get.url = url;
  get.ca_file = ca_file;
  get.timeout = timeout;
  ProviderAnswer answer = CallProvider(get);
  if (answer.error.empty() && answer.status != 200) {
    answer.body.clear();
    answer.error = url + " answered " + std::to_string(answer.status);
  }
  return answer;
}

}  // namespace agni
