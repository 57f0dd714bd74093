// Structured logging: one JSON object per line on stderr. Thread-safe.
// Callers pass only fixed messages and validated values: never a token or key.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace agni {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

class Logger {
 public:
  explicit Logger(LogLevel min_level = LogLevel::kInfo) : min_(min_level) {}
  void Log(LogLevel level, std::string_view message,
           nlohmann::json fields = nlohmann::json::object()) const;
  void Info(std::string_view m, nlohmann::json f = nlohmann::json::object()) const {
    Log(LogLevel::kInfo, m, std::move(f));
  }
  void Warn(std::string_view m, nlohmann::json f = nlohmann::json::object()) const {
    Log(LogLevel::kWarn, m, std::move(f));
  }
  void Error(std::string_view m, nlohmann::json f = nlohmann::json::object()) const {
    Log(LogLevel::kError, m, std::move(f));
  }

 private:
  LogLevel min_;
};

}  // namespace agni
