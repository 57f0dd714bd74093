// libFuzzer target: the release route parser sees every raw request target a
// client can send. Besides "no crash, no sanitizer report" it checks the
// parser's contract on every input, so a logic slip is a finding too:
// - a release has an E.164 number and forwards exactly its canonical path,
//   and that path parses back to the same number (no second interpretation);
// - the forwarded path carries only the prefix, "%2B", digits and the suffix;
// - anything release-shaped that is not a release says why.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "gateway/pipeline/release_target.h"
#include "tests/fuzz/contract.h"

using agni::fuzz::Fail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  using Kind = agni::ReleaseTarget::Kind;

  const agni::ReleaseTarget t = agni::ParseReleaseTarget(raw);
  switch (t.kind) {
    case Kind::kRelease: {
      if (!agni::IsE164(t.phone_number)) Fail("release of a non-E.164 number");
      if (t.upstream_path != agni::CanonicalReleasePath(t.phone_number)) {
        Fail("forwarded path is not the canonical one");
      }
      if (raw.size() > agni::kMaxReleaseTarget)
        Fail("overlong target accepted");
      if (raw.find('?') != std::string_view::npos) Fail("query accepted");
      const std::string_view digits =
          std::string_view(t.upstream_path)
              .substr(agni::kReleasePrefix.size() + 3,
                      t.phone_number.size() - 1);
      for (char c : digits) {
        if (c < '0' || c > '9') Fail("non-digit in the forwarded number");
      }
      const agni::ReleaseTarget again =
          agni::ParseReleaseTarget(t.upstream_path);
      if (again.kind != Kind::kRelease ||
          again.phone_number != t.phone_number ||
          again.upstream_path != t.upstream_path) {
        Fail("canonical path does not round-trip");
      }
      break;
    }
    case Kind::kInvalidNumber:
      if (t.problem.empty()) Fail("invalid target without a reason");
      if (!t.phone_number.empty() || !t.upstream_path.empty()) {
        Fail("invalid target carries a number or path");
      }
      break;
    case Kind::kOtherRoute:
      if (raw.starts_with(agni::kReleasePrefix) &&
          raw.find("/release") != std::string_view::npos &&
          raw.find('?') == std::string_view::npos) {
        // A release-shaped target is a release or a 400 naming why, never a
        // silent 404.
        Fail("release-shaped target treated as another route");
      }
      if (!t.phone_number.empty() || !t.upstream_path.empty()) {
        Fail("other route carries a number or path");
      }
      break;
  }

  // IsE164 on its own: exactly '+', 1-9, then 1 to 14 digits.
  if (agni::IsE164(raw)) {
    if (raw.size() < 3 || raw.size() > 16 || raw[0] != '+' || raw[1] == '0') {
      Fail("IsE164 accepted a malformed number");
    }
  }
  return 0;
}
