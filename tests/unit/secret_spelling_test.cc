// The upstream key in every spelling an upstream could echo it in: the
// scrubber finds each one, rewrites JSON bodies from scrubbed strings, and
// withholds a body it cannot rewrite.
#include "base/secret_spelling.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gateway/upstream/response_scrub.h"
#include "tests/support/helpers.h"
#include "tests/support/key_spellings.h"

namespace agni::testing {
namespace {

using nlohmann::json;

std::vector<std::string> KeysWithSpace() {
  std::vector<std::string> keys = kAwkwardKeys;
  keys.push_back(R"(a b/c+d=e"f\g)");
  return keys;
}

// Fails naming each spelling of `key` still in `text`.
void ExpectNoSpelling(const std::string& text, const std::string& key) {
  for (const Spelling& s : SingleLayerSpellings(key)) {
    EXPECT_EQ(text.find(s.text), std::string::npos)
        << s.name << " of " << key << " in: " << text;
  }
  for (const Spelling& s : DoubleLayerSpellings(key)) {
    EXPECT_EQ(text.find(s.text), std::string::npos)
        << s.name << " of " << key << " in: " << text;
  }
}

TEST(SecretSpellingTest, EverySingleLayerSpellingIsRedacted) {
  for (const std::string& key : KeysWithSpace()) {
    for (const Spelling& s : SingleLayerSpellings(key)) {
      const std::string text = "key was <" + s.text + "> ok";
      EXPECT_TRUE(HasSpelling(text, key)) << s.name << " of " << key;
      EXPECT_EQ(RedactSpellings(text, key), "key was <[REDACTED]> ok")
          << s.name << " of " << key;
      EXPECT_EQ(Scrub(text, key), "key was <[REDACTED]> ok") << s.name;
    }
  }
}

TEST(SecretSpellingTest, DoubleLayerSpellingsAreFoundByTheLayeredCheck) {
  for (const std::string& key : kAwkwardKeys) {
    for (const Spelling& s : DoubleLayerSpellings(key)) {
      EXPECT_TRUE(HasLayeredSpelling("x " + s.text + " y", key))
          << s.name << " of " << key;
    }
  }
}

TEST(SecretSpellingTest, TextWithoutTheKeyIsUntouched) {
  const std::string key = kAwkwardKeys[0];
  const std::string text =
      R"({"a":"agni\/live+Key=\"q\\9","b":"%2F%2B%3D","c":"\u00"} 100% \)";
  EXPECT_FALSE(HasLayeredSpelling(text, key));
  EXPECT_EQ(RedactSpellings(text, key), text);
  EXPECT_EQ(RedactSpellings(text, ""), text);
}

