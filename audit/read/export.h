// `audit export`: streams audit records to JSONL or CSV in constant memory,
// each with seq, prev_hash and hash, for auditors and SIEMs. A JSONL export
// can itself be checked with `audit verify --jsonl FILE`.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace agni::audit {

struct ExportOptions {
  std::string db_path;
  std::string format = "jsonl";  // jsonl | csv
  // Bounds: a seq number ("1200") or a UTC time ("2026-11-26",
  // "2026-11-26T16:00:00Z"). Time bounds select the contiguous seq range from
  // the first record at or after `from` to the last at or before `to`, so the
  // export stays one unbroken piece of the chain.
  std::string from;
  std::string to;
};

struct ExportResult {
  int exit_code = 0;  // 0 ok, 2 unreadable or bad arguments
  std::int64_t records = 0;
  std::string error;
};

ExportResult Export(const ExportOptions& options, std::ostream& out);

// RFC 4180: a field with a comma, quote, CR or LF is quoted, quotes doubled.
std::string CsvField(std::string_view value);

// One data cell of the CSV export, safe to open in a spreadsheet: a value a
// spreadsheet would run as a formula (starting with '=', '@', tab or CR, or
// with '+'/'-' and not a plain number such as an E.164 number or "-5") gets
// a leading apostrophe; every control byte (0x00-0x1F but LF, and 0x7F) becomes
// "\xNN" and a backslash "\\", so the escaping can be undone; then
// CsvField(). The JSONL export stays byte-exact.
std::string CsvCell(std::string_view value);

}  // namespace agni::audit
