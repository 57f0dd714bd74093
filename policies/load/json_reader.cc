#include "policies/load/json_reader.h"

#include <charconv>

namespace agni {

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0 || digits > 9) return std::nullopt;
  long long value = 0;
  std::from_chars(text.data(), text.data() + digits, value);
  const std::string_view unit = text.substr(digits);
  using std::chrono::milliseconds;
  if (unit == "ms") return milliseconds(value);
  if (unit == "s") return milliseconds(value * 1000);
  if (unit == "m") return milliseconds(value * 60'000);
  if (unit == "h") return milliseconds(value * 3'600'000);
  if (unit == "d") return milliseconds(value * 86'400'000);
  return std::nullopt;
}

ObjectReader::ObjectReader(const nlohmann::json& value, std::string path,
                           ConfigErrors& errors,
                           std::initializer_list<std::string_view> allowed)
    : path_(std::move(path)), errors_(errors) {
  if (!value.is_object()) {
    Error(path_, "must be an object");
    return;
  }
  object_ = &value;
  for (const auto& [key, unused] : value.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    if (!known) Error(PathOf(key), "unknown key");
  }
}

bool ObjectReader::Has(std::string_view key) const {
  return Get(key) != nullptr;
}

std::string ObjectReader::PathOf(std::string_view key) const {
  return path_ + "." + std::string(key);
}

const nlohmann::json* ObjectReader::Get(std::string_view key) const {
  if (object_ == nullptr) return nullptr;
  auto it = object_->find(key);
  return it == object_->end() ? nullptr : &*it;
}

void ObjectReader::Error(std::string path, std::string message) {
  errors_.push_back({std::move(path), std::move(message)});
}

const nlohmann::json* ObjectReader::Typed(
    std::string_view key, bool required, bool (*is_type)(const nlohmann::json&),
    std::string_view type_error) {
  const nlohmann::json* v = Get(key);
  if (v == nullptr) {
    if (required && ok()) Error(PathOf(key), "is required");
    return nullptr;
  }
  if (!is_type(*v)) {
    Error(PathOf(key), std::string(type_error));
    return nullptr;
  }
  return v;
}

std::optional<std::string> ObjectReader::String(std::string_view key,
                                                bool required) {
  const nlohmann::json* v = Typed(
      key, required, [](const nlohmann::json& j) { return j.is_string(); },
      "must be a string");
  if (v == nullptr) return std::nullopt;
  return v->get<std::string>();
}

std::optional<bool> ObjectReader::Bool(std::string_view key) {
  const nlohmann::json* v = Typed(
      key, false, [](const nlohmann::json& j) { return j.is_boolean(); },
      "must be true or false");
  if (v == nullptr) return std::nullopt;
  return v->get<bool>();
}

std::optional<long long> ObjectReader::Integer(std::string_view key,
                                               long long min, long long max) {
  const nlohmann::json* v = Typed(
      key, false, [](const nlohmann::json& j) { return j.is_number_integer(); },
      "must be an integer");
  if (v == nullptr) return std::nullopt;
  const long long n = v->get<long long>();
  if (n < min || n > max) {
    Error(PathOf(key), "must be between " + std::to_string(min) + " and " +
                           std::to_string(max));
    return std::nullopt;
  }
  return n;
}

std::optional<std::vector<std::string>> ObjectReader::StringList(
    std::string_view key, bool required) {
  const nlohmann::json* v = Typed(
      key, required, [](const nlohmann::json& j) { return j.is_array(); },
      "must be an array of strings");
  if (v == nullptr) return std::nullopt;
  std::vector<std::string> out;
  bool good = true;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const auto& item = (*v)[i];
    if (!item.is_string() || item.get_ref<const std::string&>().empty()) {
      Error(PathOf(key) + "[" + std::to_string(i) + "]",
            "must be a non-empty string");
      good = false;
      continue;
    }
    out.push_back(item.get<std::string>());
  }
  if (!good) return std::nullopt;
  return out;
}

std::optional<std::chrono::milliseconds> ObjectReader::Duration(
    std::string_view key, bool required) {
  std::optional<std::string> text = String(key, required);
  if (!text) return std::nullopt;
  auto d = ParseDuration(*text);
  if (!d || d->count() <= 0) {
    Error(PathOf(key),
          "must be a positive duration such as \"250ms\", \"90s\", \"15m\" or "
          "\"24h\" (got \"" +
              *text + "\")");
    return std::nullopt;
  }
  return d;
}

}  // namespace agni
