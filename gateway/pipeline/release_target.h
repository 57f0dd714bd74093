// Recognises the release route in a raw request target and extracts the phone
// number from it. Pure functions; no HTTP library types.
#pragma once

#include <string>
#include <string_view>

#include "base/e164.h"

namespace agni {

inline constexpr std::string_view kReleasePrefix = "/api/v1/phone-numbers/";
inline constexpr std::string_view kReleaseSuffix = "/release/";
// Longest raw request target the release route considers at all.
inline constexpr std::size_t kMaxReleaseTarget = 256;

// What the raw request target (path plus optional query, exactly as the client
// sent it, nothing decoded) means for the release route.
struct ReleaseTarget {
  enum class Kind {
    kRelease,        // a well-formed release of `phone_number`
    kInvalidNumber,  // release-shaped, but the number or the target is
                     // malformed
    kOtherRoute,     // not the release route at all (404 unless another route)
  };
  Kind kind = Kind::kOtherRoute;
  std::string phone_number;   // canonical E.164, set for kRelease
  std::string upstream_path;  // canonical path to forward, set for kRelease
  std::string problem;        // human-readable reason, set for kInvalidNumber
};

// Accepts the number raw ("+1415...") or with its '+' percent-encoded ("%2B" or
// "%2b"). Rejects everything else: any other percent escape (so double encoding
// such as %252B), extra or missing segments, dot segments, NUL, spaces,
// non-ASCII, overlong targets and any query string, since the upstream call
// takes none and a query could smuggle a second number past policy.
ReleaseTarget ParseReleaseTarget(std::string_view raw_target);

// The canonical upstream path for a valid E.164 number ('+' sent as %2B).
std::string CanonicalReleasePath(std::string_view e164);

}  // namespace agni
