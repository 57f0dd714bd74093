// The syslog sink's TLS client (OpenSSL): verified TLS 1.2+ to one peer,
// writes, and a close that proves the peer read everything written.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "audit/ship/syslog_options.h"

struct ssl_ctx_st;
struct ssl_st;

namespace agni::audit {

// The OpenSSL client context: CA file, optional client certificate, TLS 1.2
// at least, peer verification on. Thread-safe after Create().
class TlsClientContext {
 public:
  // The context, or null with `error` saying which file did not load.
  static std::unique_ptr<TlsClientContext> Create(
      const SyslogTlsOptions& options, std::string& error);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  ssl_ctx_st* get() const { return ctx_; }

 private:
  explicit TlsClientContext(ssl_ctx_st* ctx) : ctx_(ctx) {}
  ssl_ctx_st* ctx_;
};

// One connection to the peer. Used by one thread.
class TlsStream {
 public:
  // Connects, handshakes and verifies the certificate chain and the name;
  // null with `error` set.
  static std::unique_ptr<TlsStream> Open(const TlsClientContext& context,
                                         const SyslogTlsOptions& options,
                                         std::chrono::milliseconds timeout,
                                         std::string& error);
  ~TlsStream();  // closes without waiting for the peer
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Without blocking: true when the peer has closed or reset the
  // connection, so that nothing more is written into a dead socket.
  bool PeerGone();
  // After PeerGone(): true when the peer closed without a reset and had
  // acknowledged every byte written, i.e. its application read them all
  // before closing (a socket closed with unread bytes answers with a reset,
  // and bytes arriving after the close are not acknowledged).
  bool PeerClosedAfterReadingAll();
  // Writes every byte; "" or why not.
  std::string Write(std::string_view bytes, std::chrono::milliseconds timeout);
  // Sends close_notify and FIN, then waits for the peer to close its side
  // and for our FIN to be acknowledged, with no reset. "" means the peer's
  // application read the whole stream: a peer that closed before reading
  // everything makes its kernel answer the unread bytes with a reset.
  std::string CloseConfirmed(std::chrono::milliseconds timeout);

 private:
  TlsStream(int fd, ssl_st* ssl) : fd_(fd), ssl_(ssl) {}
  int fd_;
  ssl_st* ssl_;
};

}  // namespace agni::audit
