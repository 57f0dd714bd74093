// The review that follows a break-glass release: the release went at once
// with its reason, and someone in the rule's `from_groups` other than the
// person who released must acknowledge it within `review_within`. Pure data
// and rules; the store is audit/review_store.h, the API gateway/reviews/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agni::policy {

enum class ReviewStatus { kPending, kAcked };
std::string_view ReviewStatusName(ReviewStatus status);
std::optional<ReviewStatus> ParseReviewStatus(std::string_view text);

// One break-glass release awaiting (or past) its review. A value; copy freely.
struct Review {
  std::string id;          // "rev_..."
  std::string request_id;  // the release's request id (its audit records)
  std::string actor;       // who released; never their own reviewer
  std::vector<std::string> actor_groups;
  std::string phone_number;
  std::string rule_id;
  std::string reason;  // the X-Release-Reason the release carried
  std::vector<std::string> from_groups;  // who may acknowledge
  std::int64_t created_us = 0;
  std::int64_t due_us = 0;  // created + the rule's review_within
  ReviewStatus status = ReviewStatus::kPending;
  std::string acked_by;
  std::string ack_reason;
  std::int64_t acked_us = 0;
  bool overdue_announced = false;  // the "review overdue" event went out
};

// Why an acknowledgement is refused; kNone when `user` may acknowledge.
enum class ReviewAckError { kNone, kSelfReview, kNotEligible, kAlreadyAcked };
ReviewAckError CheckAck(const Review& review, std::string_view user,
                        const std::vector<std::string>& groups);

// Pending past its due time.
bool IsOverdue(const Review& review, std::int64_t now_us);

// Whether `user` (with `groups`) sees `review` in the list: the actor, its
// reviewers, or everyone (an auditor).
bool ReviewVisibleTo(const Review& review, std::string_view user,
                     const std::vector<std::string>& groups, bool everyone);

}  // namespace agni::policy
