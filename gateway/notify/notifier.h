// Where approval and break-glass events go: every configured channel
// (approvals.notify[]). An event is the JSON document a `webhook` channel
// posts as is:
//   {"type": "approval.created" | ... | "break_glass" | "review.overdue" |
//            "review.acked",
//    "event_id", "time", "actor", "reason", "audit_seq",
//    "approval": {...} | "review": {...}}
// to which the notifier adds the number's inventory `labels` and a `link` to
// the console. Publishing never waits for the network and never fails the
// caller.
//
// Thread-safe: Publish() may be called from any thread.
#pragma once

#include <nlohmann/json.hpp>

namespace agni {

class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual void Publish(const nlohmann::json& event) = 0;
};

}  // namespace agni
