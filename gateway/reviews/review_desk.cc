#include "gateway/reviews/review_desk.h"

#include <charconv>

#include "audit/record.h"
#include "base/crypto.h"
#include "gateway/approvals/approvals_api.h"
#include "policies/reason_pattern.h"

namespace agni {
namespace {

using nlohmann::json;

constexpr std::string_view kPrefix = "/v1/reviews";
// Reviews that turned overdue announced per sweep; the rest wait for the next.
constexpr std::size_t kAnnouncePerSweep = 100;

ReviewReply ProblemReply(Reason reason, std::string detail,
                         std::string id = "") {
  ReviewReply r;
  r.problem = Problem{reason, std::move(detail), ""};
  r.id = std::move(id);
  return r;
}

ReviewReply JsonReply(const json& body, std::string id = "") {
  ReviewReply r;
  r.response.status = 200;
  r.response.content_type = "application/json";
  r.response.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  r.id = std::move(id);
  return r;
}

json OrNull(const std::string& s) { return s.empty() ? json() : json(s); }

std::string JoinGroups(const std::vector<std::string>& groups) {
  std::string out;
  for (const std::string& g : groups) out += (out.empty() ? "" : ", ") + g;
  return out;
}

using ListParams = PageParams<policy::ReviewStatus, std::int64_t>;

// A previous page's `next`: a positive row number.
std::optional<std::int64_t> ParseAfter(std::string_view value) {
  std::int64_t n = 0;
  const auto [end, ec] =
      std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n < 1) {
    return std::nullopt;
  }
  return n;
}

ListParams ParseListQuery(std::string_view query) {
  return ParsePageParams<policy::ReviewStatus, std::int64_t>(
      query, policy::ParseReviewStatus, "pending, acked", ParseAfter);
}

}  // namespace

BreakGlassReason CheckBreakGlassReason(const std::vector<std::string>& headers,
                                       const policy::Rule& rule) {
  BreakGlassReason out;
  const std::string& pattern = rule.break_glass.reason_pattern;
  auto refuse = [&](std::string detail) {
    out.problem = Problem{Reason::kReasonRequired, std::move(detail), rule.id};
    return out;
  };
  if (headers.size() > 1) return refuse("send one X-Release-Reason header");
  if (headers.empty() || headers.front().empty()) {
    return refuse("rule \"" + rule.id +
                  "\" releases at once only with a reason: send it in the "
                  "X-Release-Reason header");
  }
  if (!policy::IsPrintableReason(headers.front())) {
    return refuse("X-Release-Reason must be 1 to " +
                  std::to_string(policy::kMaxReleaseReason) +
                  " printable ASCII characters");
  }
  if (rule.break_glass.reason_regex &&
      !policy::ReasonMatches(*rule.break_glass.reason_regex, headers.front())) {
    return refuse("rule \"" + rule.id +
                  "\" needs an X-Release-Reason matching " + pattern);
  }
  out.reason = headers.front();
  return out;
}

ReviewDesk::ReviewDesk(audit::SqliteReviewStore& store, audit::AuditSink& audit,
                       Metrics& metrics, Notifier* notifier, const Logger& log,
                       std::function<std::int64_t()> now_us)
    : store_(store),
      audit_(audit),
      metrics_(metrics),
      notifier_(notifier),
      log_(log),
      now_us_(std::move(now_us)) {}

json ReviewDesk::View(const policy::Review& r) const {
  return {
      {"id", r.id},
      {"status", policy::ReviewStatusName(r.status)},
      {"overdue", policy::IsOverdue(r, now_us_())},
      {"actor", r.actor},
      {"phone_number", r.phone_number},
      {"rule_id", r.rule_id},
      {"reason", r.reason},
      {"request_id", r.request_id},
      {"from_groups", r.from_groups},
      {"created_at", audit::FormatTime(r.created_us)},
      {"due_at", audit::FormatTime(r.due_us)},
      {"acked_by", OrNull(r.acked_by)},
      {"ack_reason", OrNull(r.ack_reason)},
      {"acked_at", r.acked_us ? json(audit::FormatTime(r.acked_us)) : json()}};
}