TEST(SecretSpellingTest, JsonBodyIsRewrittenFromScrubbedStrings) {
  for (const std::string& key : kAwkwardKeys) {
    // Every spelling as a value, inside a longer value, in an array and as
    // a member name, written as raw JSON text so that escapes reach the
    // parser as the upstream sent them.
    std::string body = R"({"success":false,"items":[)";
    std::string names;
    for (const Spelling& s : SingleLayerSpellings(key)) {
      // Each spelling but the plain one is valid JSON string content as
      // it stands; the plain key (raw `"` and `\`) goes in JSON-escaped.
      const std::string quoted =
          s.name == "plain" ? json(s.text).dump() : "\"" + s.text + "\"";
      body += quoted + ",";
      body += "\"bad key " + quoted.substr(1, quoted.size() - 2) + " here\",";
      names += "," + quoted + ":1";
    }
    body += R"("end"],"message":"invalid")" + names + "}";
    ASSERT_FALSE(json::parse(body, nullptr, false).is_discarded()) << body;

    const ScrubbedResponse out =
        ScrubUpstreamResponse(400, body, "application/json", key);
    EXPECT_FALSE(out.withheld) << out.body;
    EXPECT_EQ(out.content_type, "application/json");
    ExpectNoSpelling(out.body, key);
    const json parsed = json::parse(out.body, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << out.body;
    EXPECT_EQ(parsed["success"], false);
    EXPECT_EQ(parsed["message"], "invalid");
    EXPECT_EQ(parsed["items"][1], "bad key [REDACTED] here");
    std::vector<std::string> strings;
    CollectJsonStrings(parsed, strings);
    for (const std::string& s : strings) {
      EXPECT_EQ(s.find(key), std::string::npos) << s;
      EXPECT_FALSE(HasSpelling(s, key)) << s;
    }
  }
}

TEST(SecretSpellingTest, CleanJsonBodyKeepsItsBytes) {
  const std::string body = "{ \"success\": true,\n  \"z\": 1.50, \"a\": [] }";
  const ScrubbedResponse out =
      ScrubUpstreamResponse(200, body, "application/json", kAwkwardKeys[0]);
  EXPECT_EQ(out.body, body);
  EXPECT_FALSE(out.withheld);
}

// Text without an escape introducer takes a shortcut (its spellings are its
// literal occurrences); the key must still be found there, and a `+` must
// still read as the space of a key.
TEST(SecretSpellingTest, TextWithoutEscapesFindsTheKeyLiterallyOrWithPlus) {
  const std::string key = "sk_live Z9";
  for (const std::string& text :
       {std::string("sk_live Z9"), std::string("x sk_live Z9 y"),
        std::string("sk_live+Z9"), std::string(R"({"m":"sk_live+Z9"})")}) {
    EXPECT_TRUE(MayHoldSpelling(text, key)) << text;
    EXPECT_TRUE(HasSpelling(text, key)) << text;
    EXPECT_TRUE(HasLayeredSpelling(text, key)) << text;
    EXPECT_EQ(RedactSpellings(text, key).find("Z9"), std::string::npos);
  }
  for (const std::string& text :
       {std::string("sk_live_Z9"), std::string(R"({"success":true})"),
        std::string("sk_live Z")}) {
    EXPECT_FALSE(MayHoldSpelling(text, key)) << text;
    EXPECT_FALSE(HasSpelling(text, key)) << text;
    EXPECT_FALSE(HasLayeredSpelling(text, key)) << text;
  }
  // An escape anywhere: the full search decides.
  EXPECT_TRUE(MayHoldSpelling("sk_live%20Z", key));
  EXPECT_TRUE(HasSpelling("sk_live%20Z9", key));
}

TEST(SecretSpellingTest, JsonBodyWithTheKeyLiterallyAndNoEscapeIsScrubbed) {
  const std::string key = "agniKEY123";
  const std::string body =
      R"({"success":true,"phone_number":"+15550000001","echo":"agniKEY123"})";
  const ScrubbedResponse out =
      ScrubUpstreamResponse(200, body, "application/json", key);
  EXPECT_FALSE(out.withheld);
  ExpectNoSpelling(out.body, key);
  EXPECT_EQ(json::parse(out.body)["echo"], "[REDACTED]");
  EXPECT_EQ(json::parse(out.body)["phone_number"], "+15550000001");
  const ScrubbedResponse in_type = ScrubUpstreamResponse(
      200, R"({"success":true})", "application/json; k=agniKEY123", key);
  EXPECT_EQ(in_type.content_type.find(key), std::string::npos);
}

TEST(SecretSpellingTest, DuplicateMemberTheParserDropsCannotCarryTheKey) {
  const std::string key = kAwkwardKeys[0];
  const std::string body = R"({"m":)" + json(key).dump() + R"(,"m":"ok"})";
  const ScrubbedResponse out =
      ScrubUpstreamResponse(400, body, "application/json", key);
  ExpectNoSpelling(out.body, key);
  EXPECT_FALSE(HasLayeredSpelling(out.body, key)) << out.body;
}

TEST(SecretSpellingTest, TextBodyAndContentTypeHaveEverySpellingReplaced) {
  for (const std::string& key : kAwkwardKeys) {
    std::string body = "invalid api key:";
    std::string type = "text/plain";
    for (const Spelling& s : SingleLayerSpellings(key)) {
      body += " [" + s.text + "]";
      type += "; k=" + s.text;
    }
    const ScrubbedResponse out = ScrubUpstreamResponse(401, body, type, key);
    EXPECT_FALSE(out.withheld) << out.body;
    ExpectNoSpelling(out.body, key);
    ExpectNoSpelling(out.content_type, key);
    EXPECT_EQ(out.body.rfind("invalid api key: [[REDACTED]] [[REDACTED]]", 0),
              0u)
        << out.body;
  }
}

TEST(SecretSpellingTest, BodyItCannotRewriteIsWithheldKeepingTheVerdict) {
  for (const std::string& key : kAwkwardKeys) {
    for (const Spelling& s : DoubleLayerSpellings(key)) {
      const ScrubbedResponse text =
          ScrubUpstreamResponse(401, "bad key " + s.text, "text/plain", key);
      EXPECT_TRUE(text.withheld) << s.name;
      EXPECT_EQ(text.content_type, "application/problem+json");
      const json problem = json::parse(text.body, nullptr, false);
      EXPECT_EQ(problem["reason"], "upstream_response_withheld");
      EXPECT_EQ(problem["status"], 401);
      EXPECT_FALSE(problem.contains("success"));

      const ScrubbedResponse in_json = ScrubUpstreamResponse(
          200, R"({"success":false,"message":)" + json(s.text).dump() + "}",
          "application/json", key);
      EXPECT_TRUE(in_json.withheld) << s.name;
      EXPECT_EQ(json::parse(in_json.body)["success"], false);
      ExpectNoSpelling(in_json.body, key);

      const ScrubbedResponse in_type = ScrubUpstreamResponse(
          400, "{}", "application/json; k=" + s.text, key);
      EXPECT_TRUE(in_type.withheld) << s.name;
      EXPECT_EQ(in_type.content_type, "application/problem+json");
    }
  }
}

}  // namespace
}  // namespace agni::testing
