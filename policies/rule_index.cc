#include "policies/rule_index.h"

#include "policies/engine.h"

namespace agni::policy {

RuleIndex::RuleIndex(const std::vector<Rule>& rules)
    : rules_(rules.size()), any_((rules.size() + 63) / 64, 0) {
  for (std::uint32_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules[i];
    // A rule with a users selector can only match those users; otherwise
    // one with a groups selector only members of those groups.
    if (!r.users.empty()) {
      for (const std::string& u : r.users) by_user_[u].push_back(i);
    } else if (!r.groups.empty()) {
      for (const std::string& g : r.groups) by_group_[g].push_back(i);
    } else if (!r.labels.empty()) {
      // Every label must match, so the first one alone decides candidacy.
      const auto& [key, value] = *r.labels.begin();
      by_label_[key + '\0' + value].push_back(i);
    } else {
      any_[i / 64] |= std::uint64_t{1} << (i % 64);
    }
  }
}

void RuleIndex::Mark(const Subject& subject,
                     const std::map<std::string, std::string>* labels,
                     std::vector<std::uint64_t>& bits) const {
  bits = any_;
  auto mark = [&](const auto& map, const std::string& key) {
    auto it = map.find(key);
    if (it == map.end()) return;
    for (std::uint32_t i : it->second) {
      bits[i / 64] |= std::uint64_t{1} << (i % 64);
    }
  };
  mark(by_user_, std::string(subject.user));
  for (const std::string& g : subject.groups) mark(by_group_, g);
  if (labels != nullptr && !by_label_.empty()) {
    std::string key;
    for (const auto& [k, v] : *labels) {
      key.assign(k);
      key.push_back('\0');
      key.append(v);
      mark(by_label_, key);
    }
  }
}

}  // namespace agni::policy
