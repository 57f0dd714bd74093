#include "gateway/http/connection_loop.h"

#include <httplib.h>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/http/http_types.h"
#include "gateway/http/request_head.h"
#include "gateway/http/worker_pool.h"

namespace agni {
namespace {

using Clock = std::chrono::steady_clock;

int PollMs(time_t sec, time_t usec) {
  const long long ms = static_cast<long long>(sec) * 1000 + usec / 1000;
  return static_cast<int>(std::clamp<long long>(ms, 0, INT_MAX));
}

// Waits up to `timeout_ms` for `events` on `fd`; false on timeout or error.
bool WaitFor(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int r = poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    return r > 0;
  }
}

// "address", port of either end of `fd`, numeric, as cpp-httplib reports
// them (the connection guard matches peers in this form).
void EndpointOf(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  const int r = peer
                    ? getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                    : getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (r != 0) return;
  if (addr.ss_family == AF_INET) {
    port = ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
  } else if (addr.ss_family == AF_INET6) {
    port = ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  } else {
    return;
  }
  char host[NI_MAXHOST] = {};
  if (getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host,
                  nullptr, 0, NI_NUMERICHOST) == 0) {
    ip = host;
  }
}

// One end of a connection, looked up on first use.
class CachedEndpoint {
 public:
  void Get(int fd, bool peer, std::string& ip, int& port) const {
    if (!known_) {
      EndpointOf(fd, peer, ip_, port_);
      known_ = true;
    }
    ip = ip_;
    port = port_;
  }

 private:
  mutable bool known_ = false;
  mutable std::string ip_;
  mutable int port_ = 0;
};

struct Timeouts {
  int read_ms;
  int write_ms;
};

// The reason phrases of the answers sent in place of a held one (the phrase
// is optional in HTTP/1.1: other statuses go without).
std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";
  }
}

// `r` as the bytes of an HTTP/1.1 answer that ends its connection. Header
// lines with a line break are left out, as httplib leaves them out.
std::string EndingAnswerBytes(const HttpResponse& r) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " ";
  out += ReasonPhrase(r.status);
  out += "\r\nConnection: close\r\n";
  const auto line = [&out](const std::string& name, const std::string& value) {
    if (name.find_first_of("\r\n") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return;
    }
    out += name + ": " + value + "\r\n";
  };
  if (!r.content_type.empty()) line("Content-Type", r.content_type);
  line("Content-Length", std::to_string(r.body.size()));
  for (const auto& [name, value] : r.headers) line(name, value);
  out += "\r\n";
  out += r.body;
  return out;
}

// An answer that httplib has written but that waits until its request's last
// audit record is durable (HttpRequest::hold_answer). Whichever comes second
// sends it: the connection's thread when the release came first (as any
// answer), the releasing thread otherwise. That thread never waits for the
// client: it sends what the socket takes at once, and leaves the rest to the
// connection's thread, which it wakes through `wake_fd`. Released with other
// bytes (`instead`), it sends those, and the connection ends after them.
class HeldAnswer {
 public:
  HeldAnswer(int sock, int wake_fd) : sock_(sock), wake_fd_(wake_fd) {}

  // Any thread: the answer may go, or `instead`. Only the first call counts.
  void Release(std::optional<std::string> instead) {
    std::lock_guard lock(mu_);
    if (released_) return;
    released_ = true;
    if (instead) {
      bytes_ = std::move(*instead);  // nothing of the held answer went yet
      ends_ = true;
    }
    // Under mu_: the connection's thread closes neither the socket nor
    // `wake_fd` before Rest() has seen `released_`.
    if (handed_) {
      SendWhatFits();
      // The connection's thread ends the connection now, not at the end of
      // the client's idle time.
      if (ends_) Wake();
    }
    released_cv_.notify_all();
  }