std::optional<policy::Review> ReviewDesk::Open(const Principal& actor,
                                               const std::string& request_id,
                                               const std::string& number,
                                               const policy::Rule& rule,
                                               const std::string& reason) {
  policy::Review r;
  r.id = "rev_" + NewRequestId();
  r.request_id = request_id;
  r.actor = actor.name;
  r.actor_groups = actor.groups;
  r.phone_number = number;
  r.rule_id = rule.id;
  r.reason = reason;
  r.from_groups = rule.break_glass.from_groups;
  r.created_us = now_us_();
  r.due_us =
      r.created_us + std::chrono::duration_cast<std::chrono::microseconds>(
                         rule.break_glass.review_within)
                         .count();
  try {
    store_.Add(r);
  } catch (const std::exception& e) {
    log_.Error("break-glass review not stored; release refused",
               {{"request_id", request_id}, {"error", e.what()}});
    return std::nullopt;
  }
  return r;
}

void ReviewDesk::Withdraw(const std::string& review_id) {
  try {
    store_.Remove(review_id);
  } catch (const std::exception& e) {
    // Left pending: a review of a release that was not sent is noise, not a
    // hole.
    log_.Warn("break-glass review of an unsent release not withdrawn",
              {{"review_id", review_id}, {"error", e.what()}});
  }
}

void ReviewDesk::Announce(const policy::Review& review) {
  metrics_.CountBreakGlass();
  Publish("break_glass", review, review.actor, review.reason);
  Sweep();
}

void ReviewDesk::Publish(std::string_view type, const policy::Review& review,
                         const std::string& actor, const std::string& reason) {
  if (notifier_ == nullptr) return;
  notifier_->Publish({{"type", type},
                      {"event_id", NewRequestId()},
                      {"time", audit::FormatTime(now_us_())},
                      {"actor", OrNull(actor)},
                      {"reason", OrNull(reason)},
                      {"review", View(review)}});
}

void ReviewDesk::Sweep() {
  std::lock_guard lock(sweep_mu_);
  try {
    const std::int64_t now = now_us_();
    for (const policy::Review& r :
         store_.DueUnannounced(now, kAnnouncePerSweep)) {
      store_.MarkOverdueAnnounced(r.id);
      Publish("review.overdue", r, "", "");
      log_.Warn("break-glass release unreviewed past review_within",
                {{"review_id", r.id}, {"actor", r.actor}});
    }
    metrics_.SetReviews(static_cast<double>(store_.CountPending()),
                        static_cast<double>(store_.CountOverdue(now)));
  } catch (const std::exception& e) {
    log_.Error("break-glass reviews not swept", {{"error", e.what()}});
  }
}

ReviewReply ReviewDesk::HandleApi(const ReviewCall& call) {
  const std::string& target = call.request.target;
  const std::size_t q = target.find('?');
  const std::string path = target.substr(0, q);
  const std::string query = q == std::string::npos ? "" : target.substr(q + 1);
  const std::string_view method = call.request.method;
  if (path == kPrefix) {
    if (method != "GET") {
      return ProblemReply(Reason::kMethodNotAllowed, "use GET on /v1/reviews");
    }
    return List(call, query);
  }
  std::string_view rest = std::string_view(path).substr(kPrefix.size());
  if (!rest.starts_with("/"))
    return ProblemReply(Reason::kNotFound, "no such route");
  rest.remove_prefix(1);
  const std::size_t slash = rest.find('/');
  const std::string id(rest.substr(0, slash));
  const std::string_view action =
      slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  if (id.empty() || (!action.empty() && action != "ack")) {
    return ProblemReply(Reason::kNotFound, "no such route");
  }
  if (action == "ack") {
    if (method != "POST") {
      return ProblemReply(Reason::kMethodNotAllowed, "use POST to acknowledge",
                          id);
    }
    return Acknowledge(call, id);
  }
  if (method != "GET") {
    return ProblemReply(Reason::kMethodNotAllowed, "use GET to read a review",
                        id);
  }
  std::optional<policy::Review> review;
  try {
    review = store_.Get(id);
  } catch (const std::exception&) {
    return ProblemReply(Reason::kAuditUnavailable,
                        "the reviews store cannot be read", id);
  }
  if (!review ||
      !policy::ReviewVisibleTo(*review, call.principal.name,
                               call.principal.groups, call.auditor)) {
    return ProblemReply(Reason::kNotFound, "no such review", id);
  }
  ReviewReply reply = JsonReply(View(*review), id);
  reply.read_detail = "read break-glass review " + id;
  return reply;
}

