#include "policies/limits.h"

#include <algorithm>

namespace agni::policy {
using Clock = VelocityLimiter::Clock;

std::string_view PerName(Limit::Per per) {
  switch (per) {
    case Limit::Per::kUser: return "user";
    case Limit::Per::kGroup: return "group";
    case Limit::Per::kGlobal: return "global";
  }
  return "user";
}

void VelocityLimiter::AddLocked(const std::string& user,
                                const std::vector<std::string>& groups,
                                Event e) {
  auto insert = [&](Events& events) {
    auto it = std::upper_bound(
        events.begin(), events.end(), e.at,
        [](Clock::time_point t, const Event& x) { return t < x.at; });
    events.insert(it, e);
  };
  insert(by_user_[user]);
  for (const std::string& g : groups) insert(by_group_[g]);
  insert(global_);
}

void VelocityLimiter::PruneLocked(Clock::time_point now) {
  const Clock::time_point horizon = now - keep_;
  auto prune = [&](Events& events) {
    while (!events.empty() && events.front().at < horizon &&
           !pending_.contains(events.front().ticket)) {
      events.pop_front();
    }
  };
  for (auto it = by_user_.begin(); it != by_user_.end();) {
    prune(it->second);
    it = it->second.empty() ? by_user_.erase(it) : std::next(it);
  }
  for (auto it = by_group_.begin(); it != by_group_.end();) {
    prune(it->second);
    it = it->second.empty() ? by_group_.erase(it) : std::next(it);
  }
  prune(global_);
}

const VelocityLimiter::Events* VelocityLimiter::FindLocked(
    Limit::Per per, const std::string& key) const {
  if (per == Limit::Per::kGlobal) return &global_;
  const auto& map = per == Limit::Per::kUser ? by_user_ : by_group_;
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

VelocityLimiter::Verdict VelocityLimiter::Admit(
    const std::vector<Limit>& limits, const std::string& user,
    const std::vector<std::string>& groups, Clock::time_point now) {
  std::lock_guard lock(mu_);
  for (const Limit& l : limits) keep_ = std::max(keep_, l.window);
  PruneLocked(now);

  Verdict refused;
  auto check = [&](const Limit& limit, const std::string& key) {
    const Events* events = FindLocked(limit.per, key);
    if (events == nullptr) return;
    // Events strictly inside (now - window, now] count.
    const Clock::time_point start = now - limit.window;
    auto first = std::upper_bound(
        events->begin(), events->end(), start,
        [](Clock::time_point t, const Event& x) { return t < x.at; });
    const auto in_window = static_cast<std::size_t>(events->end() - first);
    if (limit.max < 0 || in_window < static_cast<std::size_t>(limit.max)) {
      return;
    }
    // A slot frees when enough of the oldest in-window releases age out.
    const Clock::time_point frees =
        (first + static_cast<std::ptrdiff_t>(in_window - limit.max))->at +
        limit.window;
    auto wait = std::chrono::ceil<std::chrono::seconds>(frees - now);
    if (wait < std::chrono::seconds(1)) wait = std::chrono::seconds(1);
    if (refused.limit_id.empty() || wait > refused.retry_after) {
      refused.limit_id = limit.id;
      refused.retry_after = wait;
    }
  };
  for (const Limit& limit : limits) {
    switch (limit.per) {
      case Limit::Per::kUser: check(limit, user); break;
      case Limit::Per::kGroup:
        for (const std::string& g : groups) check(limit, g);
        break;
      case Limit::Per::kGlobal: check(limit, ""); break;
    }
  }
  if (!refused.limit_id.empty()) return refused;

  Verdict ok;
  ok.admitted = true;
  ok.ticket = next_ticket_++;
  AddLocked(user, groups, {now, ok.ticket});
  pending_.emplace(ok.ticket, std::make_pair(user, groups));
  return ok;
}

void VelocityLimiter::Settle(std::uint64_t ticket, bool counted) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(ticket);
  if (it == pending_.end()) return;
  if (!counted) {
    auto drop = [&](Events& events) {
      std::erase_if(events, [&](const Event& e) { return e.ticket == ticket; });
    };
    const auto& [user, groups] = it->second;
    if (auto u = by_user_.find(user); u != by_user_.end()) drop(u->second);
    for (const std::string& g : groups) {
      if (auto gi = by_group_.find(g); gi != by_group_.end()) drop(gi->second);
    }
    drop(global_);
  }
  pending_.erase(it);
}

void VelocityLimiter::Record(const std::string& user,
                             const std::vector<std::string>& groups,
                             Clock::time_point at) {
  std::lock_guard lock(mu_);
  AddLocked(user, groups, {at, 0});
}

std::size_t VelocityLimiter::CountForTest(Limit::Per per,
                                          const std::string& key,
                                          std::chrono::milliseconds window,
                                          Clock::time_point now) const {
  std::lock_guard lock(mu_);
  const Events* events = FindLocked(per, key);
  if (events == nullptr) return 0;
  return static_cast<std::size_t>(std::count_if(
      events->begin(), events->end(),
      [&](const Event& e) { return e.at > now - window && e.at <= now; }));
}

}  // namespace agni::policy