  // The connection's thread: the answer's bytes, taken from `bytes`. False
  // when the answer was already released: the caller sends `bytes` itself,
  // which then hold what the release gave instead, if anything.
  bool Hand(std::string& bytes) {
    std::lock_guard lock(mu_);
    if (released_) {
      if (ends_) bytes = std::move(bytes_);
      return false;
    }
    bytes_ = std::move(bytes);
    handed_ = true;
    return true;
  }

  // Released with other bytes: the connection ends after them.
  bool ends() {
    std::lock_guard lock(mu_);
    return ends_;
  }

  // When the releaser sent the whole answer; nullopt when it has not (not
  // released yet, or a rest left to the connection's thread).
  std::optional<Clock::time_point> SentWholeAt() {
    std::lock_guard lock(mu_);
    return sent_whole_at_;
  }

  // The connection's thread, after Hand(): waits for Release(), then gives
  // what is left to send (empty when all of it went), or nullopt when the
  // connection failed.
  std::optional<std::string> Rest() {
    std::unique_lock lock(mu_);
    released_cv_.wait(lock, [&] { return released_; });
    if (failed_) return std::nullopt;
    return bytes_.substr(sent_);
  }

 private:
  void SendWhatFits() {
    // Bounded: every round sends at least one byte or returns.
    for (;;) {
      if (sent_ == bytes_.size()) {
        sent_whole_at_ = Clock::now();
        return;
      }
      const ssize_t n =
          send(sock_, bytes_.data() + sent_, bytes_.size() - sent_,
               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent_ += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        Wake();
      } else {
        failed_ = true;
      }
      return;
    }
  }

  void Wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t w = ::write(wake_fd_, &one, sizeof one);
  }

  const int sock_;
  const int wake_fd_;
  std::mutex mu_;
  std::condition_variable released_cv_;
  bool released_ = false;  // guarded by mu_, as the rest
  bool handed_ = false;
  bool failed_ = false;
  bool ends_ = false;
  std::string bytes_;
  std::size_t sent_ = 0;
  std::optional<Clock::time_point> sent_whole_at_;
};

// Calls HeldAnswer::Release() when the last copy of the function that
// HoldAnswer() returned goes, if no one called it: an answer is never left
// held (nothing is lost) even if the record's commit never reported.
class ReleaseOnDrop {
 public:
  explicit ReleaseOnDrop(std::shared_ptr<HeldAnswer> held)
      : held_(std::move(held)) {}
  ~ReleaseOnDrop() { held_->Release(std::nullopt); }
  ReleaseOnDrop(const ReleaseOnDrop&) = delete;
  ReleaseOnDrop& operator=(const ReleaseOnDrop&) = delete;
  void Release(std::optional<HttpResponse> instead) const {
    held_->Release(instead ? std::optional(EndingAnswerBytes(*instead))
                           : std::nullopt);
  }

 private:
  const std::shared_ptr<HeldAnswer> held_;
};

// A connection's stream for its whole life; knows whether bytes of a next
// request are already read. Each request's head is read through a
// RequestHeadReader. What httplib writes is gathered and sent at once when
// the request is done (Flush), before any read, or when it grows past
// kGather: httplib writes an answer's head and body separately, which
// would be two segments, two sends and two wake-ups of the client.
class ConnectionStream : public httplib::Stream, public ByteSource {
 public:
  static constexpr std::size_t kGather = 16 * 1024;

  ConnectionStream(int sock, Timeouts t) : sock_(sock), t_(t) {}
  ~ConnectionStream() override {
    // Normally finished before the socket closed (ServeConnection); on any
    // other way out, at least the releaser is done with the wake-up.
    if (held_) held_->Rest();
    if (held_wake_fd_ >= 0) close(held_wake_fd_);
  }
  ConnectionStream(const ConnectionStream&) = delete;
  ConnectionStream& operator=(const ConnectionStream&) = delete;

