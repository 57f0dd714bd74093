// Which rules could match a request, so that a decision over a large policy
// looks only at the rules that name the caller (by user or group), or, for
// rules naming no principal, that name one of the number's labels, plus the
// rules that name neither. Built once per policy; immutable
// and safe to share between threads. Rule order is preserved, so precedence
// (first matching rule of each kind wins) is unchanged.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace agni::policy {

struct Rule;
struct Subject;

class RuleIndex {
 public:
  explicit RuleIndex(const std::vector<Rule>& rules);

  // Calls fn(rule_position) for every candidate rule, in rule order, until
  // fn returns false.
  // `labels` may be null (a number not in the inventory).
  template <typename Fn>
  void ForEachCandidate(const Subject& subject,
                        const std::map<std::string, std::string>* labels,
                        Fn&& fn) const;

 private:
  void Mark(const Subject& subject,
            const std::map<std::string, std::string>* labels,
            std::vector<std::uint64_t>& bits) const;

  std::size_t rules_ = 0;
  std::vector<std::uint64_t> any_;  // bitmap: rules that name no principal
  std::unordered_map<std::string, std::vector<std::uint32_t>> by_user_;
  std::unordered_map<std::string, std::vector<std::uint32_t>> by_group_;
  // "key\0value" of a rule's first label selector.
  std::unordered_map<std::string, std::vector<std::uint32_t>> by_label_;
};

template <typename Fn>
void RuleIndex::ForEachCandidate(
    const Subject& subject, const std::map<std::string, std::string>* labels,
    Fn&& fn) const {
  thread_local std::vector<std::uint64_t> bits;
  Mark(subject, labels, bits);
  for (std::size_t w = 0; w < bits.size(); ++w) {
    for (std::uint64_t word = bits[w]; word != 0; word &= word - 1) {
      const std::size_t pos =
          w * 64 + static_cast<std::size_t>(__builtin_ctzll(word));
      if (!fn(pos)) return;
    }
  }
}

}  // namespace agni::policy
