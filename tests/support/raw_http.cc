#include "tests/support/raw_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace agni::testing {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The Content-Length of a lower-cased response head, 0 when absent.
std::size_t ContentLength(const std::string& head) {
  const auto cl = head.find("\r\ncontent-length:");
  return cl == std::string::npos
             ? 0
             : std::strtoul(head.c_str() + cl + 17, nullptr, 10);
}

// How many complete responses (head and Content-Length body) `bytes` holds.
std::size_t CompleteResponses(const std::string& bytes) {
  std::size_t n = 0;
  std::size_t at = 0;
  while (at < bytes.size()) {
    const std::size_t head_end = bytes.find("\r\n\r\n", at);
    if (head_end == std::string::npos) break;
    const std::string head = Lower(bytes.substr(at, head_end - at));
    const std::size_t length = ContentLength(head);
    if (head_end + 4 + length > bytes.size()) break;
    at = head_end + 4 + length;
    ++n;
  }
  return n;
}

// A TCP connection to 127.0.0.1:port; throws std::runtime_error.
int ConnectLoopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("connect");
  }
  return fd;
}

}  // namespace

std::vector<int> RawReply::statuses() const {
  // Walks the responses: status line, headers, Content-Length bytes of body.
  std::vector<int> out;
  std::size_t at = 0;
  while (at < bytes.size() && bytes.compare(at, 7, "HTTP/1.") == 0) {
    if (at + 12 > bytes.size()) break;
    out.push_back(std::atoi(bytes.substr(at + 9, 3).c_str()));
    const std::size_t head_end = bytes.find("\r\n\r\n", at);
    if (head_end == std::string::npos) break;
    const std::string head = Lower(bytes.substr(at, head_end - at));
    const std::size_t length = ContentLength(head);
    at = head_end + 4 + length;
  }
  return out;
}

int RawReply::status() const {
  if (bytes.rfind("HTTP/1.", 0) != 0 || bytes.size() < 12) return 0;
  return std::atoi(bytes.substr(9, 3).c_str());
}

std::vector<std::string> RawReply::Header(const std::string& name) const {
  std::vector<std::string> values;
  const std::string head = bytes.substr(0, bytes.find("\r\n\r\n"));
  std::istringstream lines(head);
  const std::string want = Lower(name) + ":";
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (Lower(line.substr(0, want.size())) != want) continue;
    std::string v = line.substr(want.size());
    while (!v.empty() && v.front() == ' ') v.erase(0, 1);
    values.push_back(v);
  }
  return values;
}

RawReply RawExchange(int port, const std::string& request, bool wait_for_close,
                     std::chrono::milliseconds deadline) {
  RawReply reply;
  const int fd = ConnectLoopback(port);
  const auto until = std::chrono::steady_clock::now() + deadline;
  auto read_some = [&](int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return true;
    char buf[16384];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      reply.closed = true;
      return false;
    }
    reply.bytes.append(buf, static_cast<std::size_t>(n));
    return true;
  };
  // Write in pieces, draining replies as we go: a server that answers early
  // (e.g. 414 before the whole line arrived) must not deadlock the test.
  std::size_t sent = 0;
  while (sent < request.size() && !reply.closed) {
    const std::size_t n = std::min<std::size_t>(65536, request.size() - sent);
    const ssize_t w = ::send(fd, request.data() + sent, n, MSG_NOSIGNAL);
    if (w <= 0) break;  // reset or closed by the server
    sent += static_cast<std::size_t>(w);
    read_some(0);
  }
  while (!reply.closed && std::chrono::steady_clock::now() < until) {
    if (!wait_for_close && CompleteResponses(reply.bytes) >= 1) break;
    read_some(50);
  }
  ::close(fd);
  return reply;
}

RawReply RawTlsExchange(int port, const std::string& ca_file,
                        const std::string& request,
                        std::chrono::milliseconds deadline) {
  RawReply reply;
  const int fd = ConnectLoopback(port);
  // Every blocking read returns within 100 ms, so the deadline holds.
  timeval tv{0, 100'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  const auto until = std::chrono::steady_clock::now() + deadline;
  bool connected = false;
  while (!connected && std::chrono::steady_clock::now() < until) {
    const int r = SSL_connect(ssl);
    if (r == 1) {
      connected = true;
    } else if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ) {
      break;
    }
  }
  if (connected &&
      SSL_write(ssl, request.data(), static_cast<int>(request.size())) > 0) {
    while (!reply.closed && std::chrono::steady_clock::now() < until) {
      char buf[16384];
      const int n = SSL_read(ssl, buf, sizeof buf);
      if (n > 0) {
        reply.bytes.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      const int err = SSL_get_error(ssl, n);
      const bool timed_out = err == SSL_ERROR_WANT_READ ||
                             (err == SSL_ERROR_SYSCALL &&
                              (errno == EAGAIN || errno == EWOULDBLOCK));
      if (!timed_out) reply.closed = true;
    }
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  return reply;
}

LoopbackListener::LoopbackListener(std::function<void(int fd)> serve) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  ::listen(fd_, 16);
  thread_ = std::thread([this, serve = std::move(serve)] {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      serve(c);
      ::close(c);
    }
  });
}

LoopbackListener::~LoopbackListener() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
}

}  // namespace agni::testing