  ssize_t write(const char* ptr, size_t size) final {
    // A held answer is gathered whole: none of it goes before its release.
    if (holding_) {
      out_.append(ptr, size);
      return static_cast<ssize_t>(size);
    }
    if (out_.size() + size > kGather && !Flush()) return -1;
    if (size >= kGather) {
      return FinishHeld() && WriteAll(ptr, size) ? static_cast<ssize_t>(size)
                                                 : -1;
    }
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }

  // Sends what was gathered, after any answer still held for an earlier
  // request; false when the connection cannot take it. Nothing goes while
  // the request being handled holds its answer.
  bool Flush() {
    if (holding_) return true;
    if (!FinishHeld()) return false;
    const bool ok = WriteAll(out_.data(), out_.size());
    out_.clear();
    return ok;
  }

  // HttpRequest::hold_answer for the request being handled; an empty
  // function when its answer is held already or the wake-up cannot be made.
  AnswerRelease HoldAnswer() {
    if (holding_) return {};
    if (held_wake_fd_ < 0) {
      held_wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      if (held_wake_fd_ < 0) return {};
    }
    holding_ = std::make_shared<HeldAnswer>(sock_, held_wake_fd_);
    auto release = std::make_shared<const ReleaseOnDrop>(holding_);
    return [release](std::optional<HttpResponse> instead) {
      release->Release(std::move(instead));
    };
  }

  // After each request: its answer goes now, or on its release if it is
  // held (then the next write or the end of the connection waits for it).
  bool EndRequest() {
    if (std::shared_ptr<HeldAnswer> held = std::exchange(holding_, nullptr)) {
      // In order: an earlier held answer goes out whole first.
      if (!FinishHeld()) return false;
      if (held->Hand(out_)) {
        out_.clear();
        held_ = std::move(held);
        return true;
      }
      if (held->ends()) {  // out_ holds what goes instead, and is the last
        const bool sent = WriteAll(out_.data(), out_.size());
        out_.clear();
        ended_ = true;
        return sent;
      }
    }
    return Flush();
  }

  // Waits for a held answer's release and sends what its releaser could not;
  // false when the connection failed, or ended with that answer. Before
  // anything else is written and before the socket closes: the releaser may
  // be sending on it.
  bool FinishHeld() {
    if (!held_) return !ended_;
    const std::optional<std::string> rest = held_->Rest();
    ended_ = held_->ends();
    held_.reset();
    return rest && WriteAll(rest->data(), rest->size()) && !ended_;
  }

  // An answer released with other bytes ended the connection: nothing more
  // is read or written on it. Known once that answer is out (EndRequest(),
  // FinishHeld()).
  bool ended() const { return ended_; }

  // When the client's idle time after its last answer starts, if that answer
  // was held: when its releaser sent it whole, or nullopt when it is not out
  // yet (FinishHeld() then waits for it). Only while holds_answer().
  bool holds_answer() const { return held_ != nullptr; }
  std::optional<Clock::time_point> HeldAnswerSentAt() const {
    return held_->SentWholeAt();
  }
  // Readable when a releaser left part of a held answer to this thread.
  int held_wake_fd() const { return held_wake_fd_; }
  void ClearHeldWake() {
    std::uint64_t count = 0;
    [[maybe_unused]] const ssize_t n =
        ::read(held_wake_fd_, &count, sizeof count);
  }

  // Bytes already taken off the socket and not yet consumed.
  bool HasBuffered() const { return head_.HasPending() || RawBuffered(); }
  RequestHeadReader& head() { return head_; }
  bool authorization_too_large() const {
    return head_.authorization_too_large();
  }

  ssize_t read(char* ptr, size_t size) final {
    // An interim answer (100 Continue) must reach the client before its
    // body can be read.
    if (!out_.empty() && !Flush()) return -1;
    return head_.Read(ptr, size);
  }

  bool is_readable() const override {
    return HasBuffered() || WaitFor(sock_, POLLIN, t_.read_ms);
  }
  bool is_writable() const override {
    return WaitFor(sock_, POLLOUT, t_.write_ms);
  }
  // httplib asks for both ends with every request; they are the
  // connection's, so they are looked up once.
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    remote_.Get(sock_, true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    local_.Get(sock_, false, ip, port);
  }
  int socket() const override { return sock_; }
  int read_timeout_ms() const { return t_.read_ms; }

