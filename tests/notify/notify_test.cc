// approvals.notify[] channels against local receivers: the Slack message is
// Block Kit, the Teams message an Adaptive Card in the incoming-webhook
// envelope, the webhook is signed; a receiver that is down is retried and
// counted per channel, a full queue drops and counts; check-config catches
// bad channels without repeating a secret URL.
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <set>

#include "base/crypto.h"
#include "gateway/config/config.h"
#include "gateway/notify/channel.h"
#include "gateway/notify/payloads.h"
#include "tests/support/harness.h"
#include "tests/support/helpers.h"
#include "tests/support/receiver.h"

namespace agni::testing {
namespace {

using nlohmann::json;

constexpr const char* kNumber = "+14156660100";
constexpr const char* kSecret = "notify-secret-0123456789";
constexpr const char* kConsole = "https://agni.example.com";

// A Slack text object: mrkdwn or plain_text with a non-empty text.
void ExpectSlackText(const json& t) {
  ASSERT_TRUE(t.is_object()) << t;
  const std::string type = t.value("type", "");
  EXPECT_TRUE(type == "mrkdwn" || type == "plain_text") << t;
  ASSERT_TRUE(t.contains("text") && t["text"].is_string()) << t;
  EXPECT_FALSE(t["text"].get<std::string>().empty());
  EXPECT_LE(t["text"].get<std::string>().size(), 3000u);  // Slack's limit
}

// https://api.slack.com/reference/block-kit/blocks: section (text and/or
// at most 10 fields) and context (elements) blocks, plus the `text`
// fallback of an incoming webhook.
void ExpectBlockKit(const json& message) {
  ASSERT_TRUE(message.contains("text") && message["text"].is_string());
  EXPECT_FALSE(message["text"].get<std::string>().empty());
  ASSERT_TRUE(message.contains("blocks") && message["blocks"].is_array());
  ASSERT_FALSE(message["blocks"].empty());
  EXPECT_LE(message["blocks"].size(), 50u);
  for (const json& block : message["blocks"]) {
    const std::string type = block.value("type", "");
    if (type == "section") {
      ASSERT_TRUE(block.contains("text") || block.contains("fields")) << block;
      if (block.contains("text")) ExpectSlackText(block["text"]);
      if (block.contains("fields")) {
        ASSERT_TRUE(block["fields"].is_array());
        EXPECT_LE(block["fields"].size(), 10u);
        for (const json& f : block["fields"]) ExpectSlackText(f);
      }
    } else if (type == "context") {
      ASSERT_TRUE(block["elements"].is_array());
      ASSERT_FALSE(block["elements"].empty());
      for (const json& e : block["elements"]) ExpectSlackText(e);
    } else {
      ADD_FAILURE() << "unexpected block type: " << block;
    }
  }
}

// https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/
// how-to/connectors-using: {"type":"message","attachments":[{"contentType":
// "application/vnd.microsoft.card.adaptive","content":{AdaptiveCard}}]}.
void ExpectTeamsAdaptiveCard(const json& message) {
  EXPECT_EQ(message.value("type", ""), "message");
  ASSERT_TRUE(message["attachments"].is_array());
  ASSERT_EQ(message["attachments"].size(), 1u);
  const json& a = message["attachments"][0];
  EXPECT_EQ(a.value("contentType", ""),
            "application/vnd.microsoft.card.adaptive");
  const json& card = a["content"];
  EXPECT_EQ(card.value("type", ""), "AdaptiveCard");
  EXPECT_EQ(card.value("$schema", ""),
            "http://adaptivecards.io/schemas/adaptive-card.json");
  EXPECT_FALSE(card.value("version", "").empty());
  ASSERT_TRUE(card["body"].is_array());
  ASSERT_FALSE(card["body"].empty());
  for (const json& element : card["body"]) {
    const std::string type = element.value("type", "");
    EXPECT_TRUE(type == "TextBlock" || type == "FactSet") << element;
    if (type == "TextBlock") {
      EXPECT_TRUE(element["text"].is_string());
    }
    if (type == "FactSet") {
      for (const json& f : element["facts"]) {
        EXPECT_TRUE(f["title"].is_string() && f["value"].is_string()) << f;
      }
    }
  }
}

// Every text a person reads in a Slack message, joined.
std::string SlackTexts(const json& message) {
  std::string out = message["text"];
  for (const json& block : message["blocks"]) {
    if (block.contains("text")) {
      out += '\n';
      out += block["text"]["text"].get<std::string>();
    }
    for (const char* list : {"fields", "elements"}) {
      if (!block.contains(list)) continue;
      for (const json& t : block[list]) {
        out += '\n';
        out += t["text"].get<std::string>();
      }
    }
  }
  return out;
}

class NotifyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("AGNI_TEST_NOTIFY_SECRET", kSecret, 1);
  }
  void StartGateway(json notify) {
    auto o = GatewayHarness::ForApprovals(upstream_.url());
    o.clock = clock_.Function();
    o.approvals_config = {{"notify", std::move(notify)}};
    o.inventory_json = R"({"+14156660100": {"env": "prod", "team": "sales"}})";
    o.extra_config = {{"console", {{"public_url", kConsole}}}};
    gw_ = std::make_unique<GatewayHarness>(std::move(o));
  }
  httplib::Headers As(const std::string& user) {
    return Bearer(gw_->User(user).token);
  }
  std::string RequestApproval() {
    httplib::Headers h = As("alice");
    h.emplace("X-Release-Reason", "OPS-7 <!channel> & co");
    auto res = gw_->Client().Delete(ReleasePath(kNumber), h);
    EXPECT_EQ(res->status, 202) << res->body;
    return json::parse(res->body)["approval"]["id"];
  }
  double Counter(const std::string& channel, const std::string& result) {
    return MetricValue(gw_->Metrics(),
                       "agni_gateway_notifications_total{channel=\"" + channel +
                           "\",result=\"" + result + "\"}")
        .value_or(-1);
  }
  void WaitForCounter(const std::string& channel, const std::string& result,
                      double at_least) {
    for (int i = 0; i < 400 && Counter(channel, result) < at_least; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }

  FakeUpstream upstream_;
  Receiver receiver_;
  TempDir secrets_;
  FakeClock clock_{
      FakeClock::TimePoint(std::chrono::microseconds(1'800'000'000'000'000))};
  std::unique_ptr<GatewayHarness> gw_;
};

TEST_F(NotifyTest, SlackGetsBlockKitWithWhoNumberLabelsRuleReasonVotesAndLink) {
  // The URL from a file: chat webhooks carry their credential in it.
  const std::string url_file =
      secrets_.Write("slack.url", receiver_.url("/services/T0/B0/xyz") + "\n");
  StartGateway(json::array({{{"type", "slack"}, {"url_file", url_file}}}));
  const std::string id = RequestApproval();
  ASSERT_EQ(gw_->Client()
                .Post("/v1/approvals/" + id + "/approve", As("olga"), "",
                      "application/json")
                ->status,
            200);
  const auto got = receiver_.WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].path, "/services/T0/B0/xyz");
  EXPECT_EQ(got[0].content_type, "application/json");
  EXPECT_TRUE(got[0].signature.empty());  // only webhooks are signed
  const json created = got[0].json();
  ExpectBlockKit(created);
  const std::string texts = SlackTexts(created);
  for (const std::string& want :
       {std::string("alice"), std::string(kNumber), std::string("env=prod"),
        std::string("team=sales"), std::string("prod-needs-two"),
        std::string("0 of 2 approvals"), id,
        std::string("<https://agni.example.com/ui/?approval=") + id +
            "|Open in the console>"}) {
    EXPECT_NE(texts.find(want), std::string::npos) << want << "\n" << texts;
  }
  // The requester's reason cannot ping a channel or forge a link.
  EXPECT_NE(texts.find("OPS-7 &lt;!channel&gt; &amp; co"), std::string::npos);
  EXPECT_EQ(texts.find("<!channel>"), std::string::npos);
  const json approved = got[1].json();
  ExpectBlockKit(approved);
  EXPECT_NE(SlackTexts(approved).find("1 of 2 approvals: olga"),
            std::string::npos);
  EXPECT_NE(SlackTexts(approved).find("approved by olga"), std::string::npos);
  WaitForCounter("slack", "delivered", 2);
  EXPECT_EQ(Counter("slack", "delivered"), 2);
}

TEST_F(NotifyTest, TeamsGetsAnAdaptiveCardInTheMessageEnvelope) {
  StartGateway(json::array({{{"type", "teams"},
                             {"name", "teams-ops"},
                             {"url", receiver_.url("/t")}}}));
  const std::string id = RequestApproval();
  const auto got = receiver_.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  const json message = got[0].json();
  ExpectTeamsAdaptiveCard(message);
  const json& card = message["attachments"][0]["content"];
  std::map<std::string, std::string> facts;
  for (const json& element : card["body"]) {
    if (element["type"] != "FactSet") continue;
    for (const json& f : element["facts"]) facts[f["title"]] = f["value"];
  }
  EXPECT_EQ(facts["Who"], "alice");
  EXPECT_EQ(facts["Number"], kNumber);
  EXPECT_EQ(facts["Labels"], "env=prod, team=sales");
  EXPECT_EQ(facts["Rule"], "prod-needs-two");
  // Markdown there: the reason's markup characters are escaped.
  EXPECT_EQ(facts["Reason"], "OPS-7 \\<\\!channel\\> \\& co");
  EXPECT_EQ(facts["Votes"], "0 of 2 approvals");
  ASSERT_TRUE(card["actions"].is_array());
  EXPECT_EQ(card["actions"][0]["type"], "Action.OpenUrl");
  EXPECT_EQ(card["actions"][0]["url"],
            std::string(kConsole) + "/ui/?approval=" + id);
  WaitForCounter("teams-ops", "delivered", 1);
  EXPECT_EQ(Counter("teams-ops", "delivered"), 1);
}

TEST_F(NotifyTest, WebhookChannelIsSignedAndEveryChannelGetsEveryEvent) {
  StartGateway(
      json::array({{{"type", "webhook"},
                    {"name", "siem"},
                    {"url", receiver_.url("/hook")},
                    {"secret_env", "AGNI_TEST_NOTIFY_SECRET"}},
                   {{"type", "slack"}, {"url", receiver_.url("/slack")}}}));
  const std::string id = RequestApproval();
  const auto got = receiver_.WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  const Delivery& hook = got[0].path == "/hook" ? got[0] : got[1];
  const Delivery& slack = got[0].path == "/hook" ? got[1] : got[0];
  EXPECT_EQ(slack.path, "/slack");
  const std::size_t comma = hook.signature.find(",v1=");
  ASSERT_TRUE(hook.signature.starts_with("t=") && comma != std::string::npos)
      << hook.signature;
  const long long t = std::stoll(hook.signature.substr(2, comma - 2));
  EXPECT_TRUE(ConstantTimeEquals(hook.signature.substr(comma + 4),
                                 WebhookSignature(kSecret, t, hook.body)));
  EXPECT_FALSE(ConstantTimeEquals(
      hook.signature.substr(comma + 4),
      WebhookSignature("another-secret-12345", t, hook.body)));
  const json event = hook.json();
  EXPECT_EQ(event["type"], "approval.created");
  EXPECT_EQ(event["approval"]["id"], id);
  EXPECT_EQ(event["labels"]["team"], "sales");
  EXPECT_EQ(event["link"], std::string(kConsole) + "/ui/?approval=" + id);
  for (const Delivery& d : got) {
    EXPECT_EQ(d.body.find(gw_->User("alice").token), std::string::npos);
  }
}

TEST_F(NotifyTest, ADownReceiverIsRetriedThenCountedAsFailedPerChannel) {
  const int dead = FreePort();  // bound and released: nothing listens
  StartGateway(
      json::array({{{"type", "slack"},
                    {"url", "http://127.0.0.1:" + std::to_string(dead) + "/s"},
                    {"max_attempts", 3},
                    {"initial_backoff", "10ms"}},
                   {{"type", "teams"}, {"url", receiver_.url("/t")}}}));
  RequestApproval();
  WaitForCounter("slack", "failed", 1);
  EXPECT_EQ(Counter("slack", "failed"), 1);
  EXPECT_EQ(Counter("slack", "retried"), 2);  // 3 attempts: 2 retries
  EXPECT_EQ(Counter("slack", "delivered"), 0);
  // The other channel is not affected.
  EXPECT_EQ(receiver_.WaitFor(1).size(), 1u);
  WaitForCounter("teams", "delivered", 1);
  EXPECT_EQ(Counter("teams", "delivered"), 1);
  EXPECT_EQ(Counter("teams", "failed"), 0);
}

TEST_F(NotifyTest, AFullQueueDropsTheOldestAndCountsIt) {
  receiver_.Hold(true);
  StartGateway(json::array({{{"type", "slack"},
                             {"url", receiver_.url("/s")},
                             {"max_queue", 1},
                             {"timeout", "10s"}}}));
  RequestApproval();  // in delivery, held
  ASSERT_GE(receiver_.WaitArrived(1), 1);
  const std::string id = RequestApproval();  // same request again: no event
  for (const char* user : {"olga", "oscar"}) {
    ASSERT_EQ(gw_->Client()
                  .Post("/v1/approvals/" + id + "/approve", As(user), "",
                        "application/json")
                  ->status,
              200);
  }
  // Two events for a queue of one while the first is held: one dropped.
  EXPECT_EQ(Counter("slack", "dropped"), 1);
  receiver_.Hold(false);
  EXPECT_GE(receiver_.WaitFor(2).size(), 2u);
}

// A gateway.json with one static user, policy.json and `approvals`.
json ConfigWith(const json& approvals) {
  return {{"audit", {{"path", "audit.db"}}},
          {"users",
           {{{"name", "alice"},
             {"groups", {"support"}},
             {"token_sha256", std::string(64, 'a')}}}},
          {"policy_file", "policy.json"},
          {"approvals", approvals}};
}

// check-config: every bad channel reported with its path; a URL read from a
// file is never repeated in a message.
TEST(NotifyConfig, BadChannelsAreConfigErrorsThatNeverShowTheUrl) {
  TempDir dir;
  dir.Write("policy.json", R"({"rules":[]})");
  dir.Write("slack.url", "http://hooks.slack.example/services/SECRET-PART\n");
  dir.Write("hook.key", "0123456789abcdef-secret\n");
  const json config = ConfigWith(
      {{"webhook",
        {{"url", "http://127.0.0.1:1/hook"}, {"secret_file", "hook.key"}}},
       {"notify",
        {{{"type", "slack"}, {"url_file", "slack.url"}},
         {{"type", "teams"},
          {"url", "https://x.example/t"},
          {"secret_file", "hook.key"}},
         {{"type", "webhook"}, {"url", "https://x.example/w"}},
         {{"type", "webhook"},
          {"url", "https://x.example/w2"},
          {"secret_file", "hook.key"}},
         {{"type", "pager"}, {"url", "https://x.example/p"}, {"name", "p"}},
         {{"type", "slack"},
          {"name", "ok"},
          {"url", "https://x.example/s"},
          {"url_file", "slack.url"}},
         {{"type", "slack"},
          {"name", "fine"},
          {"url", "https://hooks.slack.com/services/T/B/C"}}}}});
  const ConfigLoad load = LoadConfig(dir.Write("gateway.json", config.dump()));
  std::set<std::string> paths;
  for (const auto& e : load.errors) {
    paths.insert(e.path);
    EXPECT_EQ(e.message.find("SECRET-PART"), std::string::npos) << e.message;
  }
  EXPECT_TRUE(paths.contains("$.approvals.notify[0].url_file"));  // not https
  EXPECT_TRUE(
      paths.contains("$.approvals.notify[1]"));  // slack/teams: no secret
  EXPECT_TRUE(paths.contains("$.approvals.notify[2]"));  // webhook: needs one
  EXPECT_TRUE(paths.contains("$.approvals.notify[3].name"));  // "webhook" taken
  EXPECT_TRUE(paths.contains("$.approvals.notify[4].type"));
  EXPECT_TRUE(paths.contains("$.approvals.notify[5].url"));  // url and url_file
  for (const std::string& p : paths) {
    EXPECT_FALSE(p.starts_with("$.approvals.notify[6]")) << p;
  }
}

TEST(NotifyConfig, TheOlderWebhookBlockIsTheChannelNamedWebhook) {
  TempDir dir;
  dir.Write("policy.json", R"({"rules":[]})");
  dir.Write("hook.key", "0123456789abcdef-secret\n");
  const json config = ConfigWith(
      {{"webhook",
        {{"url", "https://hooks.example.com/agni"},
         {"secret_file", "hook.key"}}},
       {"notify",
        {{{"type", "slack"}, {"url", "https://hooks.slack.com/x"}}}}});
  const ConfigLoad load = LoadConfig(dir.Write("gateway.json", config.dump()));
  ASSERT_TRUE(load.errors.empty())
      << load.errors[0].path << ": " << load.errors[0].message;
  const auto& notify = load.config->approvals.notify;
  ASSERT_EQ(notify.size(), 2u);
  EXPECT_EQ(notify[0].name, "webhook");
  EXPECT_EQ(notify[0].type, NotifyChannelConfig::Type::kWebhook);
  EXPECT_EQ(notify[0].delivery.secret, "0123456789abcdef-secret");
  EXPECT_EQ(notify[1].name, "slack");
  EXPECT_EQ(load.config->approvals.reviews_path,
            (dir.path() / "reviews.db").string());
}

TEST(NotifyPayloads, ABreakGlassEventNamesTheActorReasonAndReview) {
  const json event = {{"type", "break_glass"},
                      {"actor", "otto"},
                      {"reason", "INC-42"},
                      {"labels", {{"env", "prod"}}},
                      {"link", "https://agni.example.com/ui/?review=rev_1"},
                      {"review",
                       {{"id", "rev_1"},
                        {"actor", "otto"},
                        {"phone_number", kNumber},
                        {"rule_id", "oncall"},
                        {"reason", "INC-42"},
                        {"from_groups", {"telecom-ops"}},
                        {"due_at", "2027-01-15T09:00:00Z"}}}};
  const json slack = SlackMessage(event);
  ExpectBlockKit(slack);
  const std::string texts = SlackTexts(slack);
  EXPECT_NE(texts.find("BREAK-GLASS release by otto"), std::string::npos);
  EXPECT_NE(texts.find("review by telecom-ops due 2027-01-15T09:00:00Z"),
            std::string::npos);
  EXPECT_NE(texts.find("INC-42"), std::string::npos);
  ExpectTeamsAdaptiveCard(TeamsMessage(event));
  EXPECT_EQ(ChannelBody(NotifyChannelConfig::Type::kWebhook, event),
            event.dump());
}

// What a CommonMark renderer (Teams' TextBlock and FactSet) shows for
// `markdown`: the text with the backslash of each escape removed. A
// character that could start markup left bare, or a line break, fails.
std::string ShownLiterally(const std::string& markdown) {
  static constexpr std::string_view kMarkup = "\\`*_~[]()<>#|!&{}";
  std::string out;
  for (std::size_t i = 0; i < markdown.size(); ++i) {
    const char c = markdown[i];
    if (c == '\\' && i + 1 < markdown.size() &&
        std::ispunct(static_cast<unsigned char>(markdown[i + 1]))) {
      out.push_back(markdown[++i]);
      continue;
    }
    EXPECT_EQ(kMarkup.find(c), std::string_view::npos)
        << "bare '" << c << "' in " << markdown;
    EXPECT_NE(c, '\n') << markdown;
    out.push_back(c);
  }
  return out;
}

TEST(NotifyPayloads, TeamsShowsHostileNamesLabelsAndReasonsLiterally) {
  const std::string reason =
      "*bold* _it_ [x](https://evil.example) <at>everyone</at> ~~s~~ `c` "
      "# h | t &amp; \\ !";
  const std::string who = "<at>Eve</at>_**";
  const json event = {
      {"type", "approval.created"},
      {"actor", who},
      {"labels", {{"team", "[sales](https://evil.example)"}, {"env", "*"}}},
      {"link", "https://agni.example.com/ui/?approval=apr_1"},
      {"approval",
       {{"id", "apr_1"},
        {"requester", who},
        {"phone_number", kNumber},
        {"rule_id", "prod_[1]"},
        {"release_reason", reason},
        {"approvals", {{{"user", "**olga**"}}}},
        {"required", {{{"approvals", 2}}}}}}};
  const json message = TeamsMessage(event);
  ExpectTeamsAdaptiveCard(message);
  const json& card = message["attachments"][0]["content"];
  EXPECT_EQ(ShownLiterally(card["body"][0]["text"]),
            std::string("Release approval requested by ") + who);
  std::map<std::string, std::string> facts;
  for (const json& f : card["body"][1]["facts"]) {
    facts[f["title"]] = ShownLiterally(f["value"]);
  }
  EXPECT_EQ(facts["Who"], who);
  EXPECT_EQ(facts["Reason"], reason);
  EXPECT_EQ(facts["Labels"], "env=*, team=[sales](https://evil.example)");
  EXPECT_EQ(facts["Rule"], "prod_[1]");
  EXPECT_EQ(facts["Votes"], "1 of 2 approvals: **olga**");
  EXPECT_EQ(facts["Number"], kNumber);
  EXPECT_EQ(card["body"][1]["facts"][4]["value"],
            "\\*bold\\* \\_it\\_ \\[x\\]\\(https://evil.example\\) "
            "\\<at\\>everyone\\</at\\> \\~\\~s\\~\\~ \\`c\\` \\# h "
            "\\| t \\&amp; \\\\ \\!");
  // The console link is the config's, not markdown: left as it is.
  EXPECT_EQ(card["actions"][0]["url"],
            "https://agni.example.com/ui/?approval=apr_1");
}

TEST(NotifyPayloads, TeamsTextNeverStartsAListOrARuleOrBreaksALine) {
  EXPECT_EQ(TeamsEscape("- x"), "\\- x");
  EXPECT_EQ(TeamsEscape("+"), "\\+");
  EXPECT_EQ(TeamsEscape("---"), "\\---");
  EXPECT_EQ(TeamsEscape("12. x"), "12\\. x");
  EXPECT_EQ(TeamsEscape("3)"), "3\\)");
  EXPECT_EQ(TeamsEscape("a\nb\r\n- c"), "a b  - c");
  // What is not markup stays as it is.
  EXPECT_EQ(TeamsEscape("+14155550100"), "+14155550100");
  EXPECT_EQ(TeamsEscape("2027-01-15T09:00:00Z"), "2027-01-15T09:00:00Z");
  EXPECT_EQ(TeamsEscape("12.5 percent"), "12.5 percent");
  EXPECT_EQ(TeamsEscape("env=prod, team=sales"), "env=prod, team=sales");
}

}  // namespace
}  // namespace agni::testing
