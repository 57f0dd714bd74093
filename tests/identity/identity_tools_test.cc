// The policy tools and check-config for people who exist only at the identity
// provider (DESIGN.md §10): `POST /v1/policy/explain` with their `groups`, an
// approver explaining a request such a person made (the approval keeps the
// groups their token carried), and check-config's rule for the console's
// sign-in keys, through the real binary.
#include <gtest/gtest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <fstream>

#include "audit/approval_store.h"
#include "tests/support/harness.h"
#include "tests/support/jwt_signer.h"
#include "tests/support/process.h"
#include "tests/support/test_support.h"

namespace agni::testing {
namespace {

using nlohmann::json;

constexpr const char* kIssuer = "https://login.example.com/realms/corp";

json Detail(const httplib::Result& res) {
  json body = json::parse(res->body, nullptr, false);
  return body.is_object() ? body.value("detail", json()) : json();
}

std::int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A gateway that accepts tokens signed by `key_` (kid "k1", from a
// jwks_file), with groups "support" and "telecom-ops" declared.
class ProviderPeopleTest : public ::testing::Test {
 protected:
  GatewayHarness::Options With(GatewayHarness::Options o) {
    std::ofstream(keys_.File("jwks.json"))
        << json{{"keys", {key_.PublicJwk("k1")}}}.dump();
    o.extra_config = {{"groups", {"support", "telecom-ops", "compliance"}},
                      {"identity",
                       {{"oidc",
                         {{{"name", "corp"},
                           {"issuer", kIssuer},
                           {"audiences", {"agni-gateway"}},
                           {"jwks_file", keys_.File("jwks.json")}}}}}}};
    return o;
  }

  std::string Token(const std::string& email,
                    const std::vector<std::string>& groups) const {
    return SignJwt(key_, "RS256", "k1",
                   {{"iss", kIssuer},
                    {"aud", "agni-gateway"},
                    {"email", email},
                    {"groups", groups},
                    {"exp", NowSeconds() + 600}});
  }

  TempDir keys_;
  TestSigningKey key_{TestSigningKey::Type::kRsa};
  FakeUpstream upstream_;
};

TEST_F(ProviderPeopleTest, ExplainTakesTheGroupsOfAPersonAtTheProvider) {
  GatewayHarness gw(With({.upstream_base_url = upstream_.url(),
                          .extra_users = {{"carol", {"compliance"}}}}));
  httplib::Client c = gw.Client();
  const httplib::Headers carol = Bearer(gw.User("carol").token);
  auto allowed = c.Post("/v1/policy/explain", carol,
                        json{{"user", "pia@example.com"},
                             {"groups", {"support"}},
                             {"phone_number", "+15550000001"}}
                            .dump(),
                        "application/json");
  ASSERT_TRUE(allowed);
  ASSERT_EQ(allowed->status, 200) << allowed->body;
  const json body = json::parse(allowed->body);
  EXPECT_EQ(body["decision"], "allow");
  EXPECT_EQ(body["rule_id"], "support-sandbox");
  EXPECT_EQ(body["user"], "pia@example.com");
  EXPECT_EQ(body["groups"], json({"support"}));

  // No groups at all: what a token without any would get.
  auto none = c.Post("/v1/policy/explain", carol,
                     R"({"user":"pia@example.com","groups":[],)"
                     R"("phone_number":"+15550000001"})",
                     "application/json");
  ASSERT_TRUE(none);
  ASSERT_EQ(none->status, 200) << none->body;
  EXPECT_EQ(json::parse(none->body)["decision"], "deny");

  bool audited = false;
  for (const json& row : gw.AuditRows()) {
    audited |=
        row.value("path", "") == "/v1/policy/explain" &&
        row.value("principal", "") == "carol" &&
        row.value("response_status", 0) == 200 &&
        row.value("detail", "").find("pia@example.com") != std::string::npos;
  }
  EXPECT_TRUE(audited);
}

TEST_F(ProviderPeopleTest, ExplainRefusesGroupsItCannotUseWithTheReason) {
  GatewayHarness gw(With({.upstream_base_url = upstream_.url(),
                          .extra_users = {{"carol", {"compliance"}}}}));
  httplib::Client c = gw.Client();
  json too_many = json::array();
  for (int i = 0; i < 65; ++i) too_many.push_back("support");
  struct Case {
    const char* name;
    json user;
    json groups;
    const char* detail;
  } cases[] = {
      {"a string", "pia@example.com", "support",
       "\"groups\" must be an array of group names"},
      {"a number in it",
       "pia@example.com",
       {"support", 7},
       "\"groups\" must be an array of group names"},
      {"a name with a space",
       "pia@example.com",
       {"tele com"},
       "\"groups\" must be an array of group names"},
      {"an empty name",
       "pia@example.com",
       {""},
       "\"groups\" must be an array of group names"},
      {"too many", "pia@example.com", too_many,
       "\"groups\" names more than 64 groups"},
      {"undeclared",
       "pia@example.com",
       {"okta-telecom-ops"},
       "\"groups\": group \"okta-telecom-ops\" is not declared in the config "
       "(declared: compliance, contractors, support, telecom-ops)"},
      {"for a configured user",
       "alice",
       {"telecom-ops"},
       "\"alice\" is a configured user"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    auto res = c.Post("/v1/policy/explain", Bearer(gw.User("carol").token),
                      json{{"user", k.user},
                           {"groups", k.groups},
                           {"phone_number", "+15550000001"}}
                          .dump(),
                      "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    EXPECT_EQ(json::parse(res->body).value("reason", ""), "invalid_request");
    EXPECT_NE(Detail(res).get<std::string>().find(k.detail), std::string::npos)
        << Detail(res);
  }

  // A gateway without identity.oidc has nobody at a provider to explain.
  GatewayHarness plain({.upstream_base_url = upstream_.url(),
                        .extra_users = {{"carol", {"compliance"}}}});
  auto res = plain.Client().Post(
      "/v1/policy/explain", Bearer(plain.User("carol").token),
      R"({"user":"pia@example.com","groups":["support"],)"
      R"("phone_number":"+15550000001"})",
      "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(Detail(res).get<std::string>().find("has no identity.oidc"),
            std::string::npos)
      << res->body;
}

TEST_F(ProviderPeopleTest, AnApproverExplainsARequestByAPersonAtTheProvider) {
  GatewayHarness gw(With(GatewayHarness::ForApprovals(upstream_.url())));
  httplib::Client c = gw.Client();
  const std::string pia = Token("pia@example.com", {"support"});
  auto created = c.Delete(ReleasePath("+14155550123"), Bearer(pia));
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 202) << created->body;
  const std::string id =
      json::parse(created->body)["approval"]["id"].get<std::string>();

  // olga may decide it, so she may see why it needs her.
  auto explained = c.Post("/v1/policy/explain", Bearer(gw.olga().token),
                          json{{"approval_id", id}}.dump(), "application/json");
  ASSERT_TRUE(explained);
  ASSERT_EQ(explained->status, 200) << explained->body;
  const json body = json::parse(explained->body);
  EXPECT_EQ(body["user"], "pia@example.com");
  EXPECT_EQ(body["groups"], json({"support"}));
  EXPECT_EQ(body["decision"], "require_approval");
  EXPECT_EQ(body["rule_id"], "prod-needs-two");
  EXPECT_TRUE(upstream_.Received().empty());
}

TEST(ApprovalStorageTest, RequesterGroupsAreKeptAndOldRowsStillLoad) {
  TempDir dir;
  const std::string path = dir.File("approvals.db");
  {
    // A database written before requester groups were kept: its documents
    // have no such key.
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    policy::Approval old;
    old.id = "apr_old";
    old.requester = "pia@example.com";
    old.phone_number = "+14155550123";
    json doc = policy::ToStorageJson(old);
    ASSERT_FALSE(doc.contains("requester_groups"));
    db.exec(
        "CREATE TABLE approvals (id TEXT PRIMARY KEY, status TEXT NOT NULL, "
        "requester TEXT NOT NULL, phone_number TEXT NOT NULL, rule_key TEXT "
        "NOT NULL, created_us INTEGER NOT NULL, doc TEXT NOT NULL)");
    SQLite::Statement insert(
        db, "INSERT INTO approvals VALUES (?, 'pending', ?, ?, '', 0, ?)");
    insert.bind(1, old.id);
    insert.bind(2, old.requester);
    insert.bind(3, old.phone_number);
    insert.bind(4, doc.dump());
    insert.exec();
  }
  audit::SqliteApprovalStore store(path);
  const std::optional<policy::Approval> old = store.Get("apr_old");
  ASSERT_TRUE(old);
  EXPECT_FALSE(old->requester_groups);

  policy::Approval fresh = *old;
  fresh.id = "apr_new";
  fresh.requester_groups = std::vector<std::string>{"support", "telecom-ops"};
  store.Put(fresh);
  const std::optional<policy::Approval> read = store.Get("apr_new");
  ASSERT_TRUE(read && read->requester_groups);
  EXPECT_EQ(*read->requester_groups,
            (std::vector<std::string>{"support", "telecom-ops"}));
}

// check-config, as an operator runs it, on a provider whose console sign-in
// (client_id) lacks what it needs.
TEST(ProviderCheckConfigTest, AClientIdNeedsItsSecretFileAndRedirectUrl) {
  TempDir dir;
  dir.Write("policy.json", R"({"rules":[]})");
  dir.Write("console-secret", "s3cret");
  auto check = [&](const json& provider) {
    json oidc = {
        {"name", "corp"}, {"issuer", kIssuer}, {"audiences", {"agni-gateway"}}};
    oidc.merge_patch(provider);
    dir.Write("gateway.json",
              json{{"upstream", {{"base_url", "https://api.example.invalid"}}},
                   {"audit", {{"path", "audit.db"}}},
                   {"users", json::array()},
                   {"groups", {"support"}},
                   {"identity", {{"oidc", {oidc}}}},
                   {"policy_file", "policy.json"}}
                  .dump());
    return RunGateway({"check-config", "--config", dir.File("gateway.json")});
  };

  const CommandResult bare = check({{"client_id", "agni-console"}});
  EXPECT_EQ(bare.exit_code, 1) << bare.output;
  for (const char* expected :
       {"$.identity.oidc[0].client_secret_file: required when client_id is "
        "set: the console's sign-in with provider \"corp\" needs",
        "$.identity.oidc[0].redirect_url: required when client_id is set: "
        "the console's sign-in with provider \"corp\" needs"}) {
    EXPECT_NE(bare.output.find(expected), std::string::npos) << bare.output;
  }

  const CommandResult no_url = check({{"client_id", "agni-console"},
                                      {"client_secret_file", "console-secret"},
                                      {"redirect_url", "ftp://agni/cb"}});
  EXPECT_EQ(no_url.exit_code, 1);
  EXPECT_NE(no_url.output.find("$.identity.oidc[0].redirect_url: must be an "
                               "https:// URL"),
            std::string::npos)
      << no_url.output;
  EXPECT_EQ(no_url.output.find("client_secret_file"), std::string::npos);

  const CommandResult complete =
      check({{"client_id", "agni-console"},
             {"client_secret_file", "console-secret"},
             {"redirect_url", "https://agni.example.com/ui/callback"}});
  EXPECT_EQ(complete.exit_code, 0) << complete.output;
  EXPECT_NE(complete.output.find("OK"), std::string::npos);
  // Without a console sign-in neither is needed.
  EXPECT_EQ(check(json::object()).exit_code, 0);
}

}  // namespace
}  // namespace agni::testing
