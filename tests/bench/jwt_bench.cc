// JWT verification figures, run by hand (never a test): p50/p99 of
// IdentityVerifier::Verify for RS256 (2048-bit) and ES256 tokens with the
// issuer's keys already cached, one thread, the whole check (parse, issuer,
// algorithm, key lookup, signature, claims). Two rows per algorithm:
// "first" verifies ITERATIONS/10 distinct tokens once each (the signature is
// checked), "again" one token ITERATIONS times (after its first check it is
// answered from the verified-token cache, as a person's repeated requests
// are).
//
// Usage: jwt_bench [ITERATIONS]     (default 20000)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gateway/auth/identity.h"
#include "tests/support/jwt_signer.h"

namespace {

using agni::testing::SignJwt;
using agni::testing::TestSigningKey;
using Clock = std::chrono::steady_clock;

// Verifies tokens[i % size] for i in [0, iterations).
void Measure(const char* label, const agni::IdentityVerifier& verifier,
             const std::vector<std::string>& tokens, int iterations) {
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(iterations));
  const auto now = std::chrono::system_clock::now();
  for (int i = 0; i < iterations; ++i) {
    const std::string& token =
        tokens[static_cast<std::size_t>(i) % tokens.size()];
    const auto start = Clock::now();
    const bool ok = verifier.Verify(token, now).ok.has_value();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start)
                     .count());
    if (!ok) {
      std::fprintf(stderr, "%s: token refused\n", label);
      std::exit(1);
    }
  }
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[static_cast<std::size_t>(q * static_cast<double>(us.size() - 1))];
  };
  std::printf("%-12s n=%-6d p50 %.1f us  p99 %.1f us  max %.1f us\n", label,
              iterations, at(0.50), at(0.99), us.back());
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 20000;
  const TestSigningKey rsa(TestSigningKey::Type::kRsa);
  const TestSigningKey ec(TestSigningKey::Type::kEc256);
  agni::OidcIssuerConfig o;
  o.name = "bench";
  o.issuer = "https://idp.example";
  o.audiences = {"agni-gateway"};
  o.algorithms = {"RS256", "ES256"};
  nlohmann::json jwks = {{"keys", nlohmann::json::array()}};
  jwks["keys"].push_back(rsa.PublicJwk("rsa"));
  jwks["keys"].push_back(ec.PublicJwk("ec"));
  agni::IdentityVerifier verifier(agni::IdentityConfig{{o}}, {"support"},
                                  nullptr, [&](const agni::OidcIssuerConfig&) {
                                    return [text = jwks.dump()] {
                                      return agni::JwksFetchResult{text, ""};
                                    };
                                  });
  verifier.Start();
  const long long exp = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count() +
                        3600;
  nlohmann::json claims = {{"iss", o.issuer},
                           {"aud", "agni-gateway"},
                           {"email", "olga@example.com"},
                           {"groups", {"support"}},
                           {"jti", "bench"},
                           {"exp", exp}};
  const int distinct = std::max(1, iterations / 10);
  auto sign_all = [&](const TestSigningKey& key, const char* alg,
                      const char* kid) {
    std::vector<std::string> out;
    for (int i = 0; i < distinct; ++i) {
      claims["jti"] = "bench-" + std::to_string(i);
      out.push_back(SignJwt(key, alg, kid, claims));
    }
    return out;
  };
  const std::vector<std::string> rs = sign_all(rsa, "RS256", "rsa");
  const std::vector<std::string> es = sign_all(ec, "ES256", "ec");
  Measure("RS256 first", verifier, rs, distinct);
  Measure("RS256 again", verifier, {rs.front()}, iterations);
  Measure("ES256 first", verifier, es, distinct);
  Measure("ES256 again", verifier, {es.front()}, iterations);
  return 0;
}
