// Keeping the upstream key out of what the upstream answers: an upstream may
// echo the key it received (an error body quoting the request, a
// vendor-style "invalid key: ..."), in any spelling a client could decode.
#pragma once

#include <string>
#include <string_view>

namespace agni {

// Replaces every spelling of `secret` in `text` (see base/secret_spelling.h)
// with "[REDACTED]".
std::string Scrub(std::string text, const std::string& secret);

struct ScrubbedResponse {
  std::string body;
  std::string content_type;
  bool withheld = false;  // the body was replaced by a generic problem
};

// What a client may see of an upstream response with `status`, `body` and
// `content_type`:
// - a body that parses as JSON has every string (names and values) scrubbed
//   of every spelling of the key and is written again from those strings
//   (its bytes kept when nothing in it spelled the key);
// - any other body, and the content type, has every spelling replaced;
// - when what would be sent still holds the key after decoding it (twice
//   over, e.g. a double percent-encoding), the body and content type become
//   a generic problem instead: fail closed.
ScrubbedResponse ScrubUpstreamResponse(int status, std::string body,
                                       std::string content_type,
                                       std::string_view secret);

}  // namespace agni
