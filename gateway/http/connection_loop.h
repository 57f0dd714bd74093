// The servers of the main and admin listeners, which run each connection's
// keep-alive loop themselves. cpp-httplib 0.11 makes a fresh stream for every
// request on a connection: a plain stream reads ahead up to 4 KiB and drops
// what it read past the request with the stream, and its wait for the next
// request polls the socket, blind to bytes already read (or, on TLS, already
// decrypted by OpenSSL). So a pipelined request was lost. Its wait also
// ignores stop() for the whole keep_alive_timeout, so a stop waited for idle
// clients. Here one stream lives as long as the connection, the wait looks at
// its buffer first, and it ends at once when the listener closes.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include <openssl/ssl.h>

#include "gateway/http/http_types.h"

namespace httplib {
class Server;
}

namespace agni {

// Set by the connection loop on a request whose Authorization header was
// too long for cpp-httplib to read and was left out (RequestHeadReader); a
// client's own header of this name is removed, so only the loop sets it.
inline constexpr const char* kOversizedAuthorizationHeader =
    "Agni-Oversized-Authorization";

// Wakes every connection waiting for its client's next request, so that it
// closes: fired once when its listener stops or drains. Thread-safe.
class IdleWake {
 public:
  IdleWake();
  ~IdleWake();
  IdleWake(const IdleWake&) = delete;
  IdleWake& operator=(const IdleWake&) = delete;

  void Fire();
  bool fired() const;
  int fd() const { return fd_; }  // readable once fired

 private:
  int fd_ = -1;
  std::atomic<bool> fired_{false};
};

// On the thread of a plain connection's loop, while it handles a request:
// the function HttpRequest::hold_answer describes, for that request. Empty on
// any other thread (TLS connections included: only the connection's own
// thread may write to an OpenSSL stream).
std::function<AnswerRelease()> AnswerHolder();

// A plain HTTP server with the connection loop above. `wake` must outlive
// the server's connections.
std::unique_ptr<httplib::Server> MakeLoopServer(
    std::shared_ptr<const IdleWake> wake);

// A TLS server with the connection loop above; `setup` configures its
// SSL_CTX (as httplib::SSLServer's callback; false makes !is_valid()).
std::unique_ptr<httplib::Server> MakeLoopTlsServer(
    const std::function<bool(SSL_CTX&)>& setup,
    std::shared_ptr<const IdleWake> wake);

}  // namespace agni
