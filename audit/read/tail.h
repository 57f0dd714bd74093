// `audit tail`: the records after a seq as JSONL (the export's lines), and
// with `follow` the new ones as they commit, for a log shipper (Vector,
// Fluent Bit, rsyslog imfile/omprog) to pick up. Reads on a read-only
// connection in short read transactions (WAL): never blocks the writer, and
// never holds a snapshot long enough to keep the WAL from restarting.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

namespace agni::audit {

struct TailOptions {
  std::string db_path;
  std::int64_t after_seq = 0;  // prints from after_seq + 1 on
  bool follow = false;
  std::chrono::milliseconds poll{200};  // how often `follow` looks
  // With `follow`: asked between polls; true ends the tail. Empty: never.
  std::function<bool()> stop;
};

// How a tail ended; a plain value.
struct TailResult {
  int exit_code = 0;  // 0, or 2: the database cannot be read
  std::string error;
  std::int64_t records = 0;
  std::int64_t last_seq = 0;  // the last seq printed (after_seq if none)
};

// Writes to `out` and flushes after every batch. Ends when `out` fails (the
// reader went away) with exit code 0.
TailResult Tail(const TailOptions& options, std::ostream& out);

}  // namespace agni::audit
