// ParseReleaseTarget decides whether a raw request target is a release, a
// malformed release (400) or another route (404). A wrong answer here either
// blocks a legitimate release or lets a number past policy that the upstream
// reads differently, so the cases below are deliberately hostile.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway/pipeline/release_target.h"

namespace agni {
namespace {

using Kind = ReleaseTarget::Kind;

std::string KindName(Kind k) {
  switch (k) {
    case Kind::kRelease: return "kRelease";
    case Kind::kInvalidNumber: return "kInvalidNumber";
    case Kind::kOtherRoute: return "kOtherRoute";
  }
  return "?";
}

std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string Release(std::string_view number_segment) {
  return std::string(kReleasePrefix) + std::string(number_segment) +
         std::string(kReleaseSuffix);
}

struct ValidCase {
  std::string target;
  std::string number;
};

TEST(ParseReleaseTargetTest, AcceptsRawAndEncodedPlusAndForwardsCanonicalPath) {
  const std::vector<ValidCase> cases = {
      {"/api/v1/phone-numbers/+14155550100/release/", "+14155550100"},
      {"/api/v1/phone-numbers/%2B14155550100/release/", "+14155550100"},
      {"/api/v1/phone-numbers/%2b14155550100/release/", "+14155550100"},
      // Shortest E.164: '+', country digit, one more digit.
      {"/api/v1/phone-numbers/+12/release/", "+12"},
      {"/api/v1/phone-numbers/%2B12/release/", "+12"},
      // Longest: 15 digits.
      {"/api/v1/phone-numbers/+123456789012345/release/", "+123456789012345"},
      {"/api/v1/phone-numbers/%2B999999999999999/release/", "+999999999999999"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.target);
    const ReleaseTarget t = ParseReleaseTarget(c.target);
    ASSERT_EQ(KindName(t.kind), "kRelease") << t.problem;
    EXPECT_EQ(t.phone_number, c.number);
    EXPECT_EQ(t.upstream_path,
              "/api/v1/phone-numbers/%2B" + c.number.substr(1) + "/release/");
    EXPECT_TRUE(t.problem.empty());
  }
}

TEST(ParseReleaseTargetTest, RawAndEncodedFormsForwardIdenticalBytes) {
  const ReleaseTarget raw = ParseReleaseTarget(Release("+14155550100"));
  const ReleaseTarget upper = ParseReleaseTarget(Release("%2B14155550100"));
  const ReleaseTarget lower = ParseReleaseTarget(Release("%2b14155550100"));
  EXPECT_EQ(raw.upstream_path, upper.upstream_path);
  EXPECT_EQ(raw.upstream_path, lower.upstream_path);
  EXPECT_EQ(raw.phone_number, lower.phone_number);
}

struct InvalidCase {
  std::string name;
  std::string target;
};

TEST(ParseReleaseTargetTest, RejectsMalformedReleaseTargetsAsInvalidNumber) {
  const std::string overlong_query =
      Release("+14155550100") + "?" + std::string(kMaxReleaseTarget, 'a');
  std::string overlong_path = std::string(kReleasePrefix) +
                              std::string(kMaxReleaseTarget, '1') +
                              std::string(kReleaseSuffix);
  const std::vector<InvalidCase> cases = {
      {"double encoded plus", Release("%252B14155550100")},
      {"encoded digit", Release("%2B%314155550100")},
      {"encoded slash", Release("%2B1415%2F5550100")},
      {"truncated escape at end", Release("+1415555010%2")},
      {"lone percent", Release("+1415%")},
      {"missing number", "/api/v1/phone-numbers//release/"},
      {"extra segment", "/api/v1/phone-numbers/+1415/x/release/"},
      {"extra segment after release",
       "/api/v1/phone-numbers/+14155550100/release/release/"},
      {"empty leading segment", "/api/v1/phone-numbers//+14155550100/release/"},
      {"dot dot segment", "/api/v1/phone-numbers/../release/"},
      {"dot segment", "/api/v1/phone-numbers/./release/"},
      {"dot dot after number", "/api/v1/phone-numbers/+1415/../release/"},
      {"encoded NUL", Release("%2B1415%005550100")},
      {"raw NUL", Release(std::string("+1415\0"
                                      "5550100",
                                      13))},
      {"space", Release("+1 4155550100")},
      {"encoded space", Release("+1%204155550100")},
      {"tab", Release("+1\t4155550100")},
      {"Arabic-Indic digits", Release("+\xd9\xa1\xd9\xa4\xd9\xa1\xd9\xa5")},
      {"fullwidth digits", Release("+\xef\xbc\x91\xef\xbc\x94\xef\xbc\x91")},
      {"superscript one", Release("+\xc2\xb9"
                                  "4155550100")},
      {"leading zero country code", Release("+04155550100")},
      {"encoded plus then zero", Release("%2B04155550100")},
      {"16 digits", Release("+1234567890123456")},
      {"only plus", Release("+")},
      {"plus and one digit", Release("+1")},
      {"no plus", Release("14155550100")},
      {"letters", Release("+1415CALLME")},
      {"hex-looking", Release("+0x1415")},
      {"dashes", Release("+1-415-555-0100")},
      {"parentheses", Release("+1(415)5550100")},
      {"extension", Release("+14155550100;ext=1")},
      {"double plus", Release("++14155550100")},
      {"encoded double plus", Release("%2B%2B14155550100")},
      {"plus in the middle", Release("+1415+1")},
      {"plus at the end", Release("14155550100+")},
      {"query smuggling a number",
       Release("+14155550100") + "?number=+19115550100"},
      {"empty query", Release("+14155550100") + "?"},
      {"query", Release("+14155550100") + "?a=b"},
      {"query on encoded form", Release("%2B14155550100") + "?a=b"},
      {"overlong by query", overlong_query},
      {"overlong by path", overlong_path},
      {"no trailing slash", "/api/v1/phone-numbers/+14155550100/release"},
      {"doubled trailing slash",
       "/api/v1/phone-numbers/+14155550100/release//"},
      {"fragment", Release("+14155550100") + "#x"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + ": " + Printable(c.target));
    const ReleaseTarget t = ParseReleaseTarget(c.target);
    EXPECT_EQ(KindName(t.kind), "kInvalidNumber");
    EXPECT_FALSE(t.problem.empty()) << "a 400 must say why";
    EXPECT_TRUE(t.phone_number.empty());
    EXPECT_TRUE(t.upstream_path.empty());
  }
}

TEST(ParseReleaseTargetTest, TargetAtExactlyTheLengthLimitIsStillParsed) {
  // Pad with a legal-looking but invalid number to exactly the limit: the
  // length check must not fire, the number check must.
  const std::size_t fixed = kReleasePrefix.size() + kReleaseSuffix.size() + 1;
  const std::string target = std::string(kReleasePrefix) + "+" +
                             std::string(kMaxReleaseTarget - fixed, '1') +
                             std::string(kReleaseSuffix);
  ASSERT_EQ(target.size(), kMaxReleaseTarget);
  const ReleaseTarget at_limit = ParseReleaseTarget(target);
  EXPECT_EQ(KindName(at_limit.kind), "kInvalidNumber");
  EXPECT_EQ(at_limit.problem.find("too long"), std::string::npos)
      << at_limit.problem;

  const ReleaseTarget over = ParseReleaseTarget(target + "1");
  EXPECT_EQ(KindName(over.kind), "kInvalidNumber");
  EXPECT_NE(over.problem.find("too long"), std::string::npos) << over.problem;
}

TEST(ParseReleaseTargetTest, QueryStringIsRejectedWithAReasonNamingIt) {
  const ReleaseTarget t =
      ParseReleaseTarget(Release("+14155550100") + "?number=+19115550100");
  ASSERT_EQ(KindName(t.kind), "kInvalidNumber");
  EXPECT_NE(t.problem.find("query"), std::string::npos) << t.problem;
}

TEST(ParseReleaseTargetTest, NonReleaseTargetsAreOtherRoutes) {
  const std::vector<std::string> cases = {
      "/api/v1/phone-numbers/",
      "/api/v1/phone-numbers",
      "/api/v1/phone-numbers/buy/",
      "/api/v1/phone-numbers/+14155550100/",
      "/api/v1/phone-numbers/+14155550100",
      "/api/v1/phone-numbers/+14155550100/RELEASE/",
      "/API/v1/phone-numbers/+14155550100/release/",
      "/api/V1/phone-numbers/+14155550100/release/",
      "/api/v1/../v1/phone-numbers/+1/release/",
      "/api/v1/phone-numbers%2F+14155550100/release/",
      "//api/v1/phone-numbers/+14155550100/release/",
      "api/v1/phone-numbers/+14155550100/release/",
      "/v1/approvals",
      "/",
      "",
      "*",
      "http://api.ravan.ai/api/v1/phone-numbers/+14155550100/release/",
  };
  for (const auto& target : cases) {
    SCOPED_TRACE(Printable(target));
    const ReleaseTarget t = ParseReleaseTarget(target);
    EXPECT_EQ(KindName(t.kind), "kOtherRoute");
    EXPECT_TRUE(t.phone_number.empty());
    EXPECT_TRUE(t.upstream_path.empty());
  }
}

TEST(IsE164Test, AcceptsExactlyPlusThenTwoToFifteenDigitsFirstNonZero) {
  struct Case {
    std::string number;
    bool valid;
  };
  const std::vector<Case> cases = {
      {"+12", true},
      {"+14155550100", true},
      {"+442071838750", true},
      {"+123456789012345", true},  // 15 digits
      {"+923456789012345", true},
      {"+1234567890123456", false},  // 16 digits
      {"+1", false},
      {"+", false},
      {"", false},
      {"14155550100", false},
      {"+04155550100", false},
      {"+00", false},
      {"++14155550100", false},
      {"+1415+5550100", false},
      {"+1 4155550100", false},
      {"+1-415-555-0100", false},
      {"+1415555010a", false},
      {"+1415555010\xd9\xa1", false},
      {"+\xef\xbc\x91\xef\xbc\x94", false},
      {std::string("+1415\0"
                   "555",
                   9),
       false},
      {"%2B14155550100", false},
      {" +14155550100", false},
      {"+14155550100 ", false},
      {"+14155550100\n", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(Printable(c.number));
    EXPECT_EQ(IsE164(c.number), c.valid);
  }
}

TEST(CanonicalReleasePathTest, EncodesThePlusAndKeepsTheTrailingSlash) {
  EXPECT_EQ(CanonicalReleasePath("+14155550100"),
            "/api/v1/phone-numbers/%2B14155550100/release/");
  EXPECT_EQ(CanonicalReleasePath("+12"),
            "/api/v1/phone-numbers/%2B12/release/");
  EXPECT_EQ(CanonicalReleasePath("+123456789012345"),
            "/api/v1/phone-numbers/%2B123456789012345/release/");
}

TEST(CanonicalReleasePathTest, RoundTripsThroughTheParser) {
  for (const std::string number : {"+12", "+14155550100", "+123456789012345"}) {
    SCOPED_TRACE(number);
    const std::string path = CanonicalReleasePath(number);
    const ReleaseTarget t = ParseReleaseTarget(path);
    ASSERT_EQ(KindName(t.kind), "kRelease") << t.problem;
    EXPECT_EQ(t.phone_number, number);
    EXPECT_EQ(t.upstream_path, path);
  }
}

}  // namespace
}  // namespace agni
