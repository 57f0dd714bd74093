// What the syslog tests check the peer received, shared by the sink's tests
// and the gateway's: every record once, in the form the export writes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/syslog/rsyslog_server.h"

namespace agni::testing {

// The lines `audit export --format jsonl` writes for the database.
std::vector<std::string> ExportLines(const std::string& db_path);

// Every seq from 1 to `last` arrived, and nothing else; a seq arrived twice
// only if it lies in (dup_after, dup_upto]: the records of the one session
// that was in flight when the peer stopped (the peer read them, then closed
// before reading the session's end, so the sink could not know and sent them
// again).
void ExpectEachOnce(const RsyslogServer& peer, std::int64_t last,
                    std::int64_t dup_after = 0, std::int64_t dup_upto = 0);

}  // namespace agni::testing
