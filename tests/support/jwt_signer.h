// Signing keys and JWTs for tests, made with OpenSSL EVP exactly as a
// provider would: the gateway's verifier never sees how they were made.
// Not thread-safe per key; each test makes or shares its own.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

typedef struct evp_pkey_st EVP_PKEY;

namespace agni::testing {

class TestSigningKey {
 public:
  enum class Type { kRsa, kEc256, kEc384, kEd25519 };
  explicit TestSigningKey(Type type);

  // The public key as a JWK with `kid` (and `alg` when not empty).
  nlohmann::json PublicJwk(const std::string& kid,
                           const std::string& alg = "") const;
  // The JWS signature of `input` for `alg` (ES*: raw r||s).
  std::string Sign(std::string_view alg, std::string_view input) const;
  // PEM of the public key (for "HS256 keyed with the public key").
  std::string PublicPem() const;

 private:
  Type type_;
  std::shared_ptr<EVP_PKEY> key_;
};

// base64url(header).base64url(payload).base64url(signature) with the header
// and payload written exactly as given.
std::string CompactJws(std::string_view header_json,
                       std::string_view payload_json,
                       std::string_view signature);

// A token signed by `key` with header {"alg", "typ":"JWT", "kid"} (no kid
// when empty) and `payload`.
std::string SignJwt(const TestSigningKey& key, const std::string& alg,
                    const std::string& kid, const nlohmann::json& payload);

// `claims` with `key` set to `value`, or removed when `value` is null: one
// claim changed for a hostile-token case.
nlohmann::json WithClaim(nlohmann::json claims, const std::string& key,
                         nlohmann::json value);

// HS256 over the token with `secret` as the HMAC key (the classic attack:
// the RSA public key's PEM as the secret).
std::string SignHs256(std::string_view header_json,
                      std::string_view payload_json, std::string_view secret);

}  // namespace agni::testing
