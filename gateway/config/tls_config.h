// The "tls" block of the gateway config: TLS on the main listener, and
// optional client certificates (mTLS) mapped to configured users.
//
//   "tls": {
//     "cert_file": "server.crt", "key_file": "server.key",
//     "client_ca_file": "clients-ca.crt",      // optional: enables mTLS
//     "client_auth": "optional",               // or "require"
//     "client_certificates": [
//       {"user": "olga", "subject": "CN=ops-bot,O=Example"},
//       {"user": "alice", "san": "DNS:alice-svc.internal"}
//     ]
//   }
#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policies/errors.h"

namespace agni {

// One accepted client certificate identity. Exactly one of `subject` (the
// subject DN in RFC 2253 form, as `openssl x509 -noout -subject -nameopt
// RFC2253` prints it, e.g. "CN=ops-bot,O=Example") or `san` ("DNS:x",
// "URI:x", "email:x" or "IP:x") is set.
struct ClientCertificateMapping {
  std::string user;
  std::string subject;
  std::string san;
};

struct TlsConfig {
  bool enabled = false;  // cert_file and key_file given
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // empty: no client certificates asked for
  bool require_client_certificate = false;  // client_auth == "require"
  std::vector<ClientCertificateMapping> client_certificates;
};

// Reads `value` (the "tls" object at `path`), resolving relative file names
// against `base_dir`; every problem goes to `errors`. `users` are the
// configured user names a mapping may name.
void ReadTlsConfig(const nlohmann::json& value, const std::string& path,
                   const std::string& base_dir,
                   const std::set<std::string, std::less<>>& users,
                   TlsConfig& tls, ConfigErrors& errors);

}  // namespace agni
