// The one call the gateway makes to the Agni API, behind an interface so that
// the pipeline can be tested against in-process fakes.
#pragma once

#include <chrono>
#include <string>

namespace agni {

struct UpstreamResponse {
  enum class Kind {
    kResponse,     // an HTTP response arrived (any status)
    kUnreachable,  // no connection could be made
    kTls,          // TLS handshake or certificate verification failed
    kTimeout,      // sent, but no response within the read timeout
    kBadResponse,  // sent, then the connection broke or the reply was garbage
  };
  Kind kind = Kind::kUnreachable;
  // Whether the request may have reached the upstream. When true and no
  // response arrived, the outcome of the release is unknown.
  bool request_sent = false;
  int status = 0;
  std::string body;
  std::string content_type;
  std::chrono::nanoseconds latency{0};
  std::string error;  // for logs and the audit; never contains the key
};

// Thread-safe: many request threads call Release() at once.
class UpstreamClient {
 public:
  virtual ~UpstreamClient() = default;
  // Sends DELETE `path` exactly once; never retries.
  virtual UpstreamResponse Release(const std::string& path,
                                   const std::string& request_id) = 0;
};

}  // namespace agni
