#include "gateway/http/tls_listener.h"

#include <httplib.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

namespace agni {
namespace {

std::string NameRfc2253(const X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

std::string Asn1String(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

CertificateIdentity IdentityOf(X509* cert) {
  CertificateIdentity id;
  id.subject = NameRfc2253(X509_get_subject_name(cert));
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return id;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    switch (n->type) {
      case GEN_DNS: id.sans.push_back("DNS:" + Asn1String(n->d.dNSName)); break;
      case GEN_URI:
        id.sans.push_back("URI:" + Asn1String(n->d.uniformResourceIdentifier));
        break;
      case GEN_EMAIL:
        id.sans.push_back("email:" + Asn1String(n->d.rfc822Name));
        break;
      case GEN_IPADD: {
        const std::string raw = Asn1String(n->d.iPAddress);
        char buf[INET6_ADDRSTRLEN] = {};
        const int family = raw.size() == 4 ? AF_INET : AF_INET6;
        if ((raw.size() == 4 || raw.size() == 16) &&
            inet_ntop(family, raw.data(), buf, sizeof buf) != nullptr) {
          id.sans.push_back(std::string("IP:") + buf);
        }
        break;
      }
      default: break;
    }
  }
  GENERAL_NAMES_free(names);
  return id;
}

}  // namespace

std::unique_ptr<httplib::Server> MakeMainHttpServer(
    const TlsConfig& tls, std::shared_ptr<const IdleWake> wake) {
  if (!tls.enabled) return MakeLoopServer(std::move(wake));
  return MakeLoopTlsServer(
      [tls](SSL_CTX& ctx) {
        SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
        SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION |
                                      SSL_OP_NO_RENEGOTIATION |
                                      SSL_OP_CIPHER_SERVER_PREFERENCE);
        if (SSL_CTX_use_certificate_chain_file(&ctx, tls.cert_file.c_str()) !=
                1 ||
            SSL_CTX_use_PrivateKey_file(&ctx, tls.key_file.c_str(),
                                        SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(&ctx) != 1) {
          return false;
        }
        if (!tls.client_ca_file.empty()) {
          if (SSL_CTX_load_verify_locations(&ctx, tls.client_ca_file.c_str(),
                                            nullptr) != 1) {
            return false;
          }
          STACK_OF(X509_NAME)* cas =
              SSL_load_client_CA_file(tls.client_ca_file.c_str());
          if (cas == nullptr) return false;
          SSL_CTX_set_client_CA_list(&ctx, cas);
          // "optional": a client may present no certificate (and use a token),
          // but one it presents must verify against the CA.
          int mode = SSL_VERIFY_PEER;
          if (tls.require_client_certificate) {
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
          }
          SSL_CTX_set_verify(&ctx, mode, nullptr);
        }
        return true;
      },
      std::move(wake));
}

std::string ClientCertificateUser(
    const httplib::Request& request,
    const std::vector<ClientCertificateMapping>& mappings) {
  if (request.ssl == nullptr || mappings.empty()) return "";
  SSL* ssl = const_cast<SSL*>(request.ssl);
  if (SSL_get_verify_result(ssl) != X509_V_OK) return "";
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return "";
  const CertificateIdentity id = IdentityOf(cert);
  X509_free(cert);
  for (const ClientCertificateMapping& m : mappings) {
    if (!m.subject.empty() && m.subject == id.subject) return m.user;
    if (!m.san.empty()) {
      for (const std::string& san : id.sans) {
        if (san == m.san) return m.user;
      }
    }
  }
  return "";
}

}  // namespace agni
