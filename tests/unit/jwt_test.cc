// JWT verification (gateway/auth/jwt, jwk, identity): every hostile token of
// issue 13 fails with the check named, good tokens of every algorithm pass.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "base/crypto.h"
#include "gateway/auth/authenticator.h"
#include "gateway/auth/identity.h"
#include "gateway/auth/jwt.h"
#include "gateway/auth/token_cache.h"
#include "policies/approvals.h"
#include "tests/support/jwt_signer.h"

namespace agni {
namespace {

using nlohmann::json;
using testing::SignJwt;
using testing::TestSigningKey;
using Clock = std::chrono::system_clock;

constexpr const char* kIssuer = "https://idp.example.com/realms/corp";
const Clock::time_point kNow =
    Clock::time_point(std::chrono::seconds(1'800'000'000));
constexpr std::int64_t kNowSeconds = 1'800'000'000;

const TestSigningKey& Rsa() {
  static const TestSigningKey key(TestSigningKey::Type::kRsa);
  return key;
}
const TestSigningKey& Ec() {
  static const TestSigningKey key(TestSigningKey::Type::kEc256);
  return key;
}
const TestSigningKey& Ed() {
  static const TestSigningKey key(TestSigningKey::Type::kEd25519);
  return key;
}

json Claims() {
  return {{"iss", kIssuer},
          {"aud", "agni-gateway"},
          {"sub", "u-1"},
          {"email", "olga@example.com"},
          {"groups", {"okta-telecom-ops", "support", "not-declared"}},
          {"jti", "tok-1"},
          {"iat", kNowSeconds - 10},
          {"exp", kNowSeconds + 300}};
}

IdentityConfig OneIssuer() {
  OidcIssuerConfig o;
  o.name = "corp";
  o.issuer = kIssuer;
  o.audiences = {"agni-gateway"};
  o.algorithms = {"RS256", "PS256", "ES256", "EdDSA"};
  o.group_map = {{"okta-telecom-ops", "telecom-ops"}};
  o.leeway = std::chrono::seconds(60);
  o.jwks_refresh = std::chrono::hours(1);
  o.jwks_min_refresh = std::chrono::seconds(30);
  return IdentityConfig{{o}};
}

json Jwks() {
  return {{"keys",
           {Rsa().PublicJwk("rsa-1"), Ec().PublicJwk("ec-1"),
            Ed().PublicJwk("ed-1")}}};
}

// A verifier whose keys come from memory (`jwks`, which a test may change
// to rotate them); counts the fetches and the verified-token cache's hits and
// misses.
struct Fixture {
  std::atomic<int> fetches{0};
  std::atomic<int> cache_hits{0};
  std::atomic<int> cache_misses{0};
  std::mutex jwks_mu;
  json jwks;
  std::shared_ptr<IdentityVerifier> verifier;
  explicit Fixture(json keys = Jwks(), IdentityConfig config = OneIssuer())
      : jwks(std::move(keys)) {
    verifier = std::make_shared<IdentityVerifier>(
        config, std::vector<std::string>{"telecom-ops", "support"}, nullptr,
        [this](const OidcIssuerConfig&) -> JwksFetcher {
          return [this] {
            ++fetches;
            std::lock_guard lock(jwks_mu);
            return JwksFetchResult{jwks.dump(), ""};
          };
        },
        [this](bool hit) { ++(hit ? cache_hits : cache_misses); });
    verifier->Start();
  }
  void SetJwks(json keys) {
    std::lock_guard lock(jwks_mu);
    jwks = std::move(keys);
  }
  std::string Check(const std::string& token) {
    JwtVerification v = verifier->Verify(token, kNow);
    return v.ok ? "ok" : std::string(JwtCheckName(v.failure));
  }
};

TEST(JwtTest, GoodTokensOfEveryAlgorithmPass) {
  Fixture f;
  struct Case {
    const TestSigningKey& key;
    const char* alg;
    const char* kid;
  } cases[] = {{Rsa(), "RS256", "rsa-1"},
               {Rsa(), "PS256", "rsa-1"},
               {Ec(), "ES256", "ec-1"},
               {Ed(), "EdDSA", "ed-1"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.alg);
    JwtVerification v =
        f.verifier->Verify(SignJwt(c.key, c.alg, c.kid, Claims()), kNow);
    ASSERT_TRUE(v.ok) << JwtCheckName(v.failure);
    EXPECT_EQ(v.ok->name, "olga@example.com");
    // Renamed by group_map; an undeclared group is dropped.
    EXPECT_EQ(v.ok->groups,
              (std::vector<std::string>{"telecom-ops", "support"}));
    EXPECT_EQ(v.ok->issuer, kIssuer);
    EXPECT_EQ(v.ok->jti, "tok-1");
  }
  EXPECT_EQ(f.fetches, 1);
}

TEST(JwtTest, HostileTokensFailNamingTheCheck) {
  Fixture f;
  auto with = [](const std::string& key, json value) {
    return testing::WithClaim(Claims(), key, std::move(value));
  };
  const std::string good = SignJwt(Rsa(), "RS256", "rsa-1", Claims());
  const std::string header = json{{"alg", "RS256"}, {"kid", "rsa-1"}}.dump();
  std::string tampered = good;
  {
    // Same header and signature, a payload that names someone else.
    const std::size_t d1 = good.find('.'), d2 = good.rfind('.');
    json c = Claims();
    c["email"] = "mallory@example.com";
    tampered =
        good.substr(0, d1 + 1) + Base64UrlEncode(c.dump()) + good.substr(d2);
  }
  struct Case {
    const char* name;
    std::string token;
    const char* check;
  } cases[] = {
      {"expired",
       SignJwt(Rsa(), "RS256", "rsa-1", with("exp", kNowSeconds - 61)),
       "expired"},
      {"no exp", SignJwt(Rsa(), "RS256", "rsa-1", with("exp", nullptr)),
       "expired"},
      {"not yet valid",
       SignJwt(Rsa(), "RS256", "rsa-1", with("nbf", kNowSeconds + 61)),
       "not_yet_valid"},
      {"issued in the future",
       SignJwt(Rsa(), "RS256", "rsa-1", with("iat", kNowSeconds + 600)),
       "not_yet_valid"},
      {"wrong audience",
       SignJwt(Rsa(), "RS256", "rsa-1", with("aud", "other-app")), "audience"},
      {"no audience", SignJwt(Rsa(), "RS256", "rsa-1", with("aud", nullptr)),
       "audience"},
      {"wrong issuer",
       SignJwt(Rsa(), "RS256", "rsa-1", with("iss", "https://evil.example")),
       "issuer"},
      {"alg none",
       testing::CompactJws(R"({"alg":"none","kid":"rsa-1"})", Claims().dump(),
                           ""),
       "algorithm"},
      {"alg none with a signature",
       testing::CompactJws(R"({"alg":"none","kid":"rsa-1"})", Claims().dump(),
                           "x"),
       "algorithm"},
      {"HS256 keyed with the RSA public key",
       testing::SignHs256(R"({"alg":"HS256","kid":"rsa-1"})", Claims().dump(),
                          Rsa().PublicPem()),
       "algorithm"},
      {"algorithm not configured", SignJwt(Rsa(), "RS512", "rsa-1", Claims()),
       "algorithm"},
      {"tampered payload", tampered, "signature"},
      {"signed by another key",
       SignJwt(TestSigningKey(TestSigningKey::Type::kRsa), "RS256", "rsa-1",
               Claims()),
       "signature"},
      {"ES256 signed, kid of the RSA key",
       SignJwt(Ec(), "ES256", "rsa-1", Claims()), "unknown_key"},
      {"unknown kid", SignJwt(Rsa(), "RS256", "nobody", Claims()),
       "unknown_key"},
      {"oversized",
       SignJwt(Rsa(), "RS256", "rsa-1",
               with("pad", std::string(kMaxJwtBytes, 'a'))),
       "too_large"},
      {"garbage segments", "eyJhbGciOiJSUzI1NiJ9.!!!.???", "malformed"},
      {"two segments", "eyJhbGciOiJSUzI1NiJ9.eyJ9", "malformed"},
      {"four segments", good + ".x", "malformed"},
      {"padding in a segment",
       good.substr(0, good.find('.')) + "=" + good.substr(good.find('.')),
       "malformed"},
      {"duplicate alg in header",
       testing::CompactJws(R"({"alg":"RS256","alg":"none","kid":"rsa-1"})",
                           Claims().dump(), "sig"),
       "malformed"},
      {"duplicate key in payload",
       testing::CompactJws(header, R"({"iss":"a","iss":"b"})", "sig"),
       "malformed"},
      {"header not an object",
       testing::CompactJws(R"(["alg"])", Claims().dump(), "sig"), "malformed"},
      {"crit header",
       testing::CompactJws(R"({"alg":"RS256","kid":"rsa-1","crit":["x"]})",
                           Claims().dump(), "sig"),
       "malformed"},
      {"no user claim",
       SignJwt(Rsa(), "RS256", "rsa-1", with("email", nullptr)), "user_claim"},
      {"user claim with a quote",
       SignJwt(Rsa(), "RS256", "rsa-1", with("email", "a\"b")), "user_claim"},
      {"exp as a string", SignJwt(Rsa(), "RS256", "rsa-1", with("exp", "soon")),
       "malformed"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(f.Check(c.token), c.check);
  }
}

TEST(JwtTest, LeewayCoversClockSkew) {
  Fixture f;
  json c = Claims();
  c["exp"] = kNowSeconds - 30;  // expired 30 s ago, leeway 60 s
  c["nbf"] = kNowSeconds + 30;
  EXPECT_EQ(f.Check(SignJwt(Rsa(), "RS256", "rsa-1", c)), "ok");
}

TEST(JwtTest, AudienceMayBeAList) {
  Fixture f;
  json c = Claims();
  c["aud"] = {"other", "agni-gateway"};
  EXPECT_EQ(f.Check(SignJwt(Rsa(), "RS256", "rsa-1", c)), "ok");
}

TEST(JwtTest, RandomKidsRefetchAtMostOncePerMinRefresh) {
  Fixture f;
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(f.Check(SignJwt(Ec(), "ES256", "random-" + std::to_string(i),
                              Claims())),
              "unknown_key");
  }
  // The start-up fetch, and at most one refetch within jwks_min_refresh.
  EXPECT_GE(f.fetches, 1);
  EXPECT_LE(f.fetches, 2);
}

TEST(JwtTest, AFailedRefreshKeepsTheLastGoodKeys) {
  std::atomic<int> calls{0};
  IdentityConfig config = OneIssuer();
  config.oidc[0].jwks_min_refresh = std::chrono::seconds(1);
  config.oidc[0].jwks_refresh = std::chrono::seconds(1);
  IdentityVerifier verifier(config, {"support"}, nullptr,
                            [&](const OidcIssuerConfig&) {
                              return [&]() -> JwksFetchResult {
                                if (calls++ == 0) return {Jwks().dump(), ""};
                                return {"", "the provider is down"};
                              };
                            });
  verifier.Start();
  ASSERT_TRUE(verifier.Ready());
  // The refresh thread fetches again every second; wait (bounded) until it
  // has failed at least once.
  for (int i = 0; i < 200 && calls < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(calls, 2);
  EXPECT_TRUE(verifier.Ready());
  EXPECT_TRUE(
      verifier.Verify(SignJwt(Rsa(), "RS256", "rsa-1", Claims()), kNow).ok);
}

TEST(JwtTest, AHangingProviderHoldsNoRequestAndGetsOneFetchAtATime) {
  // The start-up fetch answers; every later one hangs until released.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> calls{0};
  std::atomic<int> hung_fetches_returned{0};
  IdentityConfig config = OneIssuer();
  config.oidc[0].jwks_min_refresh = std::chrono::milliseconds(0);
  auto verifier = std::make_unique<IdentityVerifier>(
      config, std::vector<std::string>{"support"}, nullptr,
      [&](const OidcIssuerConfig&) {
        return [&]() -> JwksFetchResult {
          if (calls++ == 0) return {Jwks().dump(), ""};
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return release; });
          ++hung_fetches_returned;
          return {"", "timed out"};
        };
      });
  verifier->Start();
  auto release_provider = [&] {
    {
      std::lock_guard lock(mu);
      release = true;
    }
    cv.notify_all();
  };

  std::vector<std::future<std::string>> unknown;
  for (int i = 0; i < 8; ++i) {
    unknown.push_back(std::async(std::launch::async, [&, i] {
      JwtVerification v = verifier->Verify(
          SignJwt(Rsa(), "RS256", "rotated-" + std::to_string(i), Claims()),
          kNow);
      return v.ok ? std::string("ok") : std::string(JwtCheckName(v.failure));
    }));
  }
  for (auto& f : unknown) {
    // A generous bound, far past the gateway's own: before the fix a
    // request waited for the hanging fetch itself.
    if (f.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      release_provider();
      FAIL() << "a request with an unknown kid waits for the hanging provider";
    }
    EXPECT_EQ(f.get(), "unknown_key");
  }
  // Known keys keep working while the provider hangs.
  EXPECT_TRUE(
      verifier->Verify(SignJwt(Rsa(), "RS256", "rsa-1", Claims()), kNow).ok);
  EXPECT_EQ(hung_fetches_returned, 0);
  // The start-up fetch and one refetch, however many requests asked.
  EXPECT_EQ(calls, 2);
  release_provider();
  verifier.reset();
  EXPECT_EQ(hung_fetches_returned, 1);
}

TEST(JwtTest, NotReadyUntilKeysLoad) {
  IdentityVerifier verifier(
      OneIssuer(), {"support"}, nullptr, [](const OidcIssuerConfig&) {
        return []() -> JwksFetchResult { return {"", "connection refused"}; };
      });
  verifier.Start();
  EXPECT_FALSE(verifier.Ready());
  JwtVerification v =
      verifier.Verify(SignJwt(Rsa(), "RS256", "rsa-1", Claims()), kNow);
  ASSERT_FALSE(v.ok);
  EXPECT_EQ(JwtCheckName(v.failure), "unknown_key");
}

// ---------------------------------------------------------------------------
// The verified-token cache (gateway/auth/token_cache.h).

TEST(JwtCacheTest, ATokenSentAgainIsAnsweredFromTheCache) {
  Fixture f;
  const std::string token = SignJwt(Rsa(), "RS256", "rsa-1", Claims());
  JwtVerification first = f.verifier->Verify(token, kNow);
  JwtVerification second = f.verifier->Verify(token, kNow);
  ASSERT_TRUE(first.ok);
  ASSERT_TRUE(second.ok);
  EXPECT_EQ(f.cache_misses, 1);
  EXPECT_EQ(f.cache_hits, 1);
  EXPECT_EQ(second.ok->name, first.ok->name);
  EXPECT_EQ(second.ok->groups, first.ok->groups);
  EXPECT_EQ(second.ok->issuer, first.ok->issuer);
  EXPECT_EQ(second.ok->jti, "tok-1");
  EXPECT_EQ(f.verifier->CachedTokens(), 1u);
}

TEST(JwtCacheTest, ACachedTokenIsRefusedOnceExpired) {
  Fixture f;
  json claims = Claims();
  claims["nbf"] = kNowSeconds - 10;
  const std::string token = SignJwt(Rsa(), "RS256", "rsa-1", claims);
  ASSERT_TRUE(f.verifier->Verify(token, kNow).ok);
  // exp is now + 300 s, the leeway 60 s: valid until the last second of it.
  EXPECT_TRUE(f.verifier->Verify(token, kNow + std::chrono::seconds(359)).ok);
  JwtVerification late =
      f.verifier->Verify(token, kNow + std::chrono::seconds(360));
  ASSERT_FALSE(late.ok);
  EXPECT_EQ(JwtCheckName(late.failure), "expired");
  EXPECT_EQ(f.cache_hits, 2);  // judged from the cache, without the signature
  EXPECT_EQ(f.verifier->CachedTokens(), 0u);
  // The clock set back before nbf (less the leeway): not yet valid.
  ASSERT_TRUE(f.verifier->Verify(token, kNow).ok);
  JwtVerification early =
      f.verifier->Verify(token, kNow - std::chrono::seconds(71));
  ASSERT_FALSE(early.ok);
  EXPECT_EQ(JwtCheckName(early.failure), "not_yet_valid");
}

TEST(JwtCacheTest, ACachedTokenIsRefusedOnceItsKeyIsRotatedOut) {
  IdentityConfig config = OneIssuer();
  config.oidc[0].jwks_min_refresh = std::chrono::milliseconds(0);
  Fixture f(Jwks(), config);
  const std::string token = SignJwt(Rsa(), "RS256", "rsa-1", Claims());
  ASSERT_TRUE(f.verifier->Verify(token, kNow).ok);
  ASSERT_TRUE(f.verifier->Verify(token, kNow).ok);
  ASSERT_EQ(f.cache_hits, 1);

  // The provider drops rsa-1 and signs with a new key; the gateway learns of
  // it from a token with the new kid.
  const TestSigningKey next(TestSigningKey::Type::kRsa);
  f.SetJwks({{"keys", {next.PublicJwk("rsa-2"), Ec().PublicJwk("ec-1")}}});
  ASSERT_TRUE(
      f.verifier->Verify(SignJwt(next, "RS256", "rsa-2", Claims()), kNow).ok);
  ASSERT_EQ(f.fetches, 2);

  JwtVerification old = f.verifier->Verify(token, kNow);
  ASSERT_FALSE(old.ok);
  EXPECT_EQ(JwtCheckName(old.failure), "unknown_key");
  EXPECT_EQ(f.cache_hits, 1);
}

TEST(JwtCacheTest, ATamperedTokenNeverHitsTheEntryOfTheOriginal) {
  Fixture f;
  const std::string good = SignJwt(Rsa(), "RS256", "rsa-1", Claims());
  ASSERT_TRUE(f.verifier->Verify(good, kNow).ok);
  json mallory = Claims();
  mallory["email"] = "mallory@example.com";
  const std::size_t d1 = good.find('.'), d2 = good.rfind('.');
  const std::string other_payload = good.substr(0, d1 + 1) +
                                    Base64UrlEncode(mallory.dump()) +
                                    good.substr(d2);
  std::string other_signature = good;
  other_signature.back() = other_signature.back() == 'A' ? 'Q' : 'A';
  for (const std::string& tampered : {other_payload, other_signature}) {
    JwtVerification v = f.verifier->Verify(tampered, kNow);
    ASSERT_FALSE(v.ok);
    EXPECT_EQ(JwtCheckName(v.failure), "signature");
  }
  EXPECT_EQ(f.cache_hits, 0);
  EXPECT_EQ(f.cache_misses, 3);
  EXPECT_EQ(f.verifier->CachedTokens(), 1u);
  EXPECT_EQ(f.verifier->Verify(good, kNow).ok->name, "olga@example.com");
  EXPECT_EQ(f.cache_hits, 1);
}

TEST(JwtCacheTest, TheCacheNeverHoldsMoreThanItsBound) {
  IdentityConfig config = OneIssuer();
  config.token_cache_size = 5;
  Fixture f(Jwks(), config);
  std::string last;
  for (int i = 0; i < 40; ++i) {
    json claims = Claims();
    claims["jti"] = "tok-" + std::to_string(i);
    last = SignJwt(Ec(), "ES256", "ec-1", claims);
    ASSERT_TRUE(f.verifier->Verify(last, kNow).ok);
    EXPECT_LE(f.verifier->CachedTokens(), 5u);
  }
  EXPECT_EQ(f.cache_misses, 40);
  EXPECT_EQ(f.cache_hits, 0);
  // The newest entry is never the one evicted.
  EXPECT_TRUE(f.verifier->Verify(last, kNow).ok);
  EXPECT_EQ(f.cache_hits, 1);
}

TEST(JwtCacheTest, SizeZeroTurnsTheCacheOff) {
  IdentityConfig config = OneIssuer();
  config.token_cache_size = 0;
  Fixture f(Jwks(), config);
  const std::string token = SignJwt(Rsa(), "RS256", "rsa-1", Claims());
  EXPECT_TRUE(f.verifier->Verify(token, kNow).ok);
  EXPECT_TRUE(f.verifier->Verify(token, kNow).ok);
  EXPECT_EQ(f.verifier->CachedTokens(), 0u);
  EXPECT_EQ(f.cache_hits + f.cache_misses, 0);
}

TEST(JwtCacheTest, ManyThreadsShareTheCache) {
  Fixture f;
  std::vector<std::string> tokens;
  for (int i = 0; i < 4; ++i) {
    json claims = Claims();
    claims["jti"] = "tok-" + std::to_string(i);
    tokens.push_back(SignJwt(Ec(), "ES256", "ec-1", claims));
  }
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string& token = tokens[(t + i) % tokens.size()];
        ok += f.verifier->Verify(token, kNow).ok ? 1 : 0;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok, 400);
  EXPECT_EQ(f.cache_hits + f.cache_misses, 400);
  EXPECT_GE(f.cache_misses, 4);
  EXPECT_EQ(f.verifier->CachedTokens(), 4u);
}

VerifiedTokenCache::Digest DigestIn(unsigned char shard, unsigned char n) {
  VerifiedTokenCache::Digest d{};
  d[0] = n;
  d[31] = shard;
  return d;
}

TEST(TokenCacheTest, EvictsTheLeastRecentlyUsedAndStaysWithinItsBound) {
  VerifiedTokenCache cache(32);  // 16 shards of 2
  CachedToken token;
  token.verified.name = "a";
  const auto a = DigestIn(0, 1), b = DigestIn(0, 2), c = DigestIn(0, 3);
  cache.Insert(a, token);
  cache.Insert(b, token);
  ASSERT_TRUE(cache.Find(a));  // a is now the most recently used
  cache.Insert(c, token);
  EXPECT_TRUE(cache.Find(a));
  EXPECT_FALSE(cache.Find(b));
  EXPECT_TRUE(cache.Find(c));
  cache.Erase(a);
  EXPECT_FALSE(cache.Find(a));

  for (int i = 0; i < 1000; ++i) {
    cache.Insert(DigestIn(static_cast<unsigned char>(i * 7),
                          static_cast<unsigned char>(i)),
                 token);
    ASSERT_LE(cache.size(), 32u);
  }
  for (std::size_t bound : {0u, 1u, 3u, 17u}) {
    VerifiedTokenCache small(bound);
    for (int i = 0; i < 300; ++i) {
      small.Insert(DigestIn(static_cast<unsigned char>(i),
                            static_cast<unsigned char>(i / 256)),
                   token);
    }
    EXPECT_LE(small.size(), bound);
  }
}

TEST(TokenCacheTest, AKeySetMatchesItselfOnlyNeverAnEqualOne) {
  JwksParse one = ParseJwks(Jwks().dump());
  JwksParse two = ParseJwks(Jwks().dump());
  ASSERT_TRUE(one.set && two.set);
  const std::weak_ptr<const JwkSet> cached = one.set;
  EXPECT_TRUE(SameKeySet(cached, one.set));
  EXPECT_FALSE(SameKeySet(cached, two.set));
  EXPECT_FALSE(SameKeySet(cached, nullptr));
  EXPECT_FALSE(SameKeySet({}, two.set));
  one.set.reset();  // gone: never matches what replaced it
  EXPECT_FALSE(SameKeySet(cached, two.set));
}

TEST(JwkTest, SameKeysComparesTheParsedKeysNotTheText) {
  const auto parse = [](const json& doc) {
    JwksParse p = ParseJwks(doc.dump());
    EXPECT_TRUE(p.set) << p.error;
    return p.set ? p.set : std::make_shared<const JwkSet>();
  };
  const auto set = parse(Jwks());
  // The same keys spelled differently: indented, with an unusable key and
  // members the gateway ignores.
  json spelled = Jwks();
  spelled["keys"][0]["use"] = "sig";
  spelled["keys"].push_back({{"kty", "oct"}, {"k", "c2VjcmV0"}});
  EXPECT_TRUE(SameKeys(*set, *parse(spelled)));
  EXPECT_TRUE(SameKeys(*set, *ParseJwks(Jwks().dump(2) + "\n").set));

  const TestSigningKey other_rsa(TestSigningKey::Type::kRsa);
  const TestSigningKey other_ec(TestSigningKey::Type::kEc256);
  const std::vector<std::pair<const char*, json>> changed = {
      {"an RSA key replaced under its kid",
       {{"keys",
         {other_rsa.PublicJwk("rsa-1"), Ec().PublicJwk("ec-1"),
          Ed().PublicJwk("ed-1")}}}},
      {"an EC key replaced under its kid",
       {{"keys",
         {Rsa().PublicJwk("rsa-1"), other_ec.PublicJwk("ec-1"),
          Ed().PublicJwk("ed-1")}}}},
      {"a kid renamed",
       {{"keys",
         {Rsa().PublicJwk("rsa-9"), Ec().PublicJwk("ec-1"),
          Ed().PublicJwk("ed-1")}}}},
      {"an algorithm pinned",
       {{"keys",
         {Rsa().PublicJwk("rsa-1", "PS256"), Ec().PublicJwk("ec-1"),
          Ed().PublicJwk("ed-1")}}}},
      {"a key removed",
       {{"keys", {Rsa().PublicJwk("rsa-1"), Ec().PublicJwk("ec-1")}}}},
      {"a key added",
       {{"keys",
         {Rsa().PublicJwk("rsa-1"), Ec().PublicJwk("ec-1"),
          Ed().PublicJwk("ed-1"), other_rsa.PublicJwk("rsa-2")}}}},
      {"the order changed (Find takes the first key that fits)",
       {{"keys",
         {Ec().PublicJwk("ec-1"), Rsa().PublicJwk("rsa-1"),
          Ed().PublicJwk("ed-1")}}}},
  };
  for (const auto& [what, doc] : changed) {
    EXPECT_FALSE(SameKeys(*set, *parse(doc))) << what;
    EXPECT_FALSE(SameKeys(*parse(doc), *set)) << what;
  }
}

TEST(JwtCacheTest, APeriodicRefreshOfTheSameKeysKeepsTokensCached) {
  IdentityConfig config = OneIssuer();
  config.oidc[0].jwks_refresh = std::chrono::milliseconds(20);
  Fixture f(Jwks(), config);
  // True once a fetch has started after the call and finished (fetches run
  // one at a time, so the one after it has started); bounded.
  const auto fetched_again = [&f] {
    const int seen = f.fetches;
    for (int i = 0; i < 500 && f.fetches < seen + 2; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return f.fetches >= seen + 2;
  };
  const std::string token = SignJwt(Ec(), "ES256", "ec-1", Claims());
  ASSERT_TRUE(f.verifier->Verify(token, kNow).ok);
  ASSERT_EQ(f.cache_misses, 1);

  // The same keys served again, spelled differently.
  json reformatted = Jwks();
  reformatted["keys"][1]["use"] = "sig";
  f.SetJwks(reformatted);
  ASSERT_TRUE(fetched_again());
  ASSERT_TRUE(f.verifier->Verify(token, kNow).ok);
  EXPECT_EQ(f.cache_hits, 1);
  EXPECT_EQ(f.cache_misses, 1);

  // Then the provider replaces ec-1's key: the cached token is refused once
  // a refresh has fetched it.
  const TestSigningKey replacement(TestSigningKey::Type::kEc256);
  f.SetJwks({{"keys",
              {Rsa().PublicJwk("rsa-1"), replacement.PublicJwk("ec-1"),
               Ed().PublicJwk("ed-1")}}});
  ASSERT_TRUE(fetched_again());
  EXPECT_EQ(f.Check(token), "signature");
  EXPECT_EQ(f.cache_hits, 1);
  EXPECT_EQ(f.Check(SignJwt(replacement, "ES256", "ec-1", Claims())), "ok");
}

TEST(JwkTest, UnusableKeysAreSkippedAndAnEmptySetRefused) {
  json weak = Rsa().PublicJwk("weak");
  weak["n"] = Base64UrlEncode(std::string(128, '\xff'));  // 1024 bits
  json enc = Ec().PublicJwk("enc");
  enc["use"] = "enc";
  json off_curve = Ec().PublicJwk("bad");
  off_curve["y"] = off_curve["x"];
  json oct = {{"kty", "oct"}, {"k", "c2VjcmV0"}, {"kid", "hmac"}};
  EXPECT_FALSE(
      ParseJwks(json{{"keys", {weak, enc, off_curve, oct}}}.dump()).set);
  JwksParse ok = ParseJwks(
      json{{"keys", {weak, enc, off_curve, oct, Ed().PublicJwk("ed")}}}.dump());
  ASSERT_TRUE(ok.set);
  EXPECT_EQ(ok.set->keys.size(), 1u);
  EXPECT_FALSE(ParseJwks("not json").set);
  EXPECT_FALSE(ParseJwks(R"({"keys": {}})").set);
}

TEST(JwtTest, OnlyThreeSegmentsStartingAsJsonLookLikeAJwt) {
  EXPECT_TRUE(LooksLikeJwt("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"));
  EXPECT_FALSE(LooksLikeJwt("eyJhbGciOiJSUzI1NiJ9.e30"));
  EXPECT_FALSE(LooksLikeJwt("eyJhbGciOiJSUzI1NiJ9.e30.c2ln.x"));
  EXPECT_FALSE(LooksLikeJwt("agt_static.token.value"));
  EXPECT_FALSE(LooksLikeJwt("agt_0123456789abcdef"));
  EXPECT_FALSE(LooksLikeJwt(""));
}

TEST(JwkTest, Base64UrlIsStrict) {
  std::string out;
  EXPECT_TRUE(Base64UrlDecode("aGk", out));
  EXPECT_EQ(out, "hi");
  EXPECT_FALSE(Base64UrlDecode("aGl", out));   // non-zero trailing bits
  EXPECT_FALSE(Base64UrlDecode("aGk=", out));  // padding
  EXPECT_FALSE(Base64UrlDecode("a+k", out));   // base64, not base64url
  EXPECT_FALSE(Base64UrlDecode("a", out));
}

TEST(AuthenticatorJwtTest, BearerJwtBecomesAnOidcPrincipal) {
  Fixture f;
  Authenticator auth({}, f.verifier);
  const std::string token = SignJwt(Ec(), "ES256", "ec-1", Claims());
  const std::string header = "Bearer " + token;
  AuthResult r = auth.Authenticate({{header}, {}}, kNow);
  ASSERT_TRUE(r.principal) << r.failure;
  EXPECT_EQ(r.principal->auth_method, "oidc");
  EXPECT_EQ(r.principal->audit_detail,
            std::string("iss=") + kIssuer + "; jti=tok-1");
  EXPECT_EQ(r.method, "oidc");
  EXPECT_EQ(r.result, "success");

  json expired = Claims();
  expired["exp"] = kNowSeconds - 3600;
  const std::string bad = "Bearer " + SignJwt(Ec(), "ES256", "ec-1", expired);
  AuthResult e = auth.Authenticate({{bad}, {}}, kNow);
  EXPECT_FALSE(e.principal);
  EXPECT_EQ(e.failure, "expired");
  EXPECT_EQ(e.failure.find("eyJ"), std::string::npos);
  // The same JWT as X-Api-Key is not an identity-provider credential.
  AuthResult k = auth.Authenticate({{}, {token}}, kNow);
  EXPECT_FALSE(k.principal);
  EXPECT_EQ(k.failure, "the token is not valid");
}

TEST(AuthenticatorJwtTest, StaticTokensExpire) {
  User u{"svc", {"support"}, Sha256Hex("agt_svc"), kNowSeconds};
  Authenticator auth({u});
  const std::string header = "Bearer agt_svc";
  AuthResult before =
      auth.Authenticate({{header}, {}}, kNow - std::chrono::seconds(1));
  ASSERT_TRUE(before.principal);
  EXPECT_EQ(before.principal->auth_method, "bearer");
  AuthResult after = auth.Authenticate({{header}, {}}, kNow);
  EXPECT_FALSE(after.principal);
  EXPECT_EQ(after.failure, "expired");
  EXPECT_EQ(after.result, "expired");
}

}  // namespace
}  // namespace agni

namespace agni {
namespace {

TEST(IdentityApprovalsTest,
     ProviderGroupsMakeARequirementMeetableAndShowAsSuch) {
  const policy::RequiredApproval req{"prod-needs-two", 2, {"telecom-ops"}};
  std::vector<policy::Member> members{{"alice", {"support"}},
                                      {"olga", {"telecom-ops"}}};
  // One static approver cannot give two approvals.
  EXPECT_NE(policy::UnmeetableReason({req}, "alice", members), "");
  members.push_back(policy::IdentityProviderMembers("telecom-ops"));
  members.push_back(policy::IdentityProviderMembers("support"));
  EXPECT_EQ(policy::UnmeetableReason({req}, "alice", members), "");
  EXPECT_EQ(policy::EligibleApprovers(req, "alice", members),
            (std::vector<std::string>{
                "olga", "members of telecom-ops (identity provider)"}));
}

}  // namespace
}  // namespace agni
