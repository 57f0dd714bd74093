#include "audit/fingerprint.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>

#include "base/crypto.h"

namespace agni::audit {

std::string CredentialFingerprint(std::string_view key,
                                  std::string_view credential) {
  if (key.empty() || credential.empty()) return "";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(credential.data()),
           credential.size(), mac, &len) == nullptr) {
    return "";
  }
  return "hmac-sha256:" +
         HexEncode(std::string_view(reinterpret_cast<char*>(mac), 16));
}

std::string PresentedCredential(const std::vector<std::string>& authorization,
                                const std::vector<std::string>& api_key) {
  if (!authorization.empty()) {
    std::string_view v = authorization.front();
    constexpr std::string_view kBearer = "Bearer ";
    if (v.size() > kBearer.size()) {
      bool bearer = true;
      for (std::size_t i = 0; i < kBearer.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(v[i])) !=
            std::tolower(static_cast<unsigned char>(kBearer[i]))) {
          bearer = false;
        }
      }
      if (bearer) v.remove_prefix(kBearer.size());
    }
    return std::string(v);
  }
  if (!api_key.empty()) return api_key.front();
  return "";
}

}  // namespace agni::audit
