// TLS for the main listener: builds the httplib server (plain or TLS 1.2+,
// with optional client-certificate verification) and maps a verified client
// certificate to a configured user name.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gateway/config/tls_config.h"
#include "gateway/http/connection_loop.h"

namespace httplib {
class Server;
struct Request;
}  // namespace httplib

namespace agni {

// A plain server when TLS is off, else a TLS one (TLS 1.2+) set up from
// `tls`, both with the connection loop of connection_loop.h woken by
// `wake`. A TLS server whose certificate or key cannot be loaded reports
// !is_valid().
std::unique_ptr<httplib::Server> MakeMainHttpServer(
    const TlsConfig& tls, std::shared_ptr<const IdleWake> wake);

// The identities of a certificate as the config writes them: its subject
// ("CN=...,O=...", RFC 2253) and each SAN ("DNS:x", "URI:x", "email:x",
// "IP:x"). Exposed for tests.
struct CertificateIdentity {
  std::string subject;
  std::vector<std::string> sans;
};

// The user of `mappings` a request's client certificate maps to, or "" when
// there is no verified certificate or no mapping matches.
std::string ClientCertificateUser(
    const httplib::Request& request,
    const std::vector<ClientCertificateMapping>& mappings);

}  // namespace agni