ReviewReply ReviewDesk::List(const ReviewCall& call, const std::string& query) {
  const ListParams params = ParseListQuery(query);
  if (!params.error.empty()) {
    return ProblemReply(Reason::kInvalidRequest, params.error);
  }
  Sweep();
  const audit::ReviewPageQuery q = PageQueryFor<audit::ReviewPageQuery>(
      call.principal, call.auditor, params);
  audit::ReviewPage page;
  try {
    page = store_.Page(q);
  } catch (const std::exception&) {
    return ProblemReply(Reason::kAuditUnavailable,
                        "the reviews store cannot be read");
  }
  json items = json::array();
  for (const policy::Review& r : page.items) items.push_back(View(r));
  const json next = page.next ? json(std::to_string(*page.next)) : json();
  ReviewReply reply = JsonReply({{"reviews", items}, {"next", next}});
  reply.read_detail = PageReadDetail(
      "break-glass reviews",
      params.status ? policy::ReviewStatusName(*params.status) : "",
      params.after ? std::to_string(*params.after) : "", params.limit,
      page.items.size());
  return reply;
}

ReviewReply ReviewDesk::Acknowledge(const ReviewCall& call,
                                    const std::string& id) {
  std::string reason;
  if (std::string bad = ParseDecisionBody(call.request.body, reason);
      !bad.empty()) {
    return ProblemReply(Reason::kInvalidRequest, std::move(bad), id);
  }
  if (reason.empty()) {
    return ProblemReply(Reason::kInvalidRequest,
                        "an acknowledgement needs a reason: {\"reason\": "
                        "\"...\"}",
                        id);
  }
  const Principal& p = call.principal;
  std::optional<policy::Review> review;
  try {
    review = store_.Get(id);
  } catch (const std::exception&) {
    return ProblemReply(Reason::kAuditUnavailable,
                        "the reviews store cannot be read", id);
  }
  if (!review) return ProblemReply(Reason::kNotFound, "no such review", id);
  switch (policy::CheckAck(*review, p.name, p.groups)) {
    case policy::ReviewAckError::kNone: break;
    case policy::ReviewAckError::kSelfReview:
      return ProblemReply(
          Reason::kSelfReview,
          "you made this break-glass release; someone else in " +
              JoinGroups(review->from_groups) + " must review it",
          id);
    case policy::ReviewAckError::kNotEligible:
      return ProblemReply(Reason::kNotEligible,
                          "only members of " + JoinGroups(review->from_groups) +
                              " may review this break-glass release",
                          id);
    case policy::ReviewAckError::kAlreadyAcked:
      return ProblemReply(Reason::kReviewNotPending,
                          "this review was acknowledged by " + review->acked_by,
                          id);
  }
  const std::int64_t now = now_us_();
  try {
    if (!store_.Ack(id, p.name, reason, now)) {
      return ProblemReply(Reason::kReviewNotPending,
                          "this review was acknowledged already", id);
    }
  } catch (const std::exception&) {
    return ProblemReply(Reason::kAuditUnavailable,
                        "the reviews store cannot be written", id);
  }
  audit::Record r;
  r.stage = audit::Stage::kApproval;
  r.request_id = call.request_id;
  r.principal = p.name;
  r.groups = json(p.groups).dump();
  r.auth_method = p.auth_method;
  r.peer = call.request.peer;
  r.method = "POST";
  r.path = std::string(kPrefix) + "/" + id + "/ack";
  r.phone_number = review->phone_number;
  r.decision = "acked";
  r.rule_id = review->rule_id;
  r.approval_id = id;
  r.outcome = "review_acked";
  r.response_status = 200;
  r.detail = "reviewed the break-glass release " + review->request_id + " by " +
             review->actor + ": " + reason;
  if (const audit::AppendResult committed = audit_.Append(std::move(r));
      !committed.ok) {
    log_.Error("review acknowledgement not recorded; undone",
               {{"review_id", id}, {"error", committed.error}});
    try {
      store_.Unack(id);
    } catch (const std::exception&) {
    }
    return ProblemReply(Reason::kAuditUnavailable,
                        "the audit log cannot record this acknowledgement", id);
  }
  review->status = policy::ReviewStatus::kAcked;
  review->acked_by = p.name;
  review->ack_reason = reason;
  review->acked_us = now;
  Publish("review.acked", *review, p.name, reason);
  Sweep();
  return JsonReply(View(*review), id);
}

}  // namespace agni
