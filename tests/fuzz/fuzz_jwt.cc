// libFuzzer target: every byte string a client can send as a Bearer JWT,
// through the token parser and the whole verifier (issuer, algorithm, key
// lookup with the unknown-kid refetch, signature, claims). Besides "no
// crash, no sanitizer report" it checks on every input:
// - nothing is ever accepted: the verifier's only key is a public key whose
//   private half nobody has, so an accepted token is a forgery;
// - a parsed token is at most 8 KiB, has exactly three segments, a string
//   alg, and its signing input is the token up to the second dot;
// - base64url decoding is canonical: what decodes encodes back to itself.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/crypto.h"
#include "gateway/auth/identity.h"
#include "gateway/auth/jwt.h"
#include "tests/fuzz/contract.h"

using agni::fuzz::Fail;

namespace {

const agni::IdentityVerifier& Verifier() {
  static const auto* verifier = [] {
    agni::OidcIssuerConfig o;
    o.name = "fuzz";
    o.issuer = "https://idp.example";
    o.audiences = {"agni-gateway"};
    o.algorithms = {"RS256", "PS256", "ES256", "ES384", "EdDSA"};
    agni::IdentityConfig config{{o}};
    // RFC 8037 appendix A.2's public key.
    const std::string jwks =
        R"({"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1",)"
        R"("x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})";
    auto* v = new agni::IdentityVerifier(
        config, {"support"}, nullptr, [jwks](const agni::OidcIssuerConfig&) {
          return [jwks] { return agni::JwksFetchResult{jwks, ""}; };
        });
    v->Start();
    return v;
  }();
  return *verifier;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  const auto now = std::chrono::system_clock::time_point(
      std::chrono::seconds(1'800'000'000));

  agni::JwsParse parsed = agni::ParseJws(token);
  if (parsed.jws) {
    if (token.size() > agni::kMaxJwtBytes) Fail("oversized token parsed");
    if (std::count(token.begin(), token.end(), '.') != 2) {
      Fail("parsed a token without exactly three segments");
    }
    if (parsed.jws->signing_input != token.substr(0, token.rfind('.'))) {
      Fail("signing input is not the token up to the second dot");
    }
    if (!parsed.jws->header.is_object() || !parsed.jws->payload.is_object()) {
      Fail("header or payload is not an object");
    }
  } else if (token.size() > agni::kMaxJwtBytes &&
             parsed.failure != agni::JwtCheck::kTooLarge) {
    Fail("oversized token not refused as too_large");
  }

  if (Verifier().Verify(token, now).ok)
    Fail("a token nobody could sign passed");

  std::string decoded;
  if (agni::Base64UrlDecode(token, decoded) &&
      agni::Base64UrlEncode(decoded) != token) {
    Fail("base64url decoding is not canonical");
  }
  return 0;
}
