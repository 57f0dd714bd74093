// The per-request state of RequestPipeline, shared by the release stages
// (pipeline.cc) and the other routes (routes.cc). One request's, on one
// thread; never shared.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "audit/record.h"
#include "gateway/pipeline/pipeline.h"
#include "policies/engine.h"

namespace agni {

// The routes of the main listener. Text only in metrics and the request log.
enum class Route {
  kRelease,
  kWhoAmI,
  kAudit,
  kApprovals,
  kExplain,
  kOther,
  kSession,  // /v1/session: console sign-in and sign-out
  kConsole,  // /ui/: the console's pages
  kReviews,  // /v1/reviews: break-glass reviews
};
std::string_view RouteName(Route route);

// Built up as the request moves through the stages.
struct RequestPipeline::Context {
  Context(const HttpRequest& r, std::shared_ptr<const AccessSnapshot> a)
      : request(r), access(std::move(a)) {}
  const HttpRequest& request;
  std::shared_ptr<const AccessSnapshot> access;
  std::chrono::steady_clock::time_point started =
      std::chrono::steady_clock::now();
  std::string request_id;
  Route route = Route::kOther;
  std::optional<Principal> principal;
  std::string phone_number;
  // The policy's effect for a release, kAllow for a read that was served;
  // unset for a request refused before a decision (recorded as deny).
  std::optional<policy::Effect> decision;
  std::string rule_id;
  std::string shadow;
  std::string_view reason;  // the gateway's reason code, for the request log
  std::string approval_id;
  std::string release_reason;  // the justification, for the audit detail
  std::string credential_fingerprint;  // of a credential that did not match
  std::uint64_t limit_ticket = 0;      // counted by the velocity limiter
  std::optional<audit::ReleaseOutcome> release_outcome;  // once forwarded
  std::chrono::seconds retry_after{0};
  // Filled by the first BaseRecord() and reused by the next (a release writes
  // two records): redacting the path hashes every segment.
  mutable std::string audited_path;
  mutable std::string groups_json;
  bool summarized = false;  // counted by the rejection ledger, no own record
  // The approval `approval_id` was consumed by this release, and whether the
  // release may since have reached the upstream (then it stays consumed).
  bool approval_consumed = false;
  bool approval_may_be_sent = false;
  // The console session the request's cookie names, when it authenticated
  // by cookie (gateway/console/sessions.h); its cookie hash, else empty.
  std::string session_cookie_hash;
  std::string session_csrf_token;
  std::int64_t session_expires_us = 0;
  // The break_glass rule this release goes under (owned by `access`'s
  // policy); null for any other release.
  const policy::Rule* break_glass_rule = nullptr;
};

}  // namespace agni
