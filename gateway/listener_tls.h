// The main listener, plain HTTP or (with "listen_tls" in the config) HTTPS
// with TLS 1.2 as the minimum protocol version. The admin listener stays
// plain HTTP on its own (loopback by default) address.
#pragma once

#include <memory>

namespace httplib {
class Server;
}

namespace agni {

struct Config;

// An httplib::SSLServer when config.listen_tls names a certificate, else a
// plain httplib::Server. Check is_valid(): a certificate or key that cannot
// be loaded yields an invalid server, which GatewayServer::Start refuses.
std::unique_ptr<httplib::Server> NewMainServer(const Config& config);

}  // namespace agni
