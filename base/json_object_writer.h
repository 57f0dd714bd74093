// Writes one flat JSON object, field by field, straight into a string: for
// the hot paths that cannot afford a nlohmann::json (the request log line,
// problem bodies). The caller writes keys in the order it wants them (sorted,
// to match what nlohmann would print). One object per writer; not
// thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/json_text.h"

namespace agni {

class JsonObjectWriter {
 public:
  explicit JsonObjectWriter(std::string& out) : out_(out) {}

  // Starts a field; the caller appends its raw JSON value to out().
  void Key(std::string_view key) {
    out_ += first_ ? "{\"" : ",\"";
    first_ = false;
    out_ += key;
    out_ += "\":";
  }
  // A field whose value is a string, escaped (invalid UTF-8 replaced).
  void Text(std::string_view key, std::string_view value) {
    Key(key);
    AppendJsonString(out_, value, /*ensure_ascii=*/false);
  }
  // A field whose value is already JSON (a number, true, false).
  void Raw(std::string_view key, std::string_view json) {
    Key(key);
    out_ += json;
  }
  void Close() { out_ += first_ ? "{}" : "}"; }
  std::string& out() { return out_; }

 private:
  std::string& out_;
  bool first_ = true;
};

}  // namespace agni
