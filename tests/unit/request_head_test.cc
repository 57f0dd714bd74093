// The request head as cpp-httplib reads it through the connection loop: an
// Authorization line past httplib's line limit is left out and noted; every
// other byte arrives unchanged.
#include "gateway/http/request_head.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

namespace agni {
namespace {

// The client's bytes. A source that reads ahead (like the plain socket's
// buffer) hands out a head a line at a time; one that does not (TLS) a byte
// at a time, ByteSource's default.
class ScriptedSource final : public ByteSource {
 public:
  ScriptedSource(std::string bytes, bool reads_ahead)
      : bytes_(std::move(bytes)), reads_ahead_(reads_ahead) {}
  ssize_t ReadRaw(char* ptr, std::size_t size) override {
    const std::size_t n = std::min(size, bytes_.size() - off_);
    std::memcpy(ptr, bytes_.data() + off_, n);
    off_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t ReadLinePart(char* ptr, std::size_t size) override {
    if (!reads_ahead_) return ByteSource::ReadLinePart(ptr, size);
    const std::size_t nl = bytes_.find('\n', off_);
    const std::size_t line_end =
        nl == std::string::npos ? bytes_.size() : nl + 1;
    return ReadRaw(ptr, std::min(size, line_end - off_));
  }

 private:
  std::string bytes_;
  const bool reads_ahead_;
  std::size_t off_ = 0;
};

class RequestHeadReaderTest : public ::testing::TestWithParam<bool> {};

INSTANTIATE_TEST_SUITE_P(Sources, RequestHeadReaderTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "LineAtATime"
                                                         : "ByteAtATime");
                         });

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

TEST_P(RequestHeadReaderTest, AnOrdinaryRequestPassesUnchanged) {
  const std::string bytes = Head("Bearer abc") + "body bytes";
  for (std::size_t read_size : {std::size_t{1}, std::size_t{4096}}) {
    SCOPED_TRACE(read_size);
    ScriptedSource source(bytes, GetParam());
    RequestHeadReader reader(source);
    reader.BeginRequest();
    EXPECT_EQ(Drain(reader, read_size), bytes);
    EXPECT_FALSE(reader.authorization_too_large());
  }
}

TEST_P(RequestHeadReaderTest, AnAuthorizationPastTheLibraryLimitIsLeftOut) {
  const std::string token(9000, 't');
  ScriptedSource source(Head("Bearer " + token) + "next", GetParam());
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

TEST_P(RequestHeadReaderTest, TheHeaderNameIsMatchedWhateverItsCase) {
  ScriptedSource source(
      "GET / HTTP/1.1\r\nauthorIZATION: " + std::string(9000, 't') + "\r\n\r\n",
      GetParam());
  RequestHeadReader reader(source);
  reader.BeginRequest();
  EXPECT_EQ(Drain(reader, 1), "GET / HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(reader.authorization_too_large());
}

TEST_P(RequestHeadReaderTest, LinesHttplibRefusesItselfPassUnchanged) {
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
    ScriptedSource source(bytes, GetParam());
    RequestHeadReader reader(source);
    reader.BeginRequest();
    EXPECT_EQ(Drain(reader, 1), bytes);
    EXPECT_FALSE(reader.authorization_too_large());
  }
}

TEST_P(RequestHeadReaderTest, ABodyIsNotReadAsHeaderLines) {
  const std::string body = "Authorization: " + std::string(9000, 'b') + "\r\n";
  const std::string bytes = Head("Bearer abc") + body;
  ScriptedSource source(bytes, GetParam());
  RequestHeadReader reader(source);
  reader.BeginRequest();
  EXPECT_EQ(Drain(reader, 1), bytes);
  EXPECT_FALSE(reader.authorization_too_large());
}

TEST_P(RequestHeadReaderTest, AHeadCutShortYieldsWhatCame) {
  const std::string bytes = "GET / HTTP/1.1\r\nHost: x";
  ScriptedSource source(bytes, GetParam());
  RequestHeadReader reader(source);
  reader.BeginRequest();
  EXPECT_EQ(Drain(reader, 1), bytes);
}

}  // namespace
}  // namespace agni
