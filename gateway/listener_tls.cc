#include "gateway/listener_tls.h"

#include <httplib.h>
#include <openssl/ssl.h>

#include "gateway/config.h"

namespace agni {

std::unique_ptr<httplib::Server> NewMainServer(const Config& config) {
  if (config.listen_tls.cert_file.empty()) {
    return std::make_unique<httplib::Server>();
  }
  auto server = std::make_unique<httplib::SSLServer>(
      config.listen_tls.cert_file.c_str(), config.listen_tls.key_file.c_str());
  if (server->is_valid()) {
    // Whatever the system OpenSSL policy allows, never below TLS 1.2.
    SSL_CTX_set_min_proto_version(server->ssl_context(), TLS1_2_VERSION);
  }
  return server;
}

}  // namespace agni