 protected:
  // Bytes the transport holds that the socket no longer shows.
  virtual bool RawBuffered() const = 0;
  // As send(): some bytes sent, or negative on an error or timeout.
  virtual ssize_t WriteSome(const char* ptr, size_t size) = 0;

  const int sock_;
  const Timeouts t_;

 private:
  bool WriteAll(const char* ptr, size_t size) {
    // Bounded: every round sends at least one byte or returns.
    while (size > 0) {
      const ssize_t n = WriteSome(ptr, size);
      if (n <= 0) return false;
      ptr += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }

  RequestHeadReader head_{*this};
  CachedEndpoint remote_;
  CachedEndpoint local_;
  std::string out_;
  std::shared_ptr<HeldAnswer> holding_;  // the current request's, if held
  std::shared_ptr<HeldAnswer> held_;     // handed over, maybe not yet sent
  int held_wake_fd_ = -1;                // eventfd, made on first use
  bool ended_ = false;                   // ended()
};

// Plain TCP, with a read buffer that outlives each request.
class PlainStream final : public ConnectionStream {
 public:
  using ConnectionStream::ConnectionStream;

  ssize_t ReadRaw(char* ptr, size_t size) override {
    if (RawBuffered()) {
      const size_t n = std::min(size, len_ - off_);
      std::memcpy(ptr, buf_.data() + off_, n);
      off_ += n;
      return static_cast<ssize_t>(n);
    }
    if (size >= buf_.size()) return Recv(ptr, size);
    const ssize_t n = Recv(buf_.data(), buf_.size());
    if (n <= 0) return n;
    off_ = std::min(size, static_cast<size_t>(n));
    len_ = static_cast<size_t>(n);
    std::memcpy(ptr, buf_.data(), off_);
    return static_cast<ssize_t>(off_);
  }

  // The head is read a line at a time: from the buffer, not a byte per call.
  ssize_t ReadLinePart(char* ptr, size_t size) override {
    if (!RawBuffered()) {
      const ssize_t n = Recv(buf_.data(), buf_.size());
      if (n <= 0) return n;
      off_ = 0;
      len_ = static_cast<size_t>(n);
    }
    const char* start = buf_.data() + off_;
    const size_t avail = std::min(size, len_ - off_);
    const void* nl = std::memchr(start, '\n', avail);
    const size_t n =
        nl ? static_cast<size_t>(static_cast<const char*>(nl) - start) + 1
           : avail;
    std::memcpy(ptr, start, n);
    off_ += n;
    return static_cast<ssize_t>(n);
  }

  // Sends at once when the socket can take bytes; waits (with the write
  // timeout) only when it cannot, so an answer costs no poll() first.
  ssize_t WriteSome(const char* ptr, size_t size) override {
    // Bounded: each round sends, fails, or waits up to the timeout.
    for (int round = 0; round < 64; ++round) {
      const ssize_t n = send(sock_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return n;
      if (!is_writable()) return -1;
    }
    return -1;
  }

 private:
  bool RawBuffered() const override { return off_ < len_; }

  // As recv(), with the read timeout: bytes already there are taken without
  // a poll() first (the common case, a request that has arrived).
  ssize_t Recv(char* ptr, size_t size) {
    // Bounded: each round reads, fails, or waits up to the timeout.
    for (int round = 0; round < 64; ++round) {
      const ssize_t n = recv(sock_, ptr, size, MSG_DONTWAIT);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return n;
      if (!WaitFor(sock_, POLLIN, t_.read_ms)) return -1;
    }
    return -1;
  }

  std::vector<char> buf_ = std::vector<char>(16 * 1024);
  size_t off_ = 0;
  size_t len_ = 0;
};

// TLS over a blocking socket; OpenSSL holds what it decrypted ahead.
class TlsStream final : public ConnectionStream {
 public:
  TlsStream(int sock, SSL* ssl, Timeouts t)
      : ConnectionStream(sock, t), ssl_(ssl) {
    // A record that carries no application data makes SSL_read return
    // WANT_READ rather than block; read() then waits with its timeout.
    SSL_clear_mode(ssl, SSL_MODE_AUTO_RETRY);
  }

