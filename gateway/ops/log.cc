#include "gateway/ops/log.h"

#include <charconv>
#include <chrono>
#include <cstdio>

#include "audit/record.h"
#include "base/json_object_writer.h"

namespace agni {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsSecretKey(std::string_view key) {
  std::string lower;
  for (char c : key) {
    lower.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a')
                                         : c);
  }
  for (std::string_view s :
       {"token", "authorization", "api_key", "apikey", "x-api-key", "secret",
        "password", "key", "credential"}) {
    if (lower.find(s) != std::string::npos) return true;
  }
  return false;
}

void Sanitize(nlohmann::json& value) {
  if (value.is_string()) {
    value = MaskPhoneNumbers(value.get_ref<const std::string&>());
  } else if (value.is_array()) {
    for (auto& v : value) Sanitize(v);
  } else if (value.is_object()) {
    for (auto& [k, v] : value.items()) {
      if (IsSecretKey(k)) {
        v = "[redacted]";
      } else {
        Sanitize(v);
      }
    }
  }
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn" || name == "warning") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return std::nullopt;
}

std::string MaskPhoneNumbers(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t prefix = 0;
    if (text[i] == '+') {
      prefix = 1;
    } else if (text.substr(i, 3) == "%2B" || text.substr(i, 3) == "%2b") {
      prefix = 3;
    }
    if (prefix == 0) {
      out.push_back(text[i++]);
      continue;
    }
    std::size_t end = i + prefix;
    while (end < text.size() && IsDigit(text[end])) ++end;
    const std::size_t digits = end - i - prefix;
    out.append(text.substr(i, prefix));
    if (digits >= 7) {
      const std::string_view d = text.substr(i + prefix, digits);
      out.append(d.substr(0, 4));
      out.append(digits - 6, '*');
      out.append(d.substr(digits - 2));
    } else {
      out.append(text.substr(i + prefix, digits));
    }
    i = end;
  }
  return out;
}

void Logger::Log(LogLevel level, std::string_view message,
                 nlohmann::json fields) const {
  if (level < min_) return;
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
  if (!fields.is_object()) fields = {{"fields", std::move(fields)}};
  Sanitize(fields);
  fields["time"] =
      audit::FormatTime(std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
  fields["level"] = kNames[static_cast<int>(level)];
  fields["message"] = MaskPhoneNumbers(message);
  std::string line =
      fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line.push_back('\n');
  // One fwrite per line: stdio locks the stream, so lines never interleave.
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

void Logger::Request(std::string_view request_id, std::string_view route,
                     std::string_view method, int status,
                     std::string_view reason, double duration_seconds,
                     std::string_view user) const {
  const LogLevel level = status >= 500 ? LogLevel::kWarn : LogLevel::kInfo;
  if (level < min_) return;
  // One line per request on the hot path: written directly rather than
  // through a json object (a map node per field, then Sanitize and dump),
  // with the same keys in the same (sorted) order, the same masking and the
  // same escaping as Log(). No field of this line is named like a secret.
  std::string line;
  line.reserve(256);
  JsonObjectWriter json(line);
  // Every value goes through MaskPhoneNumbers, as in Log().
  auto text = [&](std::string_view k, std::string_view v) {
    json.Text(k, MaskPhoneNumbers(v));
  };
  char number[32];
  const auto [end, ec] =
      std::to_chars(number, number + sizeof number, duration_seconds);
  json.Raw("duration",
           std::string_view(number, ec == std::errc() ? end : number));
  text("level", level == LogLevel::kWarn ? "warn" : "info");
  text("message", "request");
  text("method", method);
  text("reason", reason);
  text("request_id", request_id);
  text("route", route);
  json.Raw("status", std::to_string(status));
  text("time", audit::FormatTime(
                   std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count()));
  if (!user.empty()) text("user", user);
  json.Close();
  line += "\n";
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace agni
