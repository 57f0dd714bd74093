#include "policies/load/rule_conditions_loader.h"

#include <set>

#include "base/ascii.h"

namespace agni::policy {
namespace {

bool IsLimitId(std::string_view id) { return IsAsciiWord(id, 64, "-_."); }

void ReadWindow(const nlohmann::json& value, const std::string& path,
                ConfigErrors& errors, Rule& rule) {
  ObjectReader w(value, path, errors, {"time_zone", "days", "hours"});
  if (!w.ok()) return;
  TimeWindow window;
  if (auto zone = w.String("time_zone", true)) {
    window.zone_name = *zone;
    window.zone = FindZone(*zone);
    if (window.zone == nullptr) {
      w.Error(w.PathOf("time_zone"),
              "unknown IANA time zone \"" + *zone +
                  "\" (e.g. \"Europe/Berlin\", \"America/New_York\", "
                  "\"UTC\"; the system tz database is /usr/share/zoneinfo)");
    }
  }
  if (auto days = w.StringList("days", false)) {
    window.days = 0;
    for (std::size_t k = 0; k < days->size(); ++k) {
      if (auto d = ParseWeekday((*days)[k])) {
        window.days |= 1u << *d;
      } else {
        w.Error(w.PathOf("days") + "[" + std::to_string(k) + "]",
                "must be one of \"mon\" \"tue\" \"wed\" \"thu\" \"fri\" "
                "\"sat\" \"sun\", got \"" +
                    (*days)[k] + "\"");
      }
    }
  }
  if (auto hours = w.StringList("hours", false)) {
    for (std::size_t k = 0; k < hours->size(); ++k) {
      if (auto range = ParseHourRange((*hours)[k])) {
        window.hours.push_back(*range);
      } else {
        w.Error(w.PathOf("hours") + "[" + std::to_string(k) + "]",
                "must be \"HH:MM-HH:MM\" in 24-hour local time (an end "
                "before the start runs over midnight), got \"" +
                    (*hours)[k] + "\"");
      }
    }
  }
  for (std::string_view key : {"days", "hours"}) {
    const nlohmann::json* v = w.Get(key);
    if (v != nullptr && v->is_array() && v->empty()) {
      w.Error(w.PathOf(key), "must not be empty (omit the key for any)");
    }
  }
  rule.when.push_back(std::move(window));
}

}  // namespace

void ReadRuleConditions(ObjectReader& r, Rule& rule) {
  if (const nlohmann::json* labels = r.Get("labels")) {
    if (!labels->is_object() || labels->empty()) {
      r.Error(r.PathOf("labels"),
              "must be a non-empty object of label -> string value");
    } else {
      for (const auto& [k, v] : labels->items()) {
        if (!v.is_string()) {
          r.Error(r.PathOf("labels") + "." + k, "must be a string");
        } else {
          rule.labels[k] = v.get<std::string>();
        }
      }
    }
  }
  if (const nlohmann::json* when = r.Get("when")) {
    // One window, or a list of windows of which any may match.
    if (when->is_object()) {
      ReadWindow(*when, r.PathOf("when"), r.errors(), rule);
    } else if (when->is_array() && !when->empty()) {
      for (std::size_t i = 0; i < when->size(); ++i) {
        ReadWindow((*when)[i], r.PathOf("when") + "[" + std::to_string(i) + "]",
                   r.errors(), rule);
      }
    } else {
      r.Error(r.PathOf("when"),
              "must be a time window {\"time_zone\", \"days\", \"hours\"} or "
              "a non-empty array of them");
    }
  }
  if (auto cidrs = r.StringList("source_cidrs", false)) {
    if (cidrs->empty()) {
      r.Error(r.PathOf("source_cidrs"),
              "must not be empty (omit the key to match any source)");
    }
    for (std::size_t k = 0; k < cidrs->size(); ++k) {
      if (auto c = Cidr::Parse((*cidrs)[k])) {
        rule.source_cidrs.push_back(std::move(*c));
      } else {
        r.Error(r.PathOf("source_cidrs") + "[" + std::to_string(k) + "]",
                "must be an IPv4 or IPv6 address or range with zero host bits "
                "(\"10.0.0.0/8\", \"2001:db8::/32\"), got \"" +
                    (*cidrs)[k] + "\"");
      }
    }
  }
}

void ReadPolicyLimits(ObjectReader& top, Policy& policy) {
  if (auto deny = top.Bool("deny_unlisted_numbers")) {
    policy.deny_unlisted_numbers = *deny;
  }
  const nlohmann::json* limits = top.Get("limits");
  if (limits == nullptr) return;
  if (!limits->is_array() || limits->empty()) {
    top.Error(top.PathOf("limits"),
              "must be a non-empty array of limits (omit the key for none)");
    return;
  }
  std::set<std::string, std::less<>> ids;
  for (std::size_t i = 0; i < limits->size(); ++i) {
    ObjectReader l((*limits)[i],
                   top.PathOf("limits") + "[" + std::to_string(i) + "]",
                   top.errors(), {"id", "per", "max", "window", "description"});
    if (!l.ok()) continue;
    Limit limit;
    if (auto id = l.String("id", true)) {
      if (!IsLimitId(*id)) {
        l.Error(l.PathOf("id"), "must be 1-64 characters of [A-Za-z0-9._-]");
      } else if (!ids.insert(*id).second) {
        l.Error(l.PathOf("id"), "duplicate limit id \"" + *id + "\"");
      }
      limit.id = *id;
    }
    l.String("description", false);
    if (auto per = l.String("per", true)) {
      if (*per == "user") {
        limit.per = Limit::Per::kUser;
      } else if (*per == "group") {
        limit.per = Limit::Per::kGroup;
      } else if (*per == "global") {
        limit.per = Limit::Per::kGlobal;
      } else {
        l.Error(l.PathOf("per"), "must be \"user\", \"group\" or \"global\"");
      }
    }
    if (!l.Has("max")) l.Error(l.PathOf("max"), "is required");
    if (auto max = l.Integer("max", 1, 1000000)) {
      limit.max = static_cast<int>(*max);
    }
    if (auto window = l.Duration("window", true)) {
      if (*window < std::chrono::seconds(1)) {
        l.Error(l.PathOf("window"), "must be at least 1s");
      }
      limit.window = *window;
    }
    policy.limits.push_back(std::move(limit));
  }
}

}  // namespace agni::policy
