// Public keys of an identity provider (RFC 7517 JWK sets) as OpenSSL 3 EVP
// keys, and JWS signature checks with them (RFC 7515/7518, RFC 8037).
// Immutable after parsing; safe to share between threads.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

typedef struct evp_pkey_st EVP_PKEY;

namespace agni {

// The signature algorithms the gateway accepts at all. `none` and the HMAC
// family have no member: a token naming them fails the `algorithm` check
// before any key is looked at.
enum class JwsAlg { kRS256, kRS384, kRS512, kPS256, kES256, kES384, kEdDSA };

std::optional<JwsAlg> ParseJwsAlg(std::string_view name);
std::string_view JwsAlgName(JwsAlg alg);

// Strict RFC 4648 §5 base64url without padding: any other byte, padding, or
// non-zero trailing bits fail.
bool Base64UrlDecode(std::string_view in, std::string& out);

// One verification key of a set.
struct Jwk {
  std::string kid;  // may be empty
  std::string kty;  // RSA | EC | OKP
  std::string crv;  // P-256 | P-384 | Ed25519 (EC, OKP)
  std::string alg;  // empty: any algorithm the key type allows
  std::shared_ptr<EVP_PKEY> key;

  // True when a token signed with `alg` may be checked with this key.
  bool Fits(JwsAlg alg) const;
};

// A parsed JWK set. Keys the gateway cannot use (encryption keys, symmetric
// `oct` keys, unknown types or curves) are skipped, never an error, so one
// odd key at the provider does not take the others down.
struct JwkSet {
  std::vector<Jwk> keys;
  // The key with this kid that fits `alg`; for a token without a kid, the
  // only key that fits. Null when none (or, without a kid, several).
  const Jwk* Find(std::string_view kid, bool has_kid, JwsAlg alg) const;
};

// True when `a` and `b` hold the same keys in the same order: kid, type,
// curve, algorithm and public key material each. Order counts because Find()
// takes the first key that fits. (Unlike SameKeySet() in token_cache.h, which
// asks whether two pointers name one set object.)
bool SameKeys(const JwkSet& a, const JwkSet& b);

struct JwksParse {
  std::shared_ptr<const JwkSet> set;  // null on error
  std::string error;                  // never quotes key material
};

// Parses `{"keys": [...]}`. A set with no usable key is an error.
JwksParse ParseJwks(std::string_view text);

// Checks `signature` (raw, as in the token) over `signing_input` with OpenSSL
// EVP. ES* signatures are the raw r||s of RFC 7518 §3.4.
bool VerifyJwsSignature(const Jwk& key, JwsAlg alg,
                        std::string_view signing_input,
                        std::string_view signature);

}  // namespace agni
