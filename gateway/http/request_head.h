// Reads each request's head (request line and header lines) a line ahead of
// cpp-httplib, to take out an Authorization header too long for httplib's
// header line limit (8 KiB, answered with a bare 400 before any handler
// runs). Such a credential is an oversized token: the gateway refuses it
// itself, as 401 `too_large`, audited (DESIGN.md §10). Every other line
// passes unchanged, so every other limit stays httplib's; an Authorization
// line longer than kMaxCredentialLine passes too, and httplib refuses the
// request as before. One per connection; used by the connection's thread
// only.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace agni {

// Where the head's bytes come from (the connection's socket or TLS session).
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // As recv(): bytes read, 0 at the end, negative on an error or timeout.
  virtual ssize_t ReadRaw(char* ptr, std::size_t size) = 0;
  // As ReadRaw, but never past the first '\n' (which is included): a source
  // that holds bytes read ahead hands out a line's worth at once. The default
  // reads one byte.
  virtual ssize_t ReadLinePart(char* ptr, std::size_t size) {
    return ReadRaw(ptr, size < 1 ? size : 1);
  }
};

class RequestHeadReader {
 public:
  // cpp-httplib 0.11's header line limit (CPPHTTPLIB_HEADER_MAX_LENGTH,
  // compiled into the shared library), counting the line's CRLF.
  static constexpr std::size_t kLibraryLineLimit = 8192;
  // The longest Authorization line taken out here; past it the request is
  // left to httplib, which refuses it.
  static constexpr std::size_t kMaxCredentialLine = 16 * 1024;

  explicit RequestHeadReader(ByteSource& source) : source_(source) {}

  // A new request starts with the next byte read.
  void BeginRequest();
  // As ByteSource::ReadRaw, with the oversized Authorization lines of the
  // current request's head left out. httplib reads the head a byte per
  // call: a byte of a line already read is handed out here, inline.
  ssize_t Read(char* ptr, std::size_t size) {
    if (size == 1 && out_off_ + 1 < out_.size()) {
      *ptr = out_[out_off_++];
      return 1;
    }
    return ReadMore(ptr, size);
  }
  // Bytes read from the source and not yet returned by Read().
  bool HasPending() const { return out_off_ < out_.size(); }
  // True when the current request's head had an Authorization line that was
  // taken out.
  bool authorization_too_large() const { return too_large_; }

 private:
  // Read() past the fast path: the last byte of a line, a larger read, or
  // the next line.
  ssize_t ReadMore(char* ptr, std::size_t size);
  // Reads the next line of the head into out_, deciding whether it passes.
  // Returns the source's result when it ends before a line does.
  ssize_t NextLine();

  ByteSource& source_;
  bool in_head_ = false;
  bool first_line_ = true;
  bool too_large_ = false;
  std::string out_;
  std::size_t out_off_ = 0;
};

}  // namespace agni
