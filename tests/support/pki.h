// Throwaway certificates for TLS tests, made with the openssl CLI.
#pragma once

#include <string>

#include "tests/support/temp_dir.h"

namespace agni::testing {

// A CA (ca.pem, ca.key) and a server certificate for IP:127.0.0.1
// (server.pem, server.key) in a folder of their own, plus permissive.cnf: an
// OPENSSL_CONF that allows every protocol version and cipher, so that only
// the gateway's own settings can refuse one. Not thread-safe.
class Pki {
 public:
  Pki();
  // Issues NAME.pem / NAME.key signed by the CA, with `subject` and `san`
  // ("" for none); NAME.cnf holds the extensions.
  void Issue(const std::string& name, const std::string& subject,
             const std::string& san);
  std::string File(const std::string& name) const { return dir_.File(name); }

 private:
  void Run(const std::string& command) const;
  TempDir dir_;
};

}  // namespace agni::testing
