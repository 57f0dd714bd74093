#include "tests/support/jwt_signer.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <stdexcept>

#include "base/crypto.h"

namespace agni::testing {
namespace {

std::string Bn(const EVP_PKEY* key, const char* param, int pad = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, param, &bn) != 1) {
    throw std::runtime_error("no key parameter");
  }
  const int size = pad > 0 ? pad : BN_num_bytes(bn);
  std::string out(static_cast<std::size_t>(size), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), size);
  BN_free(bn);
  return out;
}

}  // namespace

TestSigningKey::TestSigningKey(Type type) : type_(type) {
  EVP_PKEY* raw = nullptr;
  switch (type) {
    case Type::kRsa: raw = EVP_RSA_gen(2048); break;
    case Type::kEc256: raw = EVP_EC_gen("P-256"); break;
    case Type::kEc384: raw = EVP_EC_gen("P-384"); break;
    case Type::kEd25519:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (raw == nullptr) throw std::runtime_error("key generation failed");
  key_.reset(raw, EVP_PKEY_free);
}

nlohmann::json TestSigningKey::PublicJwk(const std::string& kid,
                                         const std::string& alg) const {
  nlohmann::json j;
  switch (type_) {
    case Type::kRsa:
      j = {{"kty", "RSA"},
           {"n", Base64UrlEncode(Bn(key_.get(), OSSL_PKEY_PARAM_RSA_N))},
           {"e", Base64UrlEncode(Bn(key_.get(), OSSL_PKEY_PARAM_RSA_E))}};
      break;
    case Type::kEc256:
    case Type::kEc384: {
      const int size = type_ == Type::kEc256 ? 32 : 48;
      j = {{"kty", "EC"},
           {"crv", type_ == Type::kEc256 ? "P-256" : "P-384"},
           {"x",
            Base64UrlEncode(Bn(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X, size))},
           {"y",
            Base64UrlEncode(Bn(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, size))}};
      break;
    }
    case Type::kEd25519: {
      std::string x(32, '\0');
      std::size_t len = x.size();
      EVP_PKEY_get_raw_public_key(
          key_.get(), reinterpret_cast<unsigned char*>(x.data()), &len);
      j = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", Base64UrlEncode(x)}};
      break;
    }
  }
  j["use"] = "sig";
  if (!kid.empty()) j["kid"] = kid;
  if (!alg.empty()) j["alg"] = alg;
  return j;
}

std::string TestSigningKey::Sign(std::string_view alg,
                                 std::string_view input) const {
  const EVP_MD* md = alg.ends_with("384")   ? EVP_sha384()
                     : alg.ends_with("512") ? EVP_sha512()
                     : alg == "EdDSA"       ? nullptr
                                            : EVP_sha256();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EVP_DigestSignInit(ctx, &pctx, md, nullptr, key_.get());
  if (alg.starts_with("PS")) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  std::size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  EVP_DigestSign(ctx, nullptr, &len, in, input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                 input.size());
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  if (alg.starts_with("ES")) {
    const int size = alg == "ES256" ? 32 : 48;
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(static_cast<std::size_t>(2 * size), '\0');
    auto* out = reinterpret_cast<unsigned char*>(raw.data());
    BN_bn2binpad(ECDSA_SIG_get0_r(es), out, size);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), out + size, size);
    ECDSA_SIG_free(es);
    return raw;
  }
  return sig;
}

std::string TestSigningKey::PublicPem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key_.get());
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return pem;
}

std::string CompactJws(std::string_view header_json,
                       std::string_view payload_json,
                       std::string_view signature) {
  return Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json) +
         "." + Base64UrlEncode(signature);
}

std::string SignJwt(const TestSigningKey& key, const std::string& alg,
                    const std::string& kid, const nlohmann::json& payload) {
  nlohmann::json header = {{"alg", alg}, {"typ", "JWT"}};
  if (!kid.empty()) header["kid"] = kid;
  const std::string input =
      Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(payload.dump());
  return input + "." + Base64UrlEncode(key.Sign(alg, input));
}

std::string SignHs256(std::string_view header_json,
                      std::string_view payload_json, std::string_view secret) {
  const std::string input =
      Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
       &len);
  return input + "." +
         Base64UrlEncode(std::string_view(reinterpret_cast<char*>(mac), len));
}

nlohmann::json WithClaim(nlohmann::json claims, const std::string& key,
                         nlohmann::json value) {
  if (value.is_null()) {
    claims.erase(key);
  } else {
    claims[key] = std::move(value);
  }
  return claims;
}

}  // namespace agni::testing
