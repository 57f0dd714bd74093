#include "gateway/cli/policy_cli.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "audit/read/history.h"
#include "gateway/config/config.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/pipeline/policy_tools.h"

namespace agni {
namespace {

using nlohmann::json;

// Loads the config as `serve` would; prints every error on failure.
std::optional<Config> LoadChecked(const std::string& path, std::ostream& err) {
  ConfigLoad load = LoadConfig(path);
  if (!load.errors.empty()) {
    for (const ConfigError& e : load.errors) {
      err << "error: " << e.path << ": " << e.message << "\n";
    }
    return std::nullopt;
  }
  return std::move(load.config);
}

std::shared_ptr<const AccessSnapshot> LoadAccess(const std::string& path,
                                                 std::ostream& err) {
  std::optional<Config> config = LoadChecked(path, err);
  if (!config) return nullptr;
  return std::make_shared<const AccessSnapshot>(*config);
}

std::string Describe(const policy::Decision& d) {
  return std::string(policy::EffectName(d.effect)) + " (rule " + d.rule_id +
         ")";
}

std::string ShadowOf(const policy::Decision& d) {
  if (!d.shadow_matched) return "none";
  return std::string(policy::EffectName(d.shadow_effect)) + ":" +
         d.shadow_rule_id;
}

// A case's "groups": an array of strings, or nullopt.
std::optional<std::vector<std::string>> ProviderGroups(const json& value) {
  if (!value.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const json& g : value) {
    if (!g.is_string()) return std::nullopt;
    out.push_back(g.get<std::string>());
  }
  return out;
}

}  // namespace

int PolicyExplain(const std::string& config_path, const std::string& user,
                  const std::string& phone,
                  const std::optional<std::string>& at,
                  const std::optional<std::string>& from,
                  const std::optional<std::vector<std::string>>& groups,
                  std::ostream& out, std::ostream& err,
                  const WallClock& clock) {
  std::optional<Config> config = LoadChecked(config_path, err);
  if (!config) return kPolicyExitUsage;
  const AccessSnapshot access(*config);
  if (groups) {
    if (std::string problem = ProviderGroupsProblem(access, *groups);
        !problem.empty()) {
      err << "error: --groups: " << problem << "\n";
      return kPolicyExitUsage;
    }
  }
  const ExplainResult r =
      ExplainQueryAgainst(access, {user, phone, at, from, groups}, clock());
  if (!r.error.empty()) {
    err << "error: " << r.error << "\n";
    return kPolicyExitUsage;
  }
  out << r.body << "\n";
  return kPolicyExitOk;
}

int PolicyTest(const std::string& config_path, const std::string& cases_path,
               std::ostream& out, std::ostream& err, const WallClock& clock) {
  std::optional<Config> config = LoadChecked(config_path, err);
  if (!config) return kPolicyExitUsage;
  const auto access = std::make_shared<const AccessSnapshot>(*config);
  std::ifstream in(cases_path, std::ios::binary);
  if (!in) {
    err << "error: cannot read cases file \"" << cases_path << "\"\n";
    return kPolicyExitUsage;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  json doc = json::parse(buf.str(), nullptr, false);
  if (doc.is_object() && doc.contains("cases")) doc = doc["cases"];
  if (doc.is_discarded() || !doc.is_array() || doc.empty()) {
    err << "error: " << cases_path
        << ": must be {\"cases\": [...]} or a non-empty array of cases\n";
    return kPolicyExitUsage;
  }

  int failed = 0, malformed = 0;
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const json& c = doc[i];
    std::string name = "case " + std::to_string(i + 1);
    auto field = [&](const char* key) -> std::optional<std::string> {
      if (!c.is_object() || !c.contains(key) || !c[key].is_string()) {
        return std::nullopt;
      }
      return c[key].get<std::string>();
    };
    if (auto n = field("name")) name += " (" + *n + ")";
    std::string bad;
    std::optional<std::vector<std::string>> groups;
    if (!c.is_object()) {
      bad = "must be an object";
    } else {
      for (const auto& [key, value] : c.items()) {
        static const std::set<std::string> kKeys = {"name", "user",   "number",
                                                    "time", "source", "expect",
                                                    "rule", "shadow", "groups"};
        if (!kKeys.contains(key)) {
          bad = "unknown key \"" + key + "\"";
        } else if (key == "groups") {
          groups = ProviderGroups(value);
          if (!groups) {
            bad = "\"groups\" must be an array of group names";
          } else if (std::string problem =
                         ProviderGroupsProblem(*access, *groups);
                     !problem.empty()) {
            bad = "\"groups\": " + problem;
          }
        } else if (!value.is_string()) {
          bad = "\"" + key + "\" must be a string";
        }
      }
    }
    const auto expect = field("expect");
    if (bad.empty() && (!field("user") || !field("number") || !expect)) {
      bad = "\"user\", \"number\" and \"expect\" are required";
    }
    if (bad.empty() && *expect != "allow" && *expect != "deny") {
      bad = "\"expect\" must be \"allow\" or \"deny\"";
    }
    ExplainResult r;
    if (bad.empty()) {
      r = ExplainQueryAgainst(*access,
                              {*field("user"), *field("number"), field("time"),
                               field("source"), groups},
                              clock());
      bad = r.error;
    }
    if (!bad.empty()) {
      ++malformed;
      err << "error: " << name << ": " << bad << "\n";
      continue;
    }
    std::string mismatch;
    const std::string got_effect(policy::EffectName(r.decision.effect));
    const auto rule = field("rule");
    const auto shadow = field("shadow");
    if (got_effect != *expect || (rule && *rule != r.decision.rule_id)) {
      mismatch = "expected " + *expect + (rule ? " (rule " + *rule + ")" : "") +
                 ", got " + Describe(r.decision);
    } else if (shadow && *shadow != ShadowOf(r.decision)) {
      mismatch =
          "expected shadow " + *shadow + ", got shadow " + ShadowOf(r.decision);
    }
    if (!mismatch.empty()) {
      ++failed;
      out << "FAIL " << name << ": " << *field("user") << " "
          << *field("number") << ": " << mismatch << "\n";
    }
  }
  out << doc.size() << " cases, " << (doc.size() - failed - malformed)
      << " passed, " << failed << " failed";
  if (malformed > 0) out << ", " << malformed << " malformed";
  out << " (policy " << access->policy->hash.substr(0, 12) << ")\n";
  if (malformed > 0) return kPolicyExitUsage;
  return failed > 0 ? kPolicyExitMismatch : kPolicyExitOk;
}

int PolicyReplay(const std::string& config_path, const std::string& db_path,
                 std::ostream& out, std::ostream& err) {
  auto access = LoadAccess(config_path, err);
  if (!access) return kPolicyExitUsage;
  std::vector<audit::DecisionRow> rows;
  try {
    rows = audit::ReleaseDecisions(db_path);
  } catch (const std::exception& e) {
    err << "error: " << e.what() << "\n";
    return kPolicyExitUsage;
  }
  // The candidate with its shadow rules promoted: what enforcing them would
  // change on the same history.
  policy::Policy promoted = *access->policy;
  for (policy::Rule& r : promoted.rules) r.mode = policy::Mode::kEnforce;
  std::size_t changed = 0, rule_changed = 0, skipped = 0, shadow_changed = 0;
  for (const audit::DecisionRow& row : rows) {
    auto time = policy::ParseTimestamp(row.time);
    if (!time) {
      ++skipped;
      continue;
    }
    // The decision is judged as it was made: the recorded groups, time and
    // peer address; the candidate's rules and inventory.
    const policy::Request request =
        MakePolicyRequest(*access, row.principal, row.groups, row.phone_number,
                          *time, policy::IpAddress::Parse(row.peer));
    const policy::Decision now = policy::Evaluate(*access->policy, request);
    const std::string now_effect(policy::EffectName(now.effect));
    if (now_effect != row.decision) {
      ++changed;
      out << "seq " << row.seq << "  " << row.time << "  " << row.principal
          << "  " << row.phone_number << ": " << row.decision << " (rule "
          << (row.rule_id.empty() ? "-" : row.rule_id) << ") -> "
          << Describe(now) << "\n";
    } else if (now.rule_id != row.rule_id) {
      ++rule_changed;
    }
    if (policy::Evaluate(promoted, request).effect != now.effect) {
      ++shadow_changed;
    }
  }
  out << rows.size() << " recorded release decisions replayed against policy "
      << access->policy->hash.substr(0, 12) << ": " << changed
      << " would change decision, " << rule_changed
      << " same decision by another rule";
  if (skipped > 0) out << ", " << skipped << " skipped (unreadable time)";
  out << "\n";
  if (shadow_changed > 0) {
    out << "enforcing the candidate's shadow rules as well would change the "
           "decision of "
        << shadow_changed << " of them\n";
  }
  return changed > 0 ? kPolicyExitChanged : kPolicyExitOk;
}

}  // namespace agni
