// The Authenticator turns credential headers into a principal, or into a
// failure reason that is safe to show and to audit. Users are built the way an
// operator builds them: a real token from NewToken() and its Sha256Hex() in the
// config.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/crypto.h"
#include "gateway/auth/authenticator.h"

namespace agni {
namespace {

struct Fixture {
  std::string alice_token = NewToken();
  std::string olga_token = NewToken();
  std::vector<User> users = {
      {"alice", {"support", "sales"}, Sha256Hex(alice_token)},
      {"olga", {"telecom-ops"}, Sha256Hex(olga_token)},
  };
  Authenticator auth{users};
};

Credentials Bearer(std::string_view header) {
  Credentials c;
  c.authorization.push_back(header);
  return c;
}

Credentials ApiKey(std::string_view header) {
  Credentials c;
  c.api_key.push_back(header);
  return c;
}

TEST(AuthenticatorTest, BearerTokenYieldsThePrincipalWithNameGroupsAndMethod) {
  Fixture f;
  const std::string header = "Bearer " + f.alice_token;
  const AuthResult r = f.auth.Authenticate(Bearer(header));
  ASSERT_TRUE(r.principal.has_value()) << r.failure;
  EXPECT_EQ(r.principal->name, "alice");
  EXPECT_EQ(r.principal->groups,
            (std::vector<std::string>{"support", "sales"}));
  EXPECT_EQ(r.principal->auth_method, "bearer");
  EXPECT_TRUE(r.failure.empty());
}

TEST(AuthenticatorTest, XApiKeyYieldsThePrincipalWithApiKeyMethod) {
  Fixture f;
  const AuthResult r = f.auth.Authenticate(ApiKey(f.olga_token));
  ASSERT_TRUE(r.principal.has_value()) << r.failure;
  EXPECT_EQ(r.principal->name, "olga");
  EXPECT_EQ(r.principal->groups, (std::vector<std::string>{"telecom-ops"}));
  EXPECT_EQ(r.principal->auth_method, "api_key");
}

TEST(AuthenticatorTest, BearerSchemeIsCaseInsensitiveAndSpacesAreTrimmed) {
  Fixture f;
  const std::vector<std::string> headers = {
      "Bearer " + f.alice_token,          "bearer " + f.alice_token,
      "BEARER " + f.alice_token,          "bEaReR " + f.alice_token,
      "  Bearer " + f.alice_token + "  ", "Bearer    " + f.alice_token,
      "\tBearer " + f.alice_token + "\t",
  };
  for (const auto& h : headers) {
    SCOPED_TRACE("Authorization: [" + h + "]");
    const AuthResult r = f.auth.Authenticate(Bearer(h));
    ASSERT_TRUE(r.principal.has_value()) << r.failure;
    EXPECT_EQ(r.principal->name, "alice");
    EXPECT_EQ(r.principal->auth_method, "bearer");
  }
}

TEST(AuthenticatorTest, XApiKeyIsTrimmed) {
  Fixture f;
  const AuthResult r = f.auth.Authenticate(ApiKey("  " + f.olga_token + " "));
  ASSERT_TRUE(r.principal.has_value()) << r.failure;
  EXPECT_EQ(r.principal->name, "olga");
}

TEST(AuthenticatorTest, EachUserIsIdentifiedByTheirOwnToken) {
  Fixture f;
  EXPECT_EQ(f.auth.Authenticate(ApiKey(f.alice_token)).principal->name,
            "alice");
  EXPECT_EQ(f.auth.Authenticate(ApiKey(f.olga_token)).principal->name, "olga");
  EXPECT_EQ(
      f.auth.Authenticate(Bearer("Bearer " + f.olga_token)).principal->name,
      "olga");
}

struct FailureCase {
  std::string name;
  Credentials credentials;
  std::string expected_failure_part;
};

TEST(AuthenticatorTest, RefusesBadCredentialsWithAReasonThatNeverQuotesThem) {
  Fixture f;
  const std::string stranger = NewToken();
  // Kept alive for the string_views inside Credentials.
  const std::string bearer_alice = "Bearer " + f.alice_token;
  const std::string bearer_olga = "Bearer " + f.olga_token;
  const std::string bearer_stranger = "Bearer " + stranger;
  const std::string basic_alice = "Basic " + f.alice_token;
  const std::string token_alone = f.alice_token;
  const std::string bearer_no_space = "Bearer" + f.alice_token;
  const std::string bearer_tab = "Bearer\t" + f.alice_token;
  const std::string alice_prefix = f.alice_token.substr(0, 20);
  const std::string alice_longer = f.alice_token + "x";
  const std::string alice_hash = Sha256Hex(f.alice_token);

  std::vector<FailureCase> cases;
  cases.push_back({"no headers", {}, "no credentials"});
  cases.push_back({"wrong bearer token", Bearer(bearer_stranger), "not valid"});
  cases.push_back({"wrong api key", ApiKey(stranger), "not valid"});
  cases.push_back({"token prefix", ApiKey(alice_prefix), "not valid"});
  cases.push_back({"token plus a byte", ApiKey(alice_longer), "not valid"});
  cases.push_back(
      {"the stored hash as token", ApiKey(alice_hash), "not valid"});
  cases.push_back({"empty api key", ApiKey(""), "empty"});
  cases.push_back({"blank api key", ApiKey("   "), "empty"});
  cases.push_back({"basic scheme", Bearer(basic_alice), "Bearer"});
  cases.push_back({"no scheme", Bearer(token_alone), "Bearer"});
  cases.push_back({"scheme glued to token", Bearer(bearer_no_space), "Bearer"});
  cases.push_back({"tab after scheme", Bearer(bearer_tab), "Bearer"});
  cases.push_back({"empty authorization", Bearer(""), "Bearer"});
  cases.push_back({"bearer without a token", Bearer("Bearer "), "empty"});
  cases.push_back({"bare bearer", Bearer("bearer"), "empty"});
  {
    Credentials two;
    two.authorization = {bearer_alice, bearer_alice};
    cases.push_back({"two Authorization headers", two, "more than one"});
  }
  {
    Credentials two;
    two.authorization = {bearer_alice, bearer_stranger};
    cases.push_back(
        {"two Authorization headers, one bad", two, "more than one"});
  }
  {
    Credentials two;
    two.api_key = {f.alice_token, f.olga_token};
    cases.push_back({"two X-Api-Key headers", two, "more than one"});
  }
  {
    Credentials both;
    both.authorization = {bearer_olga};
    both.api_key = {f.alice_token};
    cases.push_back(
        {"Authorization and X-Api-Key together", both, "more than one"});
  }

  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const AuthResult r = f.auth.Authenticate(c.credentials);
    EXPECT_FALSE(r.principal.has_value());
    ASSERT_FALSE(r.failure.empty());
    EXPECT_NE(r.failure.find(c.expected_failure_part), std::string::npos)
        << r.failure;
    for (const std::string& secret :
         {f.alice_token, f.olga_token, stranger, alice_prefix, alice_hash}) {
      EXPECT_EQ(r.failure.find(secret), std::string::npos)
          << "failure text quotes a credential: " << r.failure;
    }
    // Not even the token body without its agt_ prefix.
    EXPECT_EQ(r.failure.find(f.alice_token.substr(4, 16)), std::string::npos);
  }
}

TEST(AuthenticatorTest, NoUsersMeansNoTokenIsValid) {
  const Authenticator none(std::vector<User>{});
  const std::string token = NewToken();
  const AuthResult r = none.Authenticate(ApiKey(token));
  EXPECT_FALSE(r.principal.has_value());
  EXPECT_NE(r.failure.find("not valid"), std::string::npos) << r.failure;
}

TEST(AuthenticatorTest, UserWithoutGroupsGetsAnEmptyGroupList) {
  const std::string token = NewToken();
  const Authenticator auth({{"svc-billing", {}, Sha256Hex(token)}});
  const AuthResult r = auth.Authenticate(ApiKey(token));
  ASSERT_TRUE(r.principal.has_value()) << r.failure;
  EXPECT_EQ(r.principal->name, "svc-billing");
  EXPECT_TRUE(r.principal->groups.empty());
}

TEST(AuthenticatorTest, OperatorHashFromSha256sumAcceptsTheToken) {
  // Computed with: printf %s agt_operator-made-token | sha256sum
  const Authenticator auth(
      {{"carol",
        {"sales"},
        "cadb8afeb2af2b4375eb83f3e8aa185d805f92fe7b65bb9d016a88324db71727"}});
  EXPECT_EQ(Sha256Hex("agt_operator-made-token"),
            "cadb8afeb2af2b4375eb83f3e8aa185d805f92fe7b65bb9d016a88324db71727");
  const AuthResult r =
      auth.Authenticate(Bearer("Bearer agt_operator-made-token"));
  ASSERT_TRUE(r.principal.has_value()) << r.failure;
  EXPECT_EQ(r.principal->name, "carol");
  EXPECT_FALSE(auth.Authenticate(ApiKey("agt_operator-made-tokeN")).principal);
}

TEST(CryptoTest, ConstantTimeEqualsComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "Abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("ab", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals(std::string_view("a\0b", 3),
                                 std::string_view("a\0b", 3)));
  EXPECT_FALSE(ConstantTimeEquals(std::string_view("a\0b", 3),
                                  std::string_view("a\0c", 3)));
}

