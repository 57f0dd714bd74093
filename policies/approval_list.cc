// Listing approvals a page at a time: the cursor, who sees what, the store's
// default answers from List() (a database answers from its indexes) and the
// service's paged read.
#include <algorithm>
#include <charconv>

#include "policies/approval_internal.h"
#include "policies/approvals.h"

namespace agni::policy {
namespace {

using internal::Deadline;
using internal::IsOpen;

// Newest first: created_us descending, then id descending.
bool Before(const ListCursor& a, const ListCursor& b) {
  return a.created_us != b.created_us ? a.created_us > b.created_us
                                      : a.id > b.id;
}

}  // namespace

std::string FormatCursor(const ListCursor& cursor) {
  return std::to_string(cursor.created_us) + "." + cursor.id;
}

std::optional<ListCursor> ParseCursor(std::string_view text) {
  const std::size_t dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 19) {
    return std::nullopt;
  }
  ListCursor c;
  const char* end = text.data() + dot;
  auto [ptr, ec] = std::from_chars(text.data(), end, c.created_us);
  if (ec != std::errc() || ptr != end || c.created_us < 0) return std::nullopt;
  const std::string_view id = text.substr(dot + 1);
  const bool word = !id.empty() && id.size() <= 64 &&
                    std::all_of(id.begin(), id.end(), [](char ch) {
                      return (ch >= 'a' && ch <= 'z') ||
                             (ch >= 'A' && ch <= 'Z') ||
                             (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
                    });
  if (!word) return std::nullopt;
  c.id = std::string(id);
  return c;
}

bool ListedFor(const ApprovalPageQuery& query, const std::string& requester,
               const std::vector<std::string>& approver_groups) {
  if (query.everyone || requester == query.viewer) return true;
  return std::any_of(query.viewer_groups.begin(), query.viewer_groups.end(),
                     [&](const std::string& g) {
                       return std::find(approver_groups.begin(),
                                        approver_groups.end(),
                                        g) != approver_groups.end();
                     });
}

std::vector<std::string> ApproverGroups(const Approval& a) {
  std::vector<std::string> out;
  for (const RequiredApproval& r : a.required) {
    for (const std::string& g : r.from_groups) {
      if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
    }
  }
  return out;
}

ApprovalPage ApprovalStore::ListPage(const ApprovalPageQuery& query) {
  std::vector<Approval> all = List(query.status);
  std::sort(all.begin(), all.end(), [](const Approval& a, const Approval& b) {
    return Before({a.created_us, a.id}, {b.created_us, b.id});
  });
  ApprovalPage page;
  for (Approval& a : all) {
    const ListCursor at{a.created_us, a.id};
    if (query.after && !Before(*query.after, at)) continue;
    if (query.open_only && !IsOpen(a.status)) continue;
    if (!ListedFor(query, a.requester, ApproverGroups(a))) continue;
    if (query.keep && !query.keep(a)) continue;
    if (page.items.size() == query.limit) {
      page.next =
          ListCursor{page.items.back().created_us, page.items.back().id};
      break;
    }
    page.items.push_back(std::move(a));
  }
  return page;
}

std::vector<Approval> ApprovalStore::ListDue(std::int64_t now_us,
                                             std::size_t limit) {
  std::vector<Approval> out;
  for (Approval& a : List(std::nullopt)) {
    if (out.size() == limit) break;
    if (IsOpen(a.status) && Deadline(a) <= now_us) out.push_back(std::move(a));
  }
  return out;
}

std::size_t ApprovalStore::CountOpen(const std::string& requester,
                                     std::int64_t now_us) {
  std::size_t n = 0;
  for (const Approval& a : List(std::nullopt)) {
    if (a.requester == requester && IsOpen(a.status) && Deadline(a) > now_us) {
      ++n;
    }
  }
  return n;
}

std::optional<ApprovalPage> ApprovalService::ListPage(ApprovalPageQuery query) {
  Sweep();
  std::lock_guard lock(mu_);
  // Open requests are selected by the status the recount gives them: an
  // approved one short of the current config is listed as pending.
  const std::optional<ApprovalStatus> wanted = query.status;
  if (wanted && IsOpen(*wanted)) {
    query.status.reset();
    query.open_only = true;
  }
  query.keep = [&](Approval& a) {
    ReopenIfShortLocked(a);
    return !wanted || a.status == *wanted;
  };
  try {
    return store_.ListPage(query);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace agni::policy
