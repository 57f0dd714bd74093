#include "gateway/upstream/http_upstream.h"

#include <httplib.h>
#include <openssl/ssl.h>

namespace agni {
namespace {

template <typename Duration>
std::pair<time_t, time_t> SecUsec(Duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d);
  return {static_cast<time_t>(us.count() / 1'000'000),
          static_cast<time_t>(us.count() % 1'000'000)};
}

// The kind of a call that got no response. `timed_out`: the read timeout
// had passed when the call failed.
UpstreamResponse::Kind FailureKind(httplib::Error error, bool timed_out) {
  switch (error) {
    case httplib::Error::Connection:
    case httplib::Error::ConnectionTimeout:
    case httplib::Error::BindIPAddress:
      return UpstreamResponse::Kind::kUnreachable;
    case httplib::Error::SSLConnection:
    case httplib::Error::SSLLoadingCerts:
    case httplib::Error::SSLServerVerification:
      return UpstreamResponse::Kind::kTls;
    case httplib::Error::Read:
      return timed_out ? UpstreamResponse::Kind::kTimeout
                       : UpstreamResponse::Kind::kBadResponse;
    default:
      // Write errors and anything else: some bytes may have left.
      return UpstreamResponse::Kind::kBadResponse;
  }
}

}  // namespace

HttpUpstream::HttpUpstream(UpstreamConfig config, std::string api_key)
    : config_(std::move(config)),
      api_key_(std::move(api_key)),
      idle_(config_.max_idle_connections) {}

HttpUpstream::~HttpUpstream() = default;

std::unique_ptr<httplib::ClientImpl> HttpUpstream::NewClient() const {
  std::unique_ptr<httplib::ClientImpl> client;
  if (config_.tls) {
    auto tls = std::make_unique<httplib::SSLClient>(config_.host, config_.port);
    tls->enable_server_certificate_verification(true);
    if (!config_.ca_file.empty())
      tls->set_ca_cert_path(config_.ca_file.c_str());
    SSL_CTX_set_min_proto_version(tls->ssl_context(), TLS1_2_VERSION);
    client = std::move(tls);
  } else {
    client = std::make_unique<httplib::ClientImpl>(config_.host, config_.port);
  }
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);
  client->set_follow_location(false);
  client->set_url_encode(false);  // the path is already canonical
  client->set_compress(false);
  client->set_decompress(false);
  auto [cs, cu] = SecUsec(config_.connect_timeout);
  client->set_connection_timeout(cs, cu);
  auto [rs, ru] = SecUsec(config_.read_timeout);
  client->set_read_timeout(rs, ru);
  client->set_write_timeout(rs, ru);
  return client;
}

std::unique_ptr<httplib::ClientImpl> HttpUpstream::Borrow() {
  if (std::unique_ptr<httplib::ClientImpl> client = idle_.Take()) return client;
  return NewClient();
}

void HttpUpstream::Return(std::unique_ptr<httplib::ClientImpl> client) {
  idle_.Put(std::move(client));
}

UpstreamResponse HttpUpstream::Release(const std::string& path,
                                       const std::string& request_id) {
  auto client = Borrow();
  httplib::Headers headers = {
      {"X-Api-Key", api_key_},
      {"Accept", "application/json"},
      {"User-Agent", "agni-gateway/" AGNI_VERSION},
  };
  if (!request_id.empty()) headers.emplace("X-Request-Id", request_id);

  const auto started = std::chrono::steady_clock::now();
  httplib::Result result = client->Delete(path, headers);
  UpstreamResponse out;
  out.latency = std::chrono::steady_clock::now() - started;

  if (result) {
    out.kind = UpstreamResponse::Kind::kResponse;
    out.request_sent = true;
    out.status = result->status;
    // Of the upstream's headers only Content-Type reaches the client.
    ScrubbedResponse scrubbed = ScrubUpstreamResponse(
        result->status, std::move(result->body),
        result->get_header_value("Content-Type"), api_key_);
    out.body = std::move(scrubbed.body);
    out.content_type = std::move(scrubbed.content_type);
    if (result->get_header_value("Connection") != "close") {
      Return(std::move(client));
    }
    return out;
  }

  const httplib::Error error = result.error();
  out.error = httplib::to_string(error);
  out.kind = FailureKind(error, out.latency + std::chrono::milliseconds(50) >=
                                    config_.read_timeout);
  // Only a failure before the connection stood proves nothing was sent.
  out.request_sent = out.kind != UpstreamResponse::Kind::kUnreachable &&
                     out.kind != UpstreamResponse::Kind::kTls;
  return out;
}

}  // namespace agni
