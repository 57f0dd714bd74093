#include "audit/ship/tls_stream.h"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace agni::audit {
namespace {

using Clock = std::chrono::steady_clock;

std::string OpenSslError(std::string_view what) {
  std::string out(what);
  if (unsigned long e = ERR_get_error(); e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out.append(": ").append(buf);
  }
  ERR_clear_error();
  return out;
}

bool IsIpLiteral(const std::string& host) {
  in6_addr addr6;
  in_addr addr4;
  return inet_pton(AF_INET, host.c_str(), &addr4) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &addr6) == 1;
}

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Waits for `events` on `fd` until `deadline`; false on timeout or error.
bool WaitFd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, RemainingMs(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

// After an SSL call returned `ret` <= 0: waits for the socket when OpenSSL
// asks to, else describes the failure in `error` and returns false.
bool Pump(ssl_st* ssl, int fd, int ret, Clock::time_point deadline,
          std::string_view what, std::string& error) {
  const int err = SSL_get_error(ssl, ret);
  short events = 0;
  if (err == SSL_ERROR_WANT_READ) events = POLLIN;
  if (err == SSL_ERROR_WANT_WRITE) events = POLLOUT;
  if (events == 0) {
    if (err == SSL_ERROR_SYSCALL && errno != 0) {
      error = std::string(what) + ": " + std::strerror(errno);
      ERR_clear_error();
    } else if (err == SSL_ERROR_SSL &&
               SSL_get_verify_result(ssl) != X509_V_OK) {
      error = std::string(what) + ": certificate not trusted: " +
              X509_verify_cert_error_string(SSL_get_verify_result(ssl));
      ERR_clear_error();
    } else {
      error = OpenSslError(what);
    }
    return false;
  }
  if (!WaitFd(fd, events, deadline)) {
    error = std::string(what) + ": timed out";
    return false;
  }
  return true;
}

// A non-blocking TCP connection to host:port within the deadline; -1 with
// `error` set.
int ConnectTcp(const SyslogTlsOptions& o, Clock::time_point deadline,
               std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(o.port);
  if (int rc = ::getaddrinfo(o.host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    error = std::string("cannot resolve ") + o.host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  error = std::string("no address for ") + o.host;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      if (WaitFd(fd, POLLOUT, deadline)) {
        int so_error = 0;
        socklen_t len = sizeof so_error;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
        rc = so_error == 0 ? 0 : -1;
        errno = so_error;
      } else {
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0) break;
    error = std::string("cannot connect to ") + o.host + ":" + port + ": " +
            std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(found);
  if (fd >= 0) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

}  // namespace

std::unique_ptr<TlsClientContext> TlsClientContext::Create(
    const SyslogTlsOptions& o, std::string& error) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    error = OpenSslError("cannot create a TLS context");
    return nullptr;
  }
  std::unique_ptr<TlsClientContext> out(new TlsClientContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_mode(
      ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr) != 1) {
    error = OpenSslError(std::string("cannot load CA certificates from \"") +
                         o.ca_file + "\"");
    return nullptr;
  }
  if (!o.client_cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, o.client_cert_file.c_str()) !=
        1) {
      error =
          OpenSslError(std::string("cannot load the client certificate \"") +
                       o.client_cert_file + "\"");
      return nullptr;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, o.client_key_file.c_str(),
                                    SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      error = OpenSslError(std::string("cannot load the client key \"") +
                           o.client_key_file +
                           "\" (or it does not match the certificate)");
      return nullptr;
    }
  }
  return out;
}

TlsClientContext::~TlsClientContext() { SSL_CTX_free(ctx_); }

