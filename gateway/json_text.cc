#include "gateway/json_text.h"

#include <nlohmann/json.hpp>

namespace agni {

void AppendJsonString(std::string& out, std::string_view v, bool ensure_ascii) {
  for (unsigned char c : v) {
    if (c >= 0x80) {
      // UTF-8 (valid or not): nlohmann's decoder decides the bytes.
      out += nlohmann::json(v).dump(-1, ' ', ensure_ascii,
                                    nlohmann::json::error_handler_t::replace);
      return;
    }
  }
  // ASCII: the escapes nlohmann's serializer uses (short forms where JSON
  // has them, else \u00xx in lowercase hex; DEL only when ensuring ASCII).
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || (c == 0x7f && ensure_ascii)) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

}  // namespace agni
