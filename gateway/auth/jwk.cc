// JWK -> EVP_PKEY with OpenSSL 3's provider API (EVP_PKEY_fromdata,
// EVP_PKEY_new_raw_public_key) and JWS checks with EVP_DigestVerify: no
// signature arithmetic is written here.
#include "gateway/auth/jwk.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <algorithm>

#include <nlohmann/json.hpp>

namespace agni {
namespace {

using nlohmann::json;

struct AlgInfo {
  JwsAlg alg;
  std::string_view name;
};
constexpr AlgInfo kAlgs[] = {
    {JwsAlg::kRS256, "RS256"}, {JwsAlg::kRS384, "RS384"},
    {JwsAlg::kRS512, "RS512"}, {JwsAlg::kPS256, "PS256"},
    {JwsAlg::kES256, "ES256"}, {JwsAlg::kES384, "ES384"},
    {JwsAlg::kEdDSA, "EdDSA"},
};

// Below this an RSA key is refused: 1024-bit moduli are factorable by the
// well-funded, and no provider still publishes them.
constexpr int kMinRsaBits = 2048;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ParamBldPtr =
    std::unique_ptr<OSSL_PARAM_BLD,
                    Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr =
    std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using PkeyCtxPtr =
    std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr =
    std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using EcSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

std::shared_ptr<EVP_PKEY> Wrap(EVP_PKEY* key) {
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

// A key built from parameters, checked by OpenSSL as a public key.
std::shared_ptr<EVP_PKEY> FromData(const char* type, OSSL_PARAM_BLD* bld) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) !=
      1) {
    return nullptr;
  }
  std::shared_ptr<EVP_PKEY> key = Wrap(raw);
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, raw, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
  return key;
}

std::optional<std::string> Member(const json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) return std::nullopt;
  std::string decoded;
  if (!Base64UrlDecode(it->get_ref<const std::string&>(), decoded)) {
    return std::nullopt;
  }
  return decoded;
}

std::shared_ptr<EVP_PKEY> RsaKey(const json& jwk) {
  auto n = Member(jwk, "n");
  auto e = Member(jwk, "e");
  if (!n || !e || n->empty() || e->empty()) return nullptr;
  BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                       static_cast<int>(n->size()), nullptr));
  BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                       static_cast<int>(e->size()), nullptr));
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) !=
          1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) !=
          1) {
    return nullptr;
  }
  auto key = FromData("RSA", bld.get());
  if (key && EVP_PKEY_get_bits(key.get()) < kMinRsaBits) return nullptr;
  return key;
}

std::shared_ptr<EVP_PKEY> EcKey(const json& jwk, const std::string& crv) {
  const char* group = crv == "P-256"   ? "prime256v1"
                      : crv == "P-384" ? "secp384r1"
                                       : nullptr;
  const std::size_t size = crv == "P-256" ? 32 : 48;
  auto x = Member(jwk, "x");
  auto y = Member(jwk, "y");
  if (group == nullptr || !x || !y || x->size() != size || y->size() != size) {
    return nullptr;
  }
  const std::string point = std::string(1, '\x04') + *x + *y;
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                      group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY,
                                       point.data(), point.size()) != 1) {
    return nullptr;
  }
  return FromData("EC", bld.get());
}

std::shared_ptr<EVP_PKEY> OkpKey(const json& jwk, const std::string& crv) {
  auto x = Member(jwk, "x");
  if (crv != "Ed25519" || !x || x->size() != 32) return nullptr;
  return Wrap(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(x->data()), x->size()));
}

std::optional<Jwk> ParseKey(const json& jwk) {
  if (!jwk.is_object()) return std::nullopt;
  auto text = [&](const char* name) -> std::string {
    auto it = jwk.find(name);
    return it != jwk.end() && it->is_string() ? it->get<std::string>() : "";
  };
  Jwk k{text("kid"), text("kty"), text("crv"), text("alg"), nullptr};
  const std::string use = text("use");
  if (!use.empty() && use != "sig") return std::nullopt;
  if (!k.alg.empty() && !ParseJwsAlg(k.alg)) return std::nullopt;
  if (k.kty == "RSA") {
    k.key = RsaKey(jwk);
  } else if (k.kty == "EC") {
    k.key = EcKey(jwk, k.crv);
  } else if (k.kty == "OKP") {
    k.key = OkpKey(jwk, k.crv);
  }
  if (!k.key) return std::nullopt;
  return k;
}

const EVP_MD* DigestOf(JwsAlg alg) {
  switch (alg) {
    case JwsAlg::kRS256:
    case JwsAlg::kPS256:
    case JwsAlg::kES256: return EVP_sha256();
    case JwsAlg::kRS384:
    case JwsAlg::kES384: return EVP_sha384();
    case JwsAlg::kRS512: return EVP_sha512();
    case JwsAlg::kEdDSA: return nullptr;  // Ed25519 hashes internally
  }
  return nullptr;
}

