// What the two workflow APIs (/v1/approvals, /v1/reviews) share: the reply
// they hand the pipeline, and their lists' paging (`status`, `limit` and
// `after` parsed from the query, the store's page query filled for the
// caller, the text of the read's audit record). Plain data and pure
// functions; thread-safe.
#pragma once

#include <charconv>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/auth/authenticator.h"
#include "gateway/http/http_types.h"
#include "gateway/pipeline/problem.h"

namespace agni {

// Either a problem for the pipeline's Finish(), or a response to send as
// is. `id` names the approval or review for the audit record of the
// request. A read (a list or one item) carries `read_detail`, what was read,
// for the audit record every read gets; empty for the actions, whose record
// is the change itself.
struct WorkflowReply {
  std::optional<Problem> problem;
  HttpResponse response;
  std::string id;
  std::string read_detail;
};

// The list's page size: `limit` defaults to kDefaultListLimit and may be at
// most kMaxListLimit.
inline constexpr std::size_t kDefaultListLimit = 50;
inline constexpr std::size_t kMaxListLimit = 500;

template <typename Status, typename Cursor>
struct PageParams {
  std::optional<Status> status;
  std::size_t limit = kDefaultListLimit;
  std::optional<Cursor> after;
  std::string error;  // non-empty: the 400's detail
};

// Parses "status=..&limit=..&after=..". `parse_status` and `parse_after`
// turn a value into an optional Status or Cursor (nullopt: malformed);
// `statuses` lists the valid statuses for the error.
template <typename Status, typename Cursor, typename ParseStatus,
          typename ParseAfter>
PageParams<Status, Cursor> ParsePageParams(std::string_view query,
                                           ParseStatus parse_status,
                                           std::string_view statuses,
                                           ParseAfter parse_after) {
  PageParams<Status, Cursor> out;
  while (!query.empty() && out.error.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    if (param.empty()) continue;
    const std::size_t eq = param.find('=');
    const std::string_view key = param.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? "" : param.substr(eq + 1);
    if (key == "status") {
      out.status = parse_status(value);
      if (!out.status) {
        out.error = "status must be one of ";
        out.error += statuses;
      }
    } else if (key == "limit") {
      std::size_t n = 0;
      const auto [end, ec] =
          std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 1 ||
          n > kMaxListLimit) {
        out.error = "limit must be a number from 1 to ";
        out.error += std::to_string(kMaxListLimit);
      }
      out.limit = n;
    } else if (key == "after") {
      out.after = parse_after(value);
      if (!out.after)
        out.error = "after must be the \"next\" of a previous page";
    } else {
      out.error = "the query parameters are status, limit and after";
    }
  }
  return out;
}

// Fills a store's page query (approvals or reviews) for `viewer`: what they
// may see (everything when `everyone`), from `params`.
template <typename PageQuery, typename Params>
PageQuery PageQueryFor(const Principal& viewer, bool everyone,
                       const Params& params) {
  PageQuery q;
  q.status = params.status;
  q.viewer = viewer.name;
  q.viewer_groups = viewer.groups;
  q.everyone = everyone;
  q.after = params.after;
  q.limit = params.limit;
  return q;
}

// The read's audit detail: "listed <what> status=.. after=.. limit=N: M
// shown" (status and after only when given).
inline std::string PageReadDetail(std::string_view what,
                                  std::string_view status,
                                  std::string_view after, std::size_t limit,
                                  std::size_t shown) {
  std::string out = "listed ";
  out += what;
  if (!status.empty()) {
    out += " status=";
    out += status;
  }
  if (!after.empty()) {
    out += " after=";
    out += after;
  }
  out += " limit=";
  out += std::to_string(limit);
  out += ": ";
  out += std::to_string(shown);
  out += " shown";
  return out;
}

}  // namespace agni