TEST(CryptoTest, NewTokenIsPrefixedBase64UrlOf256BitsAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string t = NewToken();
    SCOPED_TRACE(t);
    ASSERT_EQ(t.rfind("agt_", 0), 0u);
    // 32 bytes in unpadded base64url is 43 characters.
    ASSERT_EQ(t.size(), 4u + 43u);
    for (char c : t.substr(4)) {
      const bool url_safe = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_';
      EXPECT_TRUE(url_safe) << "character '" << c << "'";
    }
    EXPECT_TRUE(seen.insert(t).second) << "duplicate token";
  }
  EXPECT_NE(NewToken(), NewToken());
}

TEST(CryptoTest, Sha256HexMatchesKnownVectors) {
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Raw("abc").size(), 32u);
  EXPECT_EQ(HexEncode(Sha256Raw("abc")), Sha256Hex("abc"));
}

TEST(CryptoTest, Base64UrlEncodeMatchesRfc4648VectorsWithoutPadding) {
  struct Case {
    std::string in;
    std::string out;
  };
  const std::vector<Case> cases = {
      {"", ""},
      {"f", "Zg"},
      {"fo", "Zm8"},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg"},
      {"fooba", "Zm9vYmE"},
      {"foobar", "Zm9vYmFy"},
      // '+' and '/' of standard base64 become '-' and '_'.
      {"\xfb\xff\xbf", "-_-_"},
      {"\xfb\xff", "-_8"},
      {std::string("\0\0\0", 3), "AAAA"},
      {"\xff", "_w"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(HexEncode(c.in));
    EXPECT_EQ(Base64UrlEncode(c.in), c.out);
  }
}

TEST(CryptoTest, HexEncodeIsLowercase) {
  EXPECT_EQ(HexEncode(std::string("\x00\x0f\xab\xff", 4)), "000fabff");
}

TEST(CryptoTest, RandomBytesAndRequestIdsHaveTheRequestedSize) {
  EXPECT_EQ(RandomBytes(0).size(), 0u);
  EXPECT_EQ(RandomBytes(17).size(), 17u);
  const std::string id = NewRequestId();
  EXPECT_EQ(id.size(), 32u);
  EXPECT_NE(id, NewRequestId());
}

TEST(CryptoTest, RequestIdsStartWithTheirTimeAndSortByCreation) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  using std::chrono::system_clock;
  auto now_ms = [] {
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
        .count();
  };
  const auto before = now_ms();
  const std::string first = NewRequestId();
  const auto after = now_ms();
  EXPECT_EQ(first.find_first_not_of("0123456789abcdef"), std::string::npos)
      << first;
  const long long stamped = std::stoll(first.substr(0, 12), nullptr, 16);
  EXPECT_GE(stamped, before);
  EXPECT_LE(stamped, after);
  // Ids made a thousand in a row, most in the same millisecond, still differ
  // in their random part.
  std::set<std::string> same_time;
  for (int i = 0; i < 1000; ++i) same_time.insert(NewRequestId());
  EXPECT_EQ(same_time.size(), 1000u);
  std::this_thread::sleep_for(milliseconds(2));
  EXPECT_LT(first, NewRequestId());
}

}  // namespace
}  // namespace agni
