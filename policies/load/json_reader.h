// Reads typed fields out of a JSON object while recording, instead of throwing,
// every problem with the JSON path where it occurred. Used by every loader so
// that `check-config` can list all errors at once.
#pragma once

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "policies/errors.h"

namespace agni {

// Parses "250ms", "90s", "15m", "24h" or "7d". Nothing else: no bare numbers,
// no fractions, no combinations, so a typo never silently becomes a default.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// A view of one JSON object at `path`. Not thread-safe; lives for one load.
class ObjectReader {
 public:
  // Records an error if `value` is not an object, and one for every key not
  // in `allowed`.
  ObjectReader(const nlohmann::json& value, std::string path,
               ConfigErrors& errors,
               std::initializer_list<std::string_view> allowed);

  bool ok() const { return object_ != nullptr; }
  bool Has(std::string_view key) const;
  std::string PathOf(std::string_view key) const;
  const nlohmann::json* Get(std::string_view key) const;

  // Each returns nullopt (and records why) when the key is missing and
  // `required`, or present with the wrong type or shape.
  std::optional<std::string> String(std::string_view key, bool required);
  std::optional<bool> Bool(std::string_view key);
  std::optional<long long> Integer(std::string_view key, long long min,
                                   long long max);
  // Integer() stored into `out` when present and in range; `out` keeps its
  // default otherwise.
  template <typename T>
  void IntegerInto(std::string_view key, long long min, long long max, T& out) {
    if (std::optional<long long> v = Integer(key, min, max)) {
      out = static_cast<T>(*v);
    }
  }
  std::optional<std::vector<std::string>> StringList(std::string_view key,
                                                     bool required);
  std::optional<std::chrono::milliseconds> Duration(std::string_view key,
                                                    bool required);

  void Error(std::string path, std::string message);
  ConfigErrors& errors() { return errors_; }

 private:
  // The value at `key` when present and `is_type`; else nullptr, with "is
  // required" (when `required`) or `type_error` recorded.
  const nlohmann::json* Typed(std::string_view key, bool required,
                              bool (*is_type)(const nlohmann::json&),
                              std::string_view type_error);

  const nlohmann::json* object_ = nullptr;
  std::string path_;
  ConfigErrors& errors_;
};

}  // namespace agni
