// UpstreamClient over cpp-httplib: TLS with certificate and host-name
// verification (TLS 1.2 minimum), keep-alive connections reused from a pool,
// connect/read timeouts, and no retries.
#pragma once

#include <memory>
#include <string>

#include "base/idle_pool.h"
#include "gateway/config/config.h"
#include "gateway/upstream/response_scrub.h"
#include "gateway/upstream/upstream_client.h"

namespace httplib {
class ClientImpl;
}

namespace agni {

// Thread-safe. A cpp-httplib client serialises its requests, so each call
// borrows a client (one keep-alive connection) from the pool.
class HttpUpstream final : public UpstreamClient {
 public:
  HttpUpstream(UpstreamConfig config, std::string api_key);
  ~HttpUpstream() override;

  UpstreamResponse Release(const std::string& path,
                           const std::string& request_id) override;

 private:
  std::unique_ptr<httplib::ClientImpl> NewClient() const;
  std::unique_ptr<httplib::ClientImpl> Borrow();
  void Return(std::unique_ptr<httplib::ClientImpl> client);

  const UpstreamConfig config_;
  const std::string api_key_;
  IdlePool<httplib::ClientImpl> idle_;
};

}  // namespace agni
