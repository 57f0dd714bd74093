// Structured logging: one JSON object per line on stderr. Thread-safe.
//
// Every line carries "time", "level" and "message"; request lines add
// request_id, route, method, status, reason and duration (seconds). Callers
// pass only fixed messages and validated values, and the logger enforces the
// two rules a log must never break on its own:
//   - a field named like a credential (token, authorization, api_key, key,
//     secret, password) is written as "[redacted]", whatever its value;
//   - phone numbers are masked ("+1555*****67"): the audit holds them in
//     full, the log only enough to correlate.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace agni {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// "debug" | "info" | "warn" | "error" (also "warning"); nullopt otherwise.
std::optional<LogLevel> ParseLogLevel(std::string_view name);

// Masks every phone number in `text`: a run of 7+ digits that follows "+" or
// "%2B" keeps its first 4 and last 2 digits ("+15551234567" ->
// "+1555*****67"). Exposed for tests.
std::string MaskPhoneNumbers(std::string_view text);

class Logger {
 public:
  // `out` is stderr in the gateway; tests pass a temporary file.
  explicit Logger(LogLevel min_level = LogLevel::kInfo, std::FILE* out = stderr)
      : min_(min_level), out_(out) {}
  bool Enabled(LogLevel level) const { return level >= min_; }
  void Log(LogLevel level, std::string_view message,
           nlohmann::json fields = nlohmann::json::object()) const;
  void Debug(std::string_view m,
             nlohmann::json f = nlohmann::json::object()) const {
    Log(LogLevel::kDebug, m, std::move(f));
  }
  void Info(std::string_view m,
            nlohmann::json f = nlohmann::json::object()) const {
    Log(LogLevel::kInfo, m, std::move(f));
  }
  void Warn(std::string_view m,
            nlohmann::json f = nlohmann::json::object()) const {
    Log(LogLevel::kWarn, m, std::move(f));
  }
  void Error(std::string_view m,
             nlohmann::json f = nlohmann::json::object()) const {
    Log(LogLevel::kError, m, std::move(f));
  }

  // The access-log line of one answered request on the main listener: info,
  // or warn for a 5xx. `reason` is the gateway's reason code ("" when the
  // upstream's answer was passed through).
  void Request(std::string_view request_id, std::string_view route,
               std::string_view method, int status, std::string_view reason,
               double duration_seconds, std::string_view user) const;

 private:
  LogLevel min_;
  std::FILE* out_;
};

}  // namespace agni
