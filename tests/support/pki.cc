#include "tests/support/pki.h"

#include <cstdlib>
#include <stdexcept>

namespace agni::testing {

Pki::Pki() {
  Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
      "-keyout ca.key -out ca.pem -days 1 -subj /CN=agni-test-ca");
  Issue("server", "/CN=agni-gateway", "IP:127.0.0.1");
  dir_.Write("permissive.cnf",
             "openssl_conf = c\n[c]\nssl_conf = s\n[s]\nsystem_default = d\n"
             "[d]\nMinProtocol = TLSv1\nCipherString = ALL:@SECLEVEL=0\n");
}

void Pki::Issue(const std::string& name, const std::string& subject,
                const std::string& san) {
  Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
      "-keyout " +
      name + ".key -out " + name + ".csr -subj '" + subject + "'");
  dir_.Write(name + ".cnf", san.empty() ? "basicConstraints=CA:FALSE\n"
                                        : "subjectAltName=" + san + "\n");
  Run("openssl x509 -req -in " + name +
      ".csr -CA ca.pem -CAkey ca.key "
      "-CAcreateserial -out " +
      name + ".pem -days 1 -extfile " + name + ".cnf");
}

void Pki::Run(const std::string& command) const {
  const std::string full =
      "cd '" + dir_.path().string() + "' && " + command + " >/dev/null 2>&1";
  if (std::system(full.c_str()) != 0) {
    throw std::runtime_error("failed: " + command);
  }
}

}  // namespace agni::testing