// RFC 7518 §3.4: the JWS carries r||s, OpenSSL verifies DER ECDSA-Sig-Value.
std::optional<std::string> EcdsaDer(std::string_view raw, std::size_t size) {
  if (raw.size() != 2 * size) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BnPtr r(BN_bin2bn(bytes, static_cast<int>(size), nullptr));
  BnPtr s(BN_bin2bn(bytes + size, static_cast<int>(size), nullptr));
  EcSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return std::nullopt;
  }
  r.release();  // owned by sig now
  s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) return std::nullopt;
  return der;
}

int DecodeChar(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

std::optional<JwsAlg> ParseJwsAlg(std::string_view name) {
  for (const AlgInfo& a : kAlgs) {
    if (a.name == name) return a.alg;
  }
  return std::nullopt;
}

std::string_view JwsAlgName(JwsAlg alg) {
  for (const AlgInfo& a : kAlgs) {
    if (a.alg == alg) return a.name;
  }
  return "";
}

bool Base64UrlDecode(std::string_view in, std::string& out) {
  out.clear();
  if (in.size() % 4 == 1) return false;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    const int v = DecodeChar(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // The unused low bits of the last character must be zero, so every byte
  // string has exactly one spelling.
  return (acc & ((1u << bits) - 1)) == 0;
}

bool Jwk::Fits(JwsAlg a) const {
  if (!alg.empty() && alg != JwsAlgName(a)) return false;
  switch (a) {
    case JwsAlg::kRS256:
    case JwsAlg::kRS384:
    case JwsAlg::kRS512:
    case JwsAlg::kPS256: return kty == "RSA";
    case JwsAlg::kES256: return kty == "EC" && crv == "P-256";
    case JwsAlg::kES384: return kty == "EC" && crv == "P-384";
    case JwsAlg::kEdDSA: return kty == "OKP" && crv == "Ed25519";
  }
  return false;
}

const Jwk* JwkSet::Find(std::string_view kid, bool has_kid, JwsAlg alg) const {
  const Jwk* found = nullptr;
  for (const Jwk& k : keys) {
    if (!k.Fits(alg)) continue;
    if (has_kid) {
      if (k.kid == kid) return &k;
      continue;
    }
    if (found != nullptr) return nullptr;  // ambiguous without a kid
    found = &k;
  }
  return found;
}

bool SameKeys(const JwkSet& a, const JwkSet& b) {
  return std::equal(a.keys.begin(), a.keys.end(), b.keys.begin(), b.keys.end(),
                    [](const Jwk& x, const Jwk& y) {
                      return x.kid == y.kid && x.kty == y.kty &&
                             x.crv == y.crv && x.alg == y.alg &&
                             x.key != nullptr && y.key != nullptr &&
                             EVP_PKEY_eq(x.key.get(), y.key.get()) == 1;
                    });
}

JwksParse ParseJwks(std::string_view text) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return {nullptr, "the JWKS is not a JSON object"};
  }
  auto it = doc.find("keys");
  if (it == doc.end() || !it->is_array()) {
    return {nullptr, "the JWKS has no \"keys\" array"};
  }
  auto set = std::make_shared<JwkSet>();
  for (const json& k : *it) {
    if (auto key = ParseKey(k)) set->keys.push_back(std::move(*key));
  }
  if (set->keys.empty()) {
    return {nullptr,
            "the JWKS has no usable signing key (RSA >= 2048 bits, EC P-256 "
            "or P-384, Ed25519)"};
  }
  return {std::move(set), ""};
}

bool VerifyJwsSignature(const Jwk& key, JwsAlg alg,
                        std::string_view signing_input,
                        std::string_view signature) {
  if (!key.Fits(alg) || !key.key) return false;
  std::string der;
  if (alg == JwsAlg::kES256 || alg == JwsAlg::kES384) {
    auto converted = EcdsaDer(signature, alg == JwsAlg::kES256 ? 32 : 48);
    if (!converted) return false;
    der = std::move(*converted);
    signature = der;
  }
  MdCtxPtr md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!md || EVP_DigestVerifyInit(md.get(), &pctx, DigestOf(alg), nullptr,
                                  key.key.get()) != 1) {
    return false;
  }
  if (alg == JwsAlg::kPS256 &&
      (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
       EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 ||
       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) {
    return false;
  }
  return EVP_DigestVerify(
             md.get(), reinterpret_cast<const unsigned char*>(signature.data()),
             signature.size(),
             reinterpret_cast<const unsigned char*>(signing_input.data()),
             signing_input.size()) == 1;
}

}  // namespace agni