std::unique_ptr<TlsStream> TlsStream::Open(const TlsClientContext& context,
                                           const SyslogTlsOptions& o,
                                           std::chrono::milliseconds timeout,
                                           std::string& error) {
  const Clock::time_point deadline = Clock::now() + timeout;
  const int fd = ConnectTcp(o, deadline, error);
  if (fd < 0) return nullptr;
  SSL* ssl = SSL_new(context.get());
  if (ssl == nullptr) {
    ::close(fd);
    error = OpenSslError("cannot create a TLS connection");
    return nullptr;
  }
  std::unique_ptr<TlsStream> stream(new TlsStream(fd, ssl));
  SSL_set_fd(ssl, fd);
  const std::string& name = o.server_name.empty() ? o.host : o.server_name;
  if (IsIpLiteral(name)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, name.c_str());
    SSL_set1_host(ssl, name.c_str());
  }
  for (;;) {
    const int ret = SSL_connect(ssl);
    if (ret == 1) break;
    if (!Pump(ssl, fd, ret, deadline, std::string("TLS handshake with ") + name,
              error)) {
      return nullptr;
    }
  }
  if (SSL_get_verify_result(ssl) != X509_V_OK) {
    error =
        std::string("TLS handshake with ") + name + ": certificate not trusted";
    return nullptr;
  }
  return stream;
}

TlsStream::~TlsStream() {
  SSL_free(ssl_);
  ::close(fd_);
}

bool TlsStream::PeerGone() {
  char byte;
  const ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  // TLS records from the peer: session tickets, or a close_notify.
  char buf[512];
  for (;;) {
    const int r = SSL_read(ssl_, buf, sizeof buf);
    if (r > 0) continue;  // a syslog receiver has nothing to say; ignored
    const int err = SSL_get_error(ssl_, r);
    ERR_clear_error();
    return err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE;
  }
}

bool TlsStream::PeerClosedAfterReadingAll() {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
  int unacked = 0;
  if (::ioctl(fd_, SIOCOUTQ, &unacked) != 0) return false;
  int so_error = 0;
  len = sizeof so_error;
  ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &len);
  return info.tcpi_state == TCP_CLOSE_WAIT && unacked == 0 && so_error == 0;
}

std::string TlsStream::Write(std::string_view bytes,
                             std::chrono::milliseconds timeout) {
  std::size_t done = 0;
  std::string error;
  Clock::time_point deadline = Clock::now() + timeout;
  while (done < bytes.size()) {
    const std::size_t chunk =
        std::min<std::size_t>(bytes.size() - done, 1 << 20);
    const int ret =
        SSL_write(ssl_, bytes.data() + done, static_cast<int>(chunk));
    if (ret > 0) {
      done += static_cast<std::size_t>(ret);
      deadline = Clock::now() + timeout;
      continue;
    }
    if (!Pump(ssl_, fd_, ret, deadline, "write to the syslog peer", error)) {
      return error;
    }
  }
  return "";
}

std::string TlsStream::CloseConfirmed(std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  std::string error;
  for (;;) {
    const int ret = SSL_shutdown(ssl_);
    if (ret >= 0) break;  // close_notify sent
    if (!Pump(ssl_, fd_, ret, deadline, "close_notify", error)) return error;
  }
  if (::shutdown(fd_, SHUT_WR) != 0) {
    return std::string("shutdown: ") + std::strerror(errno);
  }
  // The peer closes its side once it has read up to our close_notify.
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) continue;  // its own close_notify
    if (n == 0) break;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      if (!WaitFd(fd_, POLLIN, deadline)) {
        return "the syslog peer did not close the connection in time";
      }
      continue;
    }
    return std::string("the syslog peer reset the connection: ") +
           std::strerror(errno);
  }
  // Its FIN may have been sent before our last bytes arrived: then those
  // bytes meet a closed socket and the peer answers with a reset instead of
  // acknowledging our FIN. Wait for the acknowledgement (or the reset).
  for (int pause_ms = 1;; pause_ms = std::min(pause_ms * 2, 20)) {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (::getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) {
      return std::string("TCP_INFO: ") + std::strerror(errno);
    }
    if (info.tcpi_state == TCP_CLOSE || info.tcpi_state == TCP_TIME_WAIT) {
      break;
    }
    if (RemainingMs(deadline) == 0) {
      return "the syslog peer did not acknowledge the end of the stream";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  }
  int so_error = 0;
  socklen_t len = sizeof so_error;
  ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &len);
  if (so_error != 0) {
    return std::string("the syslog peer reset the connection: ") +
           std::strerror(so_error);
  }
  return "";
}

}  // namespace agni::audit
