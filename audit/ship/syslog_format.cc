#include "audit/ship/syslog_format.h"

#include "audit/record.h"

namespace agni::audit {
namespace {

std::string HeaderField(std::string_view value, std::size_t max_length) {
  std::string out;
  for (char c : value) {
    if (out.size() == max_length) break;
    // PRINTUSASCII: a space would end the field, anything else is not allowed.
    if (c >= 33 && c <= 126) out.push_back(c);
  }
  return out.empty() ? std::string("-") : out;
}

}  // namespace

SyslogHeader MakeSyslogHeader(std::string_view hostname,
                              std::string_view app_name, std::int64_t procid) {
  return {HeaderField(hostname, 255), HeaderField(app_name, 48),
          HeaderField(std::to_string(procid), 128)};
}

std::string EscapeSdParamValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '"' || c == '\\' || c == ']') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

void AppendSyslogFrame(const SyslogHeader& header, std::int64_t seq,
                       std::string_view time, std::string_view hash,
                       std::string_view json, std::string& out) {
  std::string msg;
  msg.reserve(160 + header.hostname.size() + json.size());
  msg.append("<")
      .append(std::to_string(kSyslogFacility * 8 + kSyslogSeverity))
      .append(">1 ")
      .append(ParseTime(time) ? time : std::string_view("-"))
      .append(" ")
      .append(header.hostname)
      .append(" ")
      .append(header.app_name)
      .append(" ")
      .append(header.procid)
      .append(" ")
      .append(kSyslogMsgId)
      .append(" [")
      .append(kSyslogSdId)
      .append(" seq=\"")
      .append(std::to_string(seq))
      .append("\" hash=\"")
      .append(EscapeSdParamValue(hash))
      .append("\"] ")
      .append(json);
  out.append(std::to_string(msg.size())).append(" ").append(msg);
}

}  // namespace agni::audit
