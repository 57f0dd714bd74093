// An upstream that echoes the gateway's key back, in every spelling a client
// could decode (keys with `/ + = " \`): the client's bytes never hold the
// key, and the JSON it parses holds no string containing it.
#include <gtest/gtest.h>

#include "tests/support/harness.h"
#include "tests/support/key_spellings.h"
#include "tests/support/test_support.h"

namespace agni::testing {
namespace {

using nlohmann::json;

// Everything the client got: status line, headers and body.
std::string ClientBytes(const httplib::Result& res) {
  std::string s = "HTTP " + std::to_string(res->status) + "\n";
  for (const auto& [k, v] : res->headers) s += k + ": " + v + "\n";
  return s + "\n" + res->body;
}

void ExpectNoKey(const httplib::Result& res, const std::string& key,
                 const std::string& what) {
  const std::string bytes = ClientBytes(res);
  std::vector<Spelling> spellings = SingleLayerSpellings(key);
  for (const Spelling& s : DoubleLayerSpellings(key)) spellings.push_back(s);
  for (const Spelling& s : spellings) {
    EXPECT_EQ(bytes.find(s.text), std::string::npos)
        << what << ": the client got the key " << s.name << ":\n"
        << bytes;
  }
  const json body = json::parse(res->body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << what << ": " << res->body;
  std::vector<std::string> strings;
  CollectJsonStrings(body, strings);
  for (const std::string& str : strings) {
    for (const Spelling& s : spellings) {
      EXPECT_EQ(str.find(s.text), std::string::npos)
          << what << ": a JSON string holds the key " << s.name << ": " << str;
    }
  }
}

class KeyEchoTest : public ::testing::TestWithParam<std::string> {
 protected:
  KeyEchoTest() {
    GatewayHarness::Options o{.upstream_base_url = upstream_.url()};
    o.api_key = GetParam();
    gw_ = std::make_unique<GatewayHarness>(std::move(o));
  }

  httplib::Result Release(FakeUpstream::Reply reply) {
    upstream_.SetReply(std::move(reply));
    const std::string number = "%2B1555123" + std::to_string(1000 + next_++);
    return gw_->Client().Delete(ReleasePath(number),
                                Bearer(gw_->alice().token));
  }

  const std::string& key() const { return GetParam(); }

  FakeUpstream upstream_;
  std::unique_ptr<GatewayHarness> gw_;
  int next_ = 0;
};

TEST_P(KeyEchoTest, EverySpellingInAJsonBodyIsScrubbed) {
  for (const Spelling& s : SingleLayerSpellings(key())) {
    // As the upstream would write it: escapes raw in the JSON text, the
    // plain key JSON-escaped (its `"` and `\`).
    const std::string in_json =
        s.name == "plain" ? json(s.text).dump() : "\"" + s.text + "\"";
    auto res = Release({.status = 400,
                        .body = R"({"success":false,"message":"invalid key",)"
                                R"("detail":{"key":)" +
                                in_json + R"(,"list":["x",)" + in_json + "]}," +
                                in_json + ":true}"});
    ASSERT_TRUE(res) << s.name;
    EXPECT_EQ(res->status, 400) << s.name;
    ExpectNoKey(res, key(), s.name);
    const json body = json::parse(res->body, nullptr, false);
    EXPECT_EQ(body["message"], "invalid key") << s.name;
    EXPECT_EQ(body["detail"]["key"], "[REDACTED]") << s.name;
  }
  EXPECT_EQ(gw_->AuditRows().back()["outcome"], "rejected_by_upstream");
}

TEST_P(KeyEchoTest, EverySpellingInATextBodyAndContentTypeIsScrubbed) {
  for (const Spelling& s : SingleLayerSpellings(key())) {
    auto res = Release({.status = 401,
                        .body = "invalid api key: " + s.text,
                        .content_type = "text/plain; key=" + s.text});
    ASSERT_TRUE(res) << s.name;
    EXPECT_EQ(res->status, 401) << s.name;
    EXPECT_EQ(res->body, "invalid api key: [REDACTED]") << s.name;
    EXPECT_EQ(res->get_header_value("Content-Type"),
              "text/plain; key=[REDACTED]")
        << s.name;
    const std::string bytes = ClientBytes(res);
    for (const Spelling& t : SingleLayerSpellings(key())) {
      EXPECT_EQ(bytes.find(t.text), std::string::npos) << s.name << t.name;
    }
  }
}

TEST_P(KeyEchoTest, EchoedRequestHeadersAreScrubbed) {
  auto res = Release({.status = 500, .echo_headers = true});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  ExpectNoKey(res, key(), "echoed headers");
  EXPECT_EQ(json::parse(res->body)["X-Api-Key"], "[REDACTED]");
}

TEST_P(KeyEchoTest, AKeyEncodedTwiceWithholdsTheBody) {
  for (const Spelling& s : DoubleLayerSpellings(key())) {
    // The string's value holds the twice-encoded key.
    auto res =
        Release({.status = 200,
                 .body = R"({"success":false,"message":)" +
                         json("key " + s.text + " refused").dump() + "}"});
    ASSERT_TRUE(res) << s.name;
    EXPECT_EQ(res->status, 200) << s.name;
    EXPECT_EQ(res->get_header_value("Content-Type"),
              "application/problem+json");
    ExpectNoKey(res, key(), s.name);
    const json body = json::parse(res->body, nullptr, false);
    EXPECT_EQ(body["reason"], "upstream_response_withheld") << res->body;
    EXPECT_EQ(body["success"], false);
    // The upstream's verdict still decides the audit.
    EXPECT_EQ(gw_->AuditRows().back()["outcome"], "rejected_by_upstream");

    auto text = Release({.status = 401,
                         .body = "invalid key " + s.text,
                         .content_type = "text/plain"});
    ASSERT_TRUE(text) << s.name;
    EXPECT_EQ(text->status, 401);
    ExpectNoKey(text, key(), s.name + " in text");
    EXPECT_EQ(json::parse(text->body)["reason"], "upstream_response_withheld");
  }
}

INSTANTIATE_TEST_SUITE_P(AwkwardKeys, KeyEchoTest,
                         ::testing::ValuesIn(kAwkwardKeys));

}  // namespace
}  // namespace agni::testing
