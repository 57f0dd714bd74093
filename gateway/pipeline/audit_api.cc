#include "gateway/pipeline/audit_api.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <nlohmann/json.hpp>

#include "audit/checkpoint.h"
#include "audit/read/query.h"
#include "audit/record.h"
#include "audit/record_io.h"

namespace agni {
namespace {
// Pages walk one index range and the rows it points to: a small cache is
// enough, and SQLite's default (2 MiB) per connection is not what bounds
// their time.
constexpr const char* kReaderCache = "PRAGMA cache_size = -1024";  // KiB
}  // namespace

AuditApi::AuditApi(std::string db_path)
    : db_path_(std::move(db_path)), idle_(kMaxAuditReaders) {}
AuditApi::~AuditApi() = default;

std::unique_ptr<SQLite::Database> AuditApi::Borrow() {
  if (std::unique_ptr<SQLite::Database> db = idle_.Take()) return db;
  auto db = std::make_unique<SQLite::Database>(db_path_, SQLite::OPEN_READONLY);
  db->setBusyTimeout(2000);
  db->exec(kReaderCache);
  return db;
}

void AuditApi::Return(std::unique_ptr<SQLite::Database> db) {
  idle_.Put(std::move(db));
}

std::string AuditApi::DescribeQuery(std::string_view target) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos || q + 1 == target.size()) return "";
  const std::string_view query = target.substr(q + 1, 512);
  std::string out = "query: ";
  for (unsigned char c : query) {
    if (c > 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  if (target.size() - q - 1 > 512) out += "...";
  return out;
}

AuditApi::Result AuditApi::Handle(std::string_view target) {
  const std::size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query =
      q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  Result result;
  HttpResponse& r = result.response;
  r.status = 200;
  r.content_type = "application/json";

  readers_.acquire();
  struct Release {
    std::counting_semaphore<kMaxAuditReaders>& s;
    ~Release() { s.release(); }
  } release{readers_};
  std::unique_ptr<SQLite::Database> db = Borrow();
  if (path == kAuditHeadPath) {
    if (!query.empty()) {
      result.bad_request = "/v1/audit/head takes no query parameters";
      Return(std::move(db));
      return result;
    }
    nlohmann::json body;
    if (auto c = audit::LatestCheckpoint(*db)) {
      body = audit::CheckpointToJson(*c);
    } else {
      // No signing key: the unsigned head, still worth keeping elsewhere.
      SQLite::Statement s(*db, audit::kNewestRecordSql);
      if (s.executeStep()) {
        body = {{"seq", s.getColumn(0).getInt64()},
                {"hash", s.getColumn(1).getString()},
                {"time", s.getColumn(2).getString()}};
      } else {
        body = {{"seq", 0}, {"hash", std::string(audit::kGenesisHash)}};
      }
    }
    r.body = body.dump();
  } else {
    audit::AuditQuery aq;
    result.bad_request = audit::ParseAuditQuery(query, aq);
    if (result.bad_request.empty()) {
      r.body = audit::RunAuditQuery(*db, aq);
    }
  }
  Return(std::move(db));
  return result;
}

}  // namespace agni
