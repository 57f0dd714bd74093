#include "policies/review.h"

#include <algorithm>

namespace agni::policy {
namespace {

bool InAny(const std::vector<std::string>& wanted,
           const std::vector<std::string>& held) {
  return std::any_of(wanted.begin(), wanted.end(), [&](const std::string& g) {
    return std::find(held.begin(), held.end(), g) != held.end();
  });
}

}  // namespace

std::string_view ReviewStatusName(ReviewStatus status) {
  return status == ReviewStatus::kPending ? "pending" : "acked";
}

std::optional<ReviewStatus> ParseReviewStatus(std::string_view text) {
  if (text == "pending") return ReviewStatus::kPending;
  if (text == "acked") return ReviewStatus::kAcked;
  return std::nullopt;
}

ReviewAckError CheckAck(const Review& review, std::string_view user,
                        const std::vector<std::string>& groups) {
  if (review.status != ReviewStatus::kPending) {
    return ReviewAckError::kAlreadyAcked;
  }
  // Checked before eligibility: the actor is told why, even when they are in
  // a reviewing group themselves.
  if (user == review.actor) return ReviewAckError::kSelfReview;
  if (!InAny(review.from_groups, groups)) return ReviewAckError::kNotEligible;
  return ReviewAckError::kNone;
}

bool IsOverdue(const Review& review, std::int64_t now_us) {
  return review.status == ReviewStatus::kPending && now_us >= review.due_us;
}

bool ReviewVisibleTo(const Review& review, std::string_view user,
                     const std::vector<std::string>& groups, bool everyone) {
  return everyone || review.actor == user || InAny(review.from_groups, groups);
}

}  // namespace agni::policy
