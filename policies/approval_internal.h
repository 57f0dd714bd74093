// Helpers the approval workflow's source files share (approvals.cc,
// approval_lifecycle.cc, approval_list.cc); not part of its interface.
#pragma once

#include <algorithm>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "policies/approvals.h"

namespace agni::policy::internal {

inline bool HoldsAny(const std::vector<std::string>& held,
                     const std::vector<std::string>& wanted) {
  return std::any_of(wanted.begin(), wanted.end(), [&](const std::string& g) {
    return std::find(held.begin(), held.end(), g) != held.end();
  });
}

// Pending or approved: still to be decided or executed.
inline bool IsOpen(ApprovalStatus s) {
  return s == ApprovalStatus::kPending || s == ApprovalStatus::kApproved;
}

// When an open request is due to expire: its ttl while pending, its
// execute_within once approved.
inline std::int64_t Deadline(const Approval& a) {
  return a.status == ApprovalStatus::kApproved ? a.execute_before_us
                                               : a.expires_us;
}

inline ApprovalResult Fail(ApprovalError error, std::string detail,
                           std::optional<Approval> a = std::nullopt) {
  return {error, std::move(detail), std::move(a), false};
}

// Sets `out` to what `read` returns from the approval store. A store that
// throws cannot be read: the caller returns the kUnavailable result this
// gives back (fail closed); nullopt when the read went through.
template <class T, class Read>
std::optional<ApprovalResult> ReadStore(T& out, Read&& read) {
  try {
    out = read();
  } catch (const std::exception& e) {
    return Fail(ApprovalError::kUnavailable,
                std::string("approval store read failed: ") + e.what());
  }
  return std::nullopt;
}

}  // namespace agni::policy::internal
