// libFuzzer target: the JSON body of POST /v1/approvals/{id}/approve|deny.
// Checks the parser's contract on every input:
// - an accepted body is empty or a JSON object whose only key is "reason"
//   with a string of at most 1000 bytes, and the reason returned is that
//   string;
// - anything else is refused with a message.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "gateway/approvals/approvals_api.h"
#include "tests/fuzz/contract.h"

using agni::fuzz::Fail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  std::string reason;
  const std::string error = agni::ParseDecisionBody(body, reason);
  if (!error.empty()) return 0;
  if (body.empty()) {
    if (!reason.empty()) Fail("an empty body produced a reason");
    return 0;
  }
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) Fail("accepted a non-object body");
  for (const auto& [key, value] : j.items()) {
    if (key != "reason") Fail("accepted an unknown key");
    if (!value.is_string()) Fail("accepted a non-string reason");
    if (value.get<std::string>() != reason) Fail("reason not the body's");
  }
  if (reason.size() > 1000) Fail("accepted an overlong reason");
  return 0;
}