  ssize_t ReadRaw(char* ptr, size_t size) override {
    const int want = static_cast<int>(std::min<size_t>(size, INT_MAX));
    // Bounded: each round either waits for the socket or returns.
    for (int round = 0; round < 64; ++round) {
      if (SSL_pending(ssl_) <= 0 && !WaitFor(sock_, POLLIN, t_.read_ms)) {
        return -1;
      }
      const int n = SSL_read(ssl_, ptr, want);
      if (n > 0) return n;
      const int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_ZERO_RETURN) return 0;
      if (err != SSL_ERROR_WANT_READ) return -1;
    }
    return -1;
  }

  ssize_t WriteSome(const char* ptr, size_t size) override {
    const int want = static_cast<int>(std::min<size_t>(size, INT_MAX));
    for (int round = 0; round < 64; ++round) {
      if (!is_writable()) return -1;
      const int n = SSL_write(ssl_, ptr, want);
      if (n > 0) return n;
      if (SSL_get_error(ssl_, n) != SSL_ERROR_WANT_WRITE) return -1;
    }
    return -1;
  }

 private:
  bool RawBuffered() const override { return SSL_has_pending(ssl_) == 1; }

  SSL* const ssl_;
};

// True when the client's next request can be read now (or the connection
// ended, which the read reports); false after `keep_alive_ms` of silence or
// as soon as the listener stops.
bool AwaitNextRequest(ConnectionStream& strm, int keep_alive_ms,
                      const std::atomic<int>& listen_sock,
                      const IdleWake& wake) {
  if (strm.HasBuffered()) return true;
  Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(keep_alive_ms);
  for (;;) {
    const bool stopping = listen_sock == INVALID_SOCKET || wake.fired();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    // Stopping: a request already sent is still served, nothing is awaited.
    const int timeout =
        stopping ? 0 : static_cast<int>(std::max<long long>(left.count(), 0));
    // A negative fd (no answer held yet on this connection) is ignored.
    pollfd p[3] = {{strm.socket(), POLLIN, 0},
                   {wake.fd(), POLLIN, 0},
                   {strm.held_wake_fd(), POLLIN, 0}};
    const int r = poll(p, 3, timeout);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0 && !stopping && strm.holds_answer()) {
      // The client's idle time starts once its last answer is out: not yet
      // (a slow commit), or when the releaser finished sending it.
      const std::optional<Clock::time_point> sent = strm.HeldAnswerSentAt();
      if (!sent && !strm.FinishHeld()) return false;
      const Clock::time_point idle_until =
          sent.value_or(Clock::now()) +
          std::chrono::milliseconds(keep_alive_ms);
      if (idle_until > Clock::now()) {
        deadline = idle_until;
        continue;
      }
    }
    if (r <= 0) return false;
    if (p[2].revents != 0) {
      // The rest of a held answer, which its releaser could not send, or an
      // answer that ends the connection. The client's idle time starts once
      // all of it is out.
      strm.ClearHeldWake();
      if (!strm.FinishHeld()) return false;
      deadline = Clock::now() + std::chrono::milliseconds(keep_alive_ms);
      continue;
    }
    if (p[0].revents != 0) return true;
    if (stopping) return false;
  }
}

using OneRequest = std::function<bool(ConnectionStream&, bool close_connection,
                                      bool& connection_closed)>;

// Run by httplib once the request's head is read, before any handler.
void MarkOversizedAuthorization(httplib::Request& req,
                                const ConnectionStream& strm) {
  req.headers.erase(kOversizedAuthorizationHeader);
  if (strm.authorization_too_large()) {
    req.headers.emplace(kOversizedAuthorizationHeader, "1");
  }
}

