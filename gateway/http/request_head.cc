#include "gateway/http/request_head.h"

#include <strings.h>

#include <algorithm>
#include <cstring>
#include <string_view>

namespace agni {
namespace {

bool IsAuthorizationLine(std::string_view line) {
  constexpr std::string_view kName = "authorization:";
  return line.size() >= kName.size() &&
         strncasecmp(line.data(), kName.data(), kName.size()) == 0;
}

}  // namespace

void RequestHeadReader::BeginRequest() {
  in_head_ = true;
  first_line_ = true;
  too_large_ = false;
}

ssize_t RequestHeadReader::ReadMore(char* ptr, std::size_t size) {
  // Bounded: every NextLine() reads at least one byte or returns its result.
  while (in_head_ && !HasPending()) {
    const ssize_t r = NextLine();
    if (r <= 0) return r;
  }
  if (!HasPending()) return source_.ReadRaw(ptr, size);
  const std::size_t n = std::min(size, out_.size() - out_off_);
  std::memcpy(ptr, out_.data() + out_off_, n);
  out_off_ += n;
  if (out_off_ == out_.size()) {
    out_.clear();
    out_off_ = 0;
  }
  return static_cast<ssize_t>(n);
}

ssize_t RequestHeadReader::NextLine() {
  // out_ is empty here: the line is read into it (no allocation per line).
  std::string& line = out_;
  out_off_ = 0;
  // Bounded: each round reads at least one byte or returns, and a line ends
  // at a '\n' or at one byte past the limit that applies to it.
  for (;;) {
    const std::size_t limit =
        IsAuthorizationLine(line) ? kMaxCredentialLine : kLibraryLineLimit;
    char chunk[1024];
    const ssize_t n = source_.ReadLinePart(
        chunk, std::min(sizeof chunk, limit + 1 - line.size()));
    if (n > 0) line.append(chunk, static_cast<std::size_t>(n));
    if (n <= 0) {
      if (line.empty()) return n;
      // The head ends mid-line: httplib gets what came, as it would have.
      in_head_ = false;
      return 1;
    }
    if (line.back() == '\n') break;
    if (line.size() > kMaxCredentialLine ||
        (line.size() > kLibraryLineLimit && !IsAuthorizationLine(line))) {
      // httplib refuses this line itself; the rest passes as it comes.
      in_head_ = false;
      return 1;
    }
  }
  if (first_line_) {
    first_line_ = false;  // the request line: httplib judges its length
  } else if (line == "\r\n") {
    in_head_ = false;  // the body (if any) passes as it comes
  } else if (line.size() > kLibraryLineLimit && IsAuthorizationLine(line)) {
    too_large_ = true;
    line.clear();
  }
  return 1;
}

}  // namespace agni
