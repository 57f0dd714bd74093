#include "gateway/pipeline/release_target.h"

namespace agni {
namespace {

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

ReleaseTarget Invalid(std::string problem) {
  ReleaseTarget t;
  t.kind = ReleaseTarget::Kind::kInvalidNumber;
  t.problem = std::move(problem);
  return t;
}

}  // namespace

std::string CanonicalReleasePath(std::string_view e164) {
  std::string path(kReleasePrefix);
  path += "%2B";
  path += e164.substr(1);
  path += kReleaseSuffix;
  return path;
}

ReleaseTarget ParseReleaseTarget(std::string_view raw_target) {
  const std::size_t query_at = raw_target.find('?');
  const std::string_view path = raw_target.substr(0, query_at);

  if (!path.starts_with(kReleasePrefix)) return {};
  // From here on the client clearly meant the release route, so a malformed
  // target is a 400 that says why rather than a bare 404.
  if (raw_target.size() > kMaxReleaseTarget) {
    return Invalid("the request target is too long");
  }
  if (query_at != std::string_view::npos) {
    return Invalid("the release path takes no query string");
  }
  if (!path.ends_with(kReleaseSuffix) ||
      path.size() < kReleasePrefix.size() + kReleaseSuffix.size()) {
    if (path.find("/release") == std::string_view::npos) return {};
    return Invalid(
        "expected /api/v1/phone-numbers/{phone_number}/release/ with exactly "
        "one "
        "path segment for the number");
  }
  const std::string_view encoded =
      path.substr(kReleasePrefix.size(),
                  path.size() - kReleasePrefix.size() - kReleaseSuffix.size());
  if (encoded.empty()) return Invalid("the phone number is missing");

  std::string number;
  number.reserve(encoded.size());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (c == '%') {
      if (i + 2 < encoded.size() && encoded[i + 1] == '2' &&
          (encoded[i + 2] == 'B' || encoded[i + 2] == 'b')) {
        number.push_back('+');
        i += 2;
        continue;
      }
      return Invalid(
          "only the '+' may be percent-encoded (as %2B) in the phone number");
    }
    if (c == '+' || IsAsciiDigit(c)) {
      number.push_back(c);
      continue;
    }
    return Invalid(
        "the phone number must be E.164: '+' followed by 2 to 15 digits");
  }
  if (!IsE164(number)) {
    return Invalid(
        "the phone number must be E.164: '+' followed by 2 to 15 digits, the "
        "first of them 1-9");
  }
  ReleaseTarget t;
  t.kind = ReleaseTarget::Kind::kRelease;
  t.upstream_path = CanonicalReleasePath(number);
  t.phone_number = std::move(number);
  return t;
}

}  // namespace agni
