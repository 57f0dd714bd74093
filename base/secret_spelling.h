// Finding a secret in text whatever its spelling: plain, JSON-escaped (`\/`,
// `\"`, `\\`, `\b \f \n \r \t`, `\uXXXX` of any character including
// surrogate pairs, either hex case), percent-encoded (either hex case, `+`
// for a space), HTML character references (`&#47;`, `&#x2F;`, `&quot;`...),
// and any mix of these from one character to the next.
#pragma once

#include <string>
#include <string_view>

namespace agni {

// Replaces every spelling of `secret` in `text` with "[REDACTED]". An empty
// secret changes nothing.
std::string RedactSpellings(std::string_view text, std::string_view secret);

// Whether `text` holds `secret` in any spelling above.
bool HasSpelling(std::string_view text, std::string_view secret);

// Whether `text` holds `secret` after decoding it whole up to two times with
// any of percent-decoding, JSON unescaping or HTML unescaping, in any order
// (a double-encoded key, or one escaped across what RedactSpellings sees as
// separate characters). The last line of defence: text for which this holds
// must not reach a client.
bool HasLayeredSpelling(std::string_view text, std::string_view secret);

// False only when `text` certainly holds no spelling of `secret`, layered or
// not (no escape can be in it and the secret is not in it literally): a scan
// of a few bytes that lets callers skip the full search, and the parse around
// it, for the usual text.
bool MayHoldSpelling(std::string_view text, std::string_view secret);

}  // namespace agni
