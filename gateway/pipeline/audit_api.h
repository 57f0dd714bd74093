// The read side of the audit log on the main listener: GET /v1/audit (the
// DESIGN.md §2 filters, paged by seq) and GET /v1/audit/head (the newest
// signed checkpoint). The pipeline authenticates the caller, checks that they
// are in an `auditors` group and audits the access; this class only reads.
//
// Thread-safe: each call borrows a read-only SQLite connection from a small
// pool (base/idle_pool.h); at most kMaxAuditReaders calls read at once (the
// others wait), so the memory of the read side is bounded by that many
// connections with a bounded page cache and that many pages in flight.
#pragma once

#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <string_view>
#include <vector>

#include "base/idle_pool.h"
#include "gateway/http/http_types.h"

namespace SQLite {
class Database;
}

namespace agni {

inline constexpr std::string_view kAuditQueryPath = "/v1/audit";
inline constexpr std::string_view kAuditHeadPath = "/v1/audit/head";
inline constexpr int kMaxAuditReaders = 4;

class AuditApi {
 public:
  explicit AuditApi(std::string db_path);
  ~AuditApi();

  static bool Handles(std::string_view path) {
    return path == kAuditQueryPath || path == kAuditHeadPath;
  }

  // `target` is the raw request target. A malformed query is a 400 problem
  // (the caller supplies the request id for its body).
  struct Result {
    HttpResponse response;
    std::string bad_request;  // set: the caller answers 400 with this detail
  };
  Result Handle(std::string_view target);

  // The query string as the access record keeps it ("query: user=alice"):
  // bytes outside printable ASCII %-escaped, at most 512 of them. Empty when
  // there is none.
  static std::string DescribeQuery(std::string_view target);

 private:
  std::unique_ptr<SQLite::Database> Borrow();
  void Return(std::unique_ptr<SQLite::Database> db);

  std::string db_path_;
  IdlePool<SQLite::Database> idle_;
  std::counting_semaphore<kMaxAuditReaders> readers_{kMaxAuditReaders};
};

}  // namespace agni
