// The two HTTP listeners: the main one (client API, through RequestPipeline)
// and the admin one (/metrics, /livez, /readyz) with its own thread pool, so a
// flood or a slow upstream on the main listener never starves health checks.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "audit/store.h"
#include "gateway/config/config.h"
#include "gateway/http/connection_guard.h"
#include "gateway/http/connection_loop.h"
#include "gateway/http/worker_pool.h"
#include "gateway/ops/log.h"
#include "gateway/ops/metrics.h"
#include "gateway/pipeline/pipeline.h"

namespace httplib {
class Server;
}

namespace agni {

// Owns the httplib servers and their listener threads. Start/Stop from one
// thread; the handlers themselves run on the servers' pools.
class GatewayServer {
 public:
  GatewayServer(const Config& config, RequestPipeline& pipeline,
                Metrics& metrics, audit::AuditSink& audit, const Logger& log);
  ~GatewayServer();

  // Binds both listeners and starts serving. Returns an error message, or an
  // empty string on success.
  std::string Start();
  // Stops accepting, lets the listener threads return, and joins them.
  void Stop();
  // Graceful shutdown, step one (server_drain.cc): the main listener stops
  // taking connections, idle keep-alive connections close at once and
  // in-flight requests finish; the admin listener keeps
  // answering (/readyz says 503 while the pipeline drains). Returns false when
  // requests were still running after `timeout`.
  bool DrainMain(std::chrono::milliseconds timeout);

  // Swaps the client-certificate mappings (tls.client_certificates), as
  // SIGHUP reloads them; the TLS certificate, key and CA files are loaded
  // once, at construction. Thread-safe.
  void ReplaceClientCertificates(
      std::vector<ClientCertificateMapping> mappings);

  int port() const { return port_; }
  int admin_port() const { return admin_port_; }

 private:
  void ConfigureMain();
  void ConfigureAdmin();
  std::shared_ptr<const std::vector<ClientCertificateMapping>>
  ClientCertificates() const;

  const Config& config_;
  RequestPipeline& pipeline_;
  Metrics& metrics_;
  audit::AuditSink& audit_;
  const Logger& log_;
  // The listeners' pools (cpp-httplib gets TaskQueues that forward to them)
  // and the slowloris guard, which reads them; declared before the servers
  // so they outlive them.
  std::shared_ptr<WorkerPool> main_pool_;
  std::shared_ptr<WorkerPool> admin_pool_;
  std::unique_ptr<ConnectionGuard> guard_;
  // Fired when each listener stops: its idle keep-alive connections close.
  std::shared_ptr<IdleWake> main_wake_ = std::make_shared<IdleWake>();
  std::shared_ptr<IdleWake> admin_wake_ = std::make_shared<IdleWake>();
  std::unique_ptr<httplib::Server> main_;
  std::unique_ptr<httplib::Server> admin_;
  std::thread main_thread_;
  std::thread admin_thread_;
  int main_fd_ = -1;  // listening sockets, captured for the backlog fix
  int admin_fd_ = -1;
  int port_ = 0;
  int admin_port_ = 0;
  std::thread drain_thread_;    // joins main_thread_ during DrainMain
  mutable std::mutex cert_mu_;  // guards client_certificates_
  std::shared_ptr<const std::vector<ClientCertificateMapping>>
      client_certificates_;
};

}  // namespace agni
