// The request head as cpp-httplib reads it through the connection loop: an
// Authorization line past httplib's line limit is left out and noted; every
// other byte arrives unchanged.
#include "gateway/http/request_head.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

namespace agni {
namespace {

// The client's bytes, handed out at most `chunk` at a time.
class ScriptedSource final : public ByteSource {
 public:
  explicit ScriptedSource(std::string bytes) : bytes_(std::move(bytes)) {}
  ssize_t ReadRaw(char* ptr, std::size_t size) override {
    const std::size_t n = std::min(size, bytes_.size() - off_);
    std::memcpy(ptr, bytes_.data() + off_, n);
    off_ += n;
    return static_cast<ssize_t>(n);
  }

 private:
  std::string bytes_;
  std::size_t off_ = 0;
};

// Everything the reader yields until the source ends, one byte at a time as
// httplib reads a head, or in large reads as it reads a body.
std::string Drain(RequestHeadReader& reader, std::size_t read_size) {
  std::string out;
  std::string buf(read_size, '\0');
  for (int round = 0; round < 1'000'000; ++round) {
    const ssize_t n = reader.Read(buf.data(), buf.size());
    if (n <= 0) break;
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  return out;
}

std::string Head(const std::string& authorization_value) {
  return "GET /v1/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: " +
         authorization_value + "\r\nX-Request-Id: r1\r\n\r\n";
}

TEST(RequestHeadReaderTest, AnOrdinaryRequestPassesUnchanged) {
  const std::string bytes = Head("Bearer abc") + "body bytes";
  for (std::size_t read_size : {std::size_t{1}, std::size_t{4096}}) {
    SCOPED_TRACE(read_size);
    ScriptedSource source(bytes);
    RequestHeadReader reader(source);
    reader.BeginRequest();
    EXPECT_EQ(Drain(reader, read_size), bytes);
    EXPECT_FALSE(reader.authorization_too_large());
  }
}

TEST(RequestHeadReaderTest, AnAuthorizationPastTheLibraryLimitIsLeftOut) {
  const std::string token(9000, 't');
  ScriptedSource source(Head("Bearer " + token) + "next");
  RequestHeadReader reader(source);
  reader.BeginRequest();
  EXPECT_EQ(Drain(reader, 1),
            "GET /v1/whoami HTTP/1.1\r\nHost: x\r\nX-Request-Id: r1\r\n\r\n"
            "next");
  EXPECT_TRUE(reader.authorization_too_large());
  // The next request on the connection starts afresh.
  reader.BeginRequest();
  EXPECT_FALSE(reader.authorization_too_large());
}

TEST(RequestHeadReaderTest, TheHeaderNameIsMatchedWhateverItsCase) {
  ScriptedSource source("GET / HTTP/1.1\r\nauthorIZATION: " +
                        std::string(9000, 't') + "\r\n\r\n");
  RequestHeadReader reader(source);
  reader.BeginRequest();
  EXPECT_EQ(Drain(reader, 1), "GET / HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(reader.authorization_too_large());
}

TEST(RequestHeadReaderTest, LinesHttplibRefusesItselfPassUnchanged) {
  const std::string cases[] = {
      // Past the credential limit.
      Head("Bearer " + std::string(RequestHeadReader::kMaxCredentialLine, 't')),
      // Another header past the library's limit.
      "GET / HTTP/1.1\r\nX-Other: " + std::string(9000, 'o') + "\r\n\r\n",
      // The request line (httplib answers 414).
      "GET /" + std::string(20000, 'p') + " HTTP/1.1\r\n\r\n",
      // Authorization at the library's limit exactly is httplib's to read.
      "GET / HTTP/1.1\r\nAuthorization: " +
          std::string(RequestHeadReader::kLibraryLineLimit - 17, 'a') +
          "\r\n\r\n",
  };
  for (const std::string& bytes : cases) {
    SCOPED_TRACE(bytes.substr(0, 40));
    ScriptedSource source(bytes);
    RequestHeadReader reader(source);
    reader.BeginRequest();
    EXPECT_EQ(Drain(reader, 1), bytes);
    EXPECT_FALSE(reader.authorization_too_large());
  }
}

TEST(RequestHeadReaderTest, ABodyIsNotReadAsHeaderLines) {
  const std::string body = "Authorization: " + std::string(9000, 'b') + "\r\n";
  const std::string bytes = Head("Bearer abc") + body;
  ScriptedSource source(bytes);
  RequestHeadReader reader(source);
  reader.BeginRequest();
  EXPECT_EQ(Drain(reader, 1), bytes);
  EXPECT_FALSE(reader.authorization_too_large());
}

TEST(RequestHeadReaderTest, AHeadCutShortYieldsWhatCame) {
  const std::string bytes = "GET / HTTP/1.1\r\nHost: x";
  ScriptedSource source(bytes);
  RequestHeadReader reader(source);
  reader.BeginRequest();
  EXPECT_EQ(Drain(reader, 1), bytes);
}

}  // namespace
}  // namespace agni
