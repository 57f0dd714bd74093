#include "base/json_text.h"

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
  // Runs of plain characters are copied in one piece.
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t plain_from = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && !(c == 0x7f && ensure_ascii)) {
      continue;
    }
    out.append(v.data() + plain_from, i - plain_from);
    plain_from = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.append(v.data() + plain_from, v.size() - plain_from);
  out.push_back('"');
}

}  // namespace agni
