// Writing JSON text by hand on the hot paths (audit records, the request log,
// problem+json bodies) with exactly the bytes nlohmann's dump() would write.
#pragma once

#include <string>
#include <string_view>

namespace agni {

// Appends `v` as a JSON string literal, as nlohmann::json(v).dump(-1, ' ',
// ensure_ascii, error_handler_t::replace) writes it. ASCII (nearly all the
// gateway writes) is escaped here; text with any byte above 0x7f goes through
// nlohmann, so UTF-8 handling, valid or not, is byte for byte the same.
void AppendJsonString(std::string& out, std::string_view v, bool ensure_ascii);

}  // namespace agni