struct Served {
  bool ok = false;
  // The last answer ended the connection while the client may still be
  // sending (an unread body): close without a reset (CloseSocket).
  bool linger = false;
};

// The keep-alive loop: requests in order until the client, a limit, a
// `Connection: close` answer or the listener's stop ends the connection.
Served ServeConnection(ConnectionStream& strm, std::size_t max_requests,
                       int keep_alive_ms, const std::atomic<int>& listen_sock,
                       const IdleWake& wake, const OneRequest& one) {
  Served served;
  for (std::size_t left = max_requests; left > 0; --left) {
    // A new connection gets at least the read timeout for its first request
    // (keep_alive_timeout is whole seconds here, and may be 0).
    const int wait_ms = left == max_requests
                            ? std::max(keep_alive_ms, strm.read_timeout_ms())
                            : keep_alive_ms;
    if (!AwaitNextRequest(strm, wait_ms, listen_sock, wake)) break;
    // A request pipelined behind a held answer waits for that answer to go:
    // released with an answer that ends the connection, it is never handled
    // (a release would otherwise be sent upstream with no one to answer).
    if (!strm.FinishHeld()) break;
    bool closed = false;
    strm.head().BeginRequest();
    served.ok = one(strm, left == 1, closed);
    served.ok = strm.EndRequest() && served.ok;
    if (!served.ok || closed || strm.ended()) break;
    const WorkerSlot* slot = WorkerSlot::Current();
    if (slot != nullptr && slot->closing()) {
      served.linger = true;
      break;
    }
  }
  // Before the socket closes: a held answer may still be on its way.
  served.ok = strm.FinishHeld() && served.ok;
  // Ended by an answer: what the client sent meanwhile must not turn the
  // close into a reset that could destroy that answer.
  if (strm.ended()) served.linger = true;
  return served;
}

// The plain connection whose request this thread is handling (AnswerHolder).
thread_local ConnectionStream* t_holding_stream = nullptr;

class HoldingStream {
 public:
  explicit HoldingStream(ConnectionStream& strm) { t_holding_stream = &strm; }
  ~HoldingStream() { t_holding_stream = nullptr; }
  HoldingStream(const HoldingStream&) = delete;
  HoldingStream& operator=(const HoldingStream&) = delete;
};

// Closing a socket with unread input makes the kernel send a reset, which
// can destroy the answer before the client reads it. With `linger`, the
// gateway first says it is done (FIN after the answer) and reads and drops
// what the client still sends, bounded in time and bytes.
void CloseSocket(int sock, bool linger) {
  if (linger) {
    shutdown(sock, SHUT_WR);
    char scratch[16 * 1024];
    std::size_t dropped = 0;
    const Clock::time_point until = Clock::now() + std::chrono::seconds(2);
    while (dropped < 8 * 1024 * 1024 && Clock::now() < until &&
           WaitFor(sock, POLLIN, 250)) {
      const ssize_t n = recv(sock, scratch, sizeof scratch, 0);
      if (n <= 0) break;
      dropped += static_cast<std::size_t>(n);
    }
  }
  shutdown(sock, SHUT_RDWR);
  close(sock);
}

class LoopServer final : public httplib::Server {
 public:
  explicit LoopServer(std::shared_ptr<const IdleWake> wake)
      : wake_(std::move(wake)) {}

 private:
  bool process_and_close_socket(int sock) override {
    PlainStream strm(sock, {PollMs(read_timeout_sec_, read_timeout_usec_),
                            PollMs(write_timeout_sec_, write_timeout_usec_)});
    const HoldingStream holding(strm);
    const Served served = ServeConnection(
        strm, keep_alive_max_count_, PollMs(keep_alive_timeout_sec_, 0),
        svr_sock_, *wake_,
        [this](ConnectionStream& s, bool close, bool& closed) {
          return process_request(s, close, closed, [&s](httplib::Request& req) {
            MarkOversizedAuthorization(req, s);
          });
        });
    CloseSocket(sock, served.linger);
    return served.ok;
  }

