// Velocity limits (blast radius): at most `max` releases per user, per group or
// globally within a sliding window. Pure: times are passed in, nothing is read
// from a clock or a database here.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agni::policy {

struct Limit {
  enum class Per { kUser, kGroup, kGlobal };
  std::string id;
  Per per = Per::kUser;
  int max = 0;
  std::chrono::milliseconds window{0};
};

std::string_view PerName(Limit::Per per);

// Counts releases and answers whether one more would exceed a limit. A
// release is counted from the moment it is admitted (Admit) so that
// concurrent requests cannot overshoot together; Settle() keeps or drops it
// once the outcome is known. Only releases count: denials never reach Admit.
//
// Thread-safe: one mutex guards all counts. Lives for the whole process (the
// counts must survive a policy reload); limits are passed in per call.
class VelocityLimiter {
 public:
  using Clock = std::chrono::system_clock;

  struct Verdict {
    bool admitted = false;
    std::uint64_t ticket = 0;  // when admitted: hand it to Settle()
    std::string limit_id;      // when refused: the limit that was reached
    std::chrono::seconds retry_after{0};  // when refused: until a slot frees
  };

  // Checks every limit for (user, groups) at `now`; when all have room,
  // counts the release and returns its ticket.
  Verdict Admit(const std::vector<Limit>& limits, const std::string& user,
                const std::vector<std::string>& groups, Clock::time_point now);

  // `counted`: the release went out (or may have); false drops the count.
  void Settle(std::uint64_t ticket, bool counted);

  // Adds a past release (at start-up, from the audit log).
  void Record(const std::string& user, const std::vector<std::string>& groups,
              Clock::time_point at);

  // Releases currently counted for a key, for tests and explain output.
  std::size_t CountForTest(Limit::Per per, const std::string& key,
                           std::chrono::milliseconds window,
                           Clock::time_point now) const;

 private:
  struct Event {
    Clock::time_point at;
    std::uint64_t ticket;
  };
  using Events = std::deque<Event>;  // ordered by `at`
  void AddLocked(const std::string& user,
                 const std::vector<std::string>& groups, Event e);
  void PruneLocked(Clock::time_point now);
  const Events* FindLocked(Limit::Per per, const std::string& key) const;

  mutable std::mutex mu_;
  std::map<std::string, Events> by_user_;
  std::map<std::string, Events> by_group_;
  Events global_;
  std::map<std::uint64_t, std::pair<std::string, std::vector<std::string>>>
      pending_;
  std::uint64_t next_ticket_ = 1;
  std::chrono::milliseconds keep_{std::chrono::hours(24 * 7)};
};

}  // namespace agni::policy
