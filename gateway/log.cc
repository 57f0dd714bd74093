#include "gateway/log.h"

#include <chrono>
#include <cstdio>

#include "audit/record.h"

namespace agni {

void Logger::Log(LogLevel level, std::string_view message,
                 nlohmann::json fields) const {
  if (level < min_) return;
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
  fields["time"] = audit::FormatTime(
      std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  fields["level"] = kNames[static_cast<int>(level)];
  fields["message"] = message;
  std::string line =
      fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line.push_back('\n');
  // One fwrite per line: stdio locks the stream, so lines never interleave.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace agni