  const std::shared_ptr<const IdleWake> wake_;
};

class LoopTlsServer final : public httplib::SSLServer {
 public:
  LoopTlsServer(const std::function<bool(SSL_CTX&)>& setup,
                std::shared_ptr<const IdleWake> wake)
      : httplib::SSLServer(setup), wake_(std::move(wake)) {}

 private:
  // The handshake, bounded by the read and write timeouts.
  SSL* Accept(int sock) {
    SSL* ssl = SSL_new(ssl_context());
    if (ssl == nullptr) return nullptr;
    if (SSL_set_fd(ssl, sock) != 1) {
      SSL_free(ssl);
      return nullptr;
    }
    const int read_ms = PollMs(read_timeout_sec_, read_timeout_usec_);
    const int write_ms = PollMs(write_timeout_sec_, write_timeout_usec_);
    // Non-blocking during the handshake, so that each wait has a timeout.
    const int flags = fcntl(sock, F_GETFL);
    fcntl(sock, F_SETFL, flags | O_NONBLOCK);
    bool done = false;
    for (int round = 0; round < 64 && !done; ++round) {
      const int r = SSL_accept(ssl);
      if (r == 1) {
        done = true;
        break;
      }
      const int err = SSL_get_error(ssl, r);
      const bool again =
          (err == SSL_ERROR_WANT_READ && WaitFor(sock, POLLIN, read_ms)) ||
          (err == SSL_ERROR_WANT_WRITE && WaitFor(sock, POLLOUT, write_ms));
      if (!again) break;
    }
    fcntl(sock, F_SETFL, flags);
    if (done) return ssl;
    SSL_free(ssl);
    return nullptr;
  }

  bool process_and_close_socket(int sock) override {
    Served served;
    if (SSL* ssl = Accept(sock)) {
      TlsStream strm(sock, ssl,
                     {PollMs(read_timeout_sec_, read_timeout_usec_),
                      PollMs(write_timeout_sec_, write_timeout_usec_)});
      served = ServeConnection(
          strm, keep_alive_max_count_, PollMs(keep_alive_timeout_sec_, 0),
          svr_sock_, *wake_,
          [this, ssl](ConnectionStream& s, bool close, bool& closed) {
            return process_request(s, close, closed,
                                   [ssl, &s](httplib::Request& req) {
                                     req.ssl = ssl;
                                     MarkOversizedAuthorization(req, s);
                                   });
          });
      if (served.ok) SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    CloseSocket(sock, served.linger);
    return served.ok;
  }

  const std::shared_ptr<const IdleWake> wake_;
};

}  // namespace

IdleWake::IdleWake() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

IdleWake::~IdleWake() {
  if (fd_ >= 0) close(fd_);
}

void IdleWake::Fire() {
  fired_ = true;
  const uint64_t one = 1;
  // The counter is never read, so the fd stays readable from now on.
  [[maybe_unused]] const ssize_t n = ::write(fd_, &one, sizeof one);
}

bool IdleWake::fired() const { return fired_; }

std::function<AnswerRelease()> AnswerHolder() {
  ConnectionStream* const strm = t_holding_stream;
  if (strm == nullptr) return {};
  return [strm] { return strm->HoldAnswer(); };
}

std::unique_ptr<httplib::Server> MakeLoopServer(
    std::shared_ptr<const IdleWake> wake) {
  return std::make_unique<LoopServer>(std::move(wake));
}

std::unique_ptr<httplib::Server> MakeLoopTlsServer(
    const std::function<bool(SSL_CTX&)>& setup,
    std::shared_ptr<const IdleWake> wake) {
  return std::make_unique<LoopTlsServer>(setup, std::move(wake));
}

}  // namespace agni
