// RFC 5424 messages and RFC 5425 octet-counting frames for audit records.
//
// One record is one message:
//   <110>1 2026-11-26T16:47:10.123456Z HOST APP PROCID audit
//   [agni@32473 seq="12" hash="ab…"] {"decision":"allow",…}
// PRI 110 is facility 13 ("log audit") with severity 6 (informational); the
// MSG is the record exactly as `audit export --format jsonl` writes it (the
// canonical form plus `hash`, ASCII only), so a SIEM can re-verify the chain
// from what it received. 32473 is the example enterprise number of RFC 5612.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace agni::audit {

inline constexpr int kSyslogFacility = 13;  // log audit
inline constexpr int kSyslogSeverity = 6;   // informational
inline constexpr std::string_view kSyslogMsgId = "audit";
inline constexpr std::string_view kSyslogSdId = "agni@32473";

// The fixed header fields of every message a sink sends. Immutable after
// construction, so any thread may format with it.
struct SyslogHeader {
  std::string hostname;  // sanitised by MakeSyslogHeader
  std::string app_name;
  std::string procid;
};

// Header fields made safe for RFC 5424: printable US-ASCII without spaces,
// cut to their maximum length (255, 48, 128), "-" (the NILVALUE) when empty.
SyslogHeader MakeSyslogHeader(std::string_view hostname,
                              std::string_view app_name, std::int64_t procid);

// An SD-PARAM value with `"`, `\` and `]` escaped by a backslash (RFC 5424
// section 6.3.3).
std::string EscapeSdParamValue(std::string_view value);

// Appends one RFC 5425 frame ("LEN SP SYSLOG-MSG") to `out`. `time` is the
// record's time as FormatTime() writes it (anything else becomes "-"),
// `json` its export line without the newline.
void AppendSyslogFrame(const SyslogHeader& header, std::int64_t seq,
                       std::string_view time, std::string_view hash,
                       std::string_view json, std::string& out);

}  // namespace agni::audit
