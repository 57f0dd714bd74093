// Whether a release got its durable intent: the start-up check that decides
// if an approval consumed before a stop was really used (DESIGN.md §13).
#pragma once

#include <string>

namespace agni::audit {

// True when the audit log at `db_path` holds an intent record of
// `request_id`. Opens its own read-only connection; thread-safe. Throws
// std::exception when the log cannot be read.
bool HasIntent(const std::string& db_path, const std::string& request_id);

}  // namespace agni::audit
