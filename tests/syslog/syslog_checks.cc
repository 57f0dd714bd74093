#include "tests/syslog/syslog_checks.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <sstream>

#include "audit/record_io.h"

namespace agni::testing {

std::vector<std::string> ExportLines(const std::string& db_path) {
  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  std::ostringstream out;
  std::int64_t records = 0;
  audit::WriteJsonlRows(db, 1, INT64_MAX, out, records);
  std::vector<std::string> lines;
  std::istringstream in(out.str());
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void ExpectEachOnce(const RsyslogServer& peer, std::int64_t last,
                    std::int64_t dup_after, std::int64_t dup_upto) {
  const std::map<std::int64_t, int> counts = SeqCounts(peer.Messages());
  EXPECT_EQ(counts.size(), static_cast<std::size_t>(last));
  int duplicated = 0;
  for (std::int64_t seq = 1; seq <= last; ++seq) {
    auto it = counts.find(seq);
    ASSERT_NE(it, counts.end()) << "seq " << seq << " never arrived";
    if (seq > dup_after && seq <= dup_upto) {
      EXPECT_LE(it->second, 2) << "seq " << seq;
      duplicated += it->second - 1;
    } else {
      EXPECT_EQ(it->second, 1) << "seq " << seq << " arrived more than once";
    }
  }
  if (duplicated > 0) {
    std::printf(
        "%d records of the session in flight at the peer's stop "
        "arrived twice (allowed: seq %lld to %lld)\n",
        duplicated, static_cast<long long>(dup_after + 1),
        static_cast<long long>(dup_upto));
  }
}

}  // namespace agni::testing
