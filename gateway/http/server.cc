#include "gateway/http/server.h"

#include <httplib.h>

#include <sys/socket.h>

#include <cstring>
#include <regex>

#include "base/crypto.h"
#include "gateway/http/tls_listener.h"
#include "gateway/http/worker_pool.h"
#include "gateway/pipeline/problem.h"

namespace agni {
namespace {

// cpp-httplib 0.11 bounds each header line (8 KiB) but not their number; a
// request with more headers than this is refused (tests/hostile/README.md).
constexpr std::size_t kMaxRequestHeaders = 100;

std::vector<std::string> HeaderValues(const httplib::Request& req,
                                      const char* name) {
  std::vector<std::string> values;
  auto [begin, end] = req.headers.equal_range(name);
  for (auto it = begin; it != end; ++it) values.push_back(it->second);
  return values;
}

HttpRequest FromHttplib(const httplib::Request& req) {
  HttpRequest r;
  r.method = req.method;
  r.target = req.target;
  r.peer = req.remote_addr;
  r.authorization = HeaderValues(req, "Authorization");
  r.authorization_too_large = req.has_header(kOversizedAuthorizationHeader);
  r.api_key = HeaderValues(req, "X-Api-Key");
  r.request_id = HeaderValues(req, "X-Request-Id");
  r.approval_id = HeaderValues(req, "X-Approval-Id");
  r.forwarded_for = HeaderValues(req, "X-Forwarded-For");
  r.version = req.version;
  r.host = HeaderValues(req, "Host");
  r.release_reason = HeaderValues(req, "X-Release-Reason");
  r.cookie = HeaderValues(req, "Cookie");
  r.origin = HeaderValues(req, "Origin");
  r.csrf_token = HeaderValues(req, "X-CSRF-Token");
  const std::string length = req.get_header_value("Content-Length");
  r.has_body =
      (!length.empty() && length != "0") || req.has_header("Transfer-Encoding");
  return r;
}

// A request whose body httplib has read (the POST routes below): its client
// certificate's user too, as the pre-routing handler sets for the others.
HttpRequest FromHttplibWithBody(
    const httplib::Request& req,
    const std::vector<ClientCertificateMapping>& mappings) {
  HttpRequest r = FromHttplib(req);
  r.client_certificate_user = ClientCertificateUser(req, mappings);
  r.body = req.body;
  return r;
}

// POST /v1/policy/explain is the one route whose body the pipeline reads; it
// is answered after httplib has read the body (the pre-routing handler runs
// before that).
constexpr const char* kExplainPath = "/v1/policy/explain";
constexpr const char* kSessionPath = "/v1/session";  // console sign-in
bool TakesBody(const httplib::Request& req) {
  return req.method == "POST" &&
         (req.path == kExplainPath || req.path == kSessionPath);
}

void WriteProblem(httplib::Response& res, Reason reason,
                  const std::string& detail) {
  res.status = ReasonStatus(reason);
  res.set_content(ProblemJson({reason, detail, ""}, NewRequestId()),
                  std::string(kProblemContentType));
}

// The main listener answers uncompressed. cpp-httplib compresses a text or
// JSON answer for any client that accepts it, brotli at quality 11: seconds
// of a worker for the console's 250 KB approvals page (a 1,000-request
// Pending took 3 s per page instead of 0.1 s), and compression next to
// secrets such as the session's CSRF token invites BREACH. The library has
// no switch, so the request's Accept-Encoding is dropped before it answers
// (the Request object is httplib's own non-const one).
void ForgetAcceptEncoding(const httplib::Request& req) {
  const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
}

// cpp-httplib owns (and deletes) its TaskQueue; the pool itself belongs to
// GatewayServer.
class PoolTaskQueue final : public httplib::TaskQueue {
 public:
  explicit PoolTaskQueue(std::shared_ptr<WorkerPool> pool)
      : pool_(std::move(pool)) {}
  void enqueue(std::function<void()> fn) override {
    pool_->Enqueue(std::move(fn));
  }
  void shutdown() override { pool_->Shutdown(); }

 private:
  std::shared_ptr<WorkerPool> pool_;
};

std::shared_ptr<WorkerPool> MakePool(int threads, int max_threads,
                                     int max_queued) {
  WorkerPoolLimits limits;
  limits.min_threads = static_cast<std::size_t>(threads);
  limits.max_threads = static_cast<std::size_t>(max_threads);
  limits.max_queued = static_cast<std::size_t>(max_queued);
  return std::make_shared<WorkerPool>(limits);
}

// The worker's slot learns which client it serves once a request head is
// complete, and that the connection waits again once the answer is out.
void NoteRequestStarted(const httplib::Request& req) {
  if (WorkerSlot* slot = WorkerSlot::Current()) {
    slot->RequestStarted(req.remote_addr, req.remote_port);
  }
}

// The answer says Connection: close, and the connection really ends after it
// (see WorkerSlot::CloseAfterResponse).
void CloseAfterResponse(httplib::Response& res) {
  res.set_header("Connection", "close");
  if (WorkerSlot* slot = WorkerSlot::Current()) slot->CloseAfterResponse();
}

// True when a request arrives on a connection whose last answer closed it
// (bytes the client sent after, e.g. an unread body): it is never served.
bool RefuseAfterClose(httplib::Response& res) {
  WorkerSlot* slot = WorkerSlot::Current();
  if (slot == nullptr || !slot->closing()) return false;
  res.status = 400;
  res.set_header("Connection", "close");
  return true;
}

// Runs after each answer is written: the slot waits for the next request
// (the connection loop ends the connection when the answer closed it).
void ResponseSent(const httplib::Request&, const httplib::Response&) {
  if (WorkerSlot* slot = WorkerSlot::Current()) slot->ResponseSent();
}

template <typename Duration>
std::pair<time_t, time_t> SecUsec(Duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d);
  return {static_cast<time_t>(us.count() / 1'000'000),
          static_cast<time_t>(us.count() % 1'000'000)};
}

void ApplyCommonSettings(httplib::Server& server, const ServerConfig& s,
                         std::shared_ptr<WorkerPool> pool, int& listen_fd) {
  // Replaces httplib's defaults, which also set SO_REUSEPORT: that would let
  // another process bind the same port and take a share of the connections.
  server.set_socket_options([&listen_fd](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd = sock;
  });
  server.new_task_queue = [pool] { return new PoolTaskQueue(pool); };
  server.set_logger(ResponseSent);
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(s.keep_alive_max_requests);
  server.set_keep_alive_timeout(
      std::chrono::duration_cast<std::chrono::seconds>(s.keep_alive_timeout)
          .count());
  auto [rs, ru] = SecUsec(s.read_timeout);
  server.set_read_timeout(rs, ru);
  auto [ws, wu] = SecUsec(s.write_timeout);
  server.set_write_timeout(ws, wu);
  // Bodies are refused by the pipeline; never buffer a large one.
  server.set_payload_max_length(64 * 1024);
}

}  // namespace

GatewayServer::GatewayServer(const Config& config, RequestPipeline& pipeline,
                             Metrics& metrics, audit::AuditSink& audit,
                             const Logger& log)
    : config_(config),
      pipeline_(pipeline),
      metrics_(metrics),
      audit_(audit),
      log_(log),
      main_pool_(MakePool(config.server.threads, config.server.max_connections,
                          config.server.max_queued_connections)),
      admin_pool_(MakePool(config.server.admin_threads,
                           config.server.admin_max_connections,
                           config.server.admin_max_connections)),
      main_(MakeMainHttpServer(config.tls, main_wake_)),
      admin_(MakeLoopServer(admin_wake_)),
      client_certificates_(
          std::make_shared<const std::vector<ClientCertificateMapping>>(
              config.tls.client_certificates)) {
  ConfigureMain();
  ConfigureAdmin();
}

GatewayServer::~GatewayServer() { Stop(); }

void GatewayServer::ReplaceClientCertificates(
    std::vector<ClientCertificateMapping> mappings) {
  auto next = std::make_shared<const std::vector<ClientCertificateMapping>>(
      std::move(mappings));
  std::lock_guard lock(cert_mu_);
  client_certificates_ = std::move(next);
}

std::shared_ptr<const std::vector<ClientCertificateMapping>>
GatewayServer::ClientCertificates() const {
  std::lock_guard lock(cert_mu_);
  return client_certificates_;
}

// POST /v1/approvals/{id}/{action} is the one route whose body the gateway
// reads (a JSON reason, bounded by the payload limit): pre-routing leaves it
// to httplib, which reads the body and calls the route below.
const std::regex& ApprovalActionPath() {
  static const std::regex path(R"(/v1/approvals/[^/]+/[^/]+)");
  return path;
}

const std::regex& ReviewAckPath() {
  static const std::regex path(R"(/v1/reviews/[^/]+/ack)");
  return path;
}

void GatewayServer::ConfigureMain() {
  ApplyCommonSettings(*main_, config_.server, main_pool_, main_fd_);
  const auto with_body = [this](const httplib::Request& req,
                                httplib::Response& res) {
    HttpRequest request = FromHttplibWithBody(req, *ClientCertificates());
    HttpResponse out = pipeline_.Handle(request);
    res.status = out.status;
    for (auto& [name, value] : out.headers) {
      res.set_header(name, value);
    }
    res.set_content(std::move(out.body), out.content_type);
  };
  main_->Post(R"(/v1/approvals/[^/]+/[^/]+)", with_body);
  // POST /v1/reviews/{id}/ack carries its reason the same way.
  main_->Post(R"(/v1/reviews/[^/]+/ack)", with_body);
  // Every request goes through the pipeline before httplib's own routing
  // (which matches decoded paths with std::regex) ever sees it.
  main_->set_pre_routing_handler([this](const httplib::Request& req,
                                        httplib::Response& res) {
    NoteRequestStarted(req);
    ForgetAcceptEncoding(req);
    if (RefuseAfterClose(res)) {
      return httplib::Server::HandlerResponse::Handled;
    }
    if (WorkerPool::OnOverflowThread()) {
      // Past the queue: answered at once, and the connection closed.
      metrics_.CountConnectionRefused("main", "overloaded");
      HttpResponse out = pipeline_.Overloaded(FromHttplib(req));
      res.status = out.status;
      for (auto& [name, value] : out.headers) res.set_header(name, value);
      res.set_content(std::move(out.body), out.content_type);
      CloseAfterResponse(res);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.headers.size() > kMaxRequestHeaders) {
      WriteProblem(res, Reason::kInvalidRequest, "too many request headers");
      res.status = 431;
      CloseAfterResponse(res);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (TakesBody(req)) return httplib::Server::HandlerResponse::Unhandled;
    HttpRequest request = FromHttplib(req);
    request.client_certificate_user =
        ClientCertificateUser(req, *ClientCertificates());
    // Without a body (curl -X POST sends no Content-Length), httplib
    // would refuse the POST; the pipeline takes it here as is.
    if (request.has_body && req.method == "POST" &&
        std::regex_match(req.path, ApprovalActionPath())) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (request.has_body && req.method == "POST" &&
        std::regex_match(req.path, ReviewAckPath())) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    request.hold_answer = AnswerHolder();
    HttpResponse out = pipeline_.Handle(request);
    res.status = out.status;
    for (auto& [name, value] : out.headers) res.set_header(name, value);
    res.set_content(std::move(out.body), out.content_type);
    if (pipeline_.draining()) {
      // Shutting down: no further requests on this connection.
      CloseAfterResponse(res);
    }
    if (request.has_body) {
      // The body was never read: close rather than parse it as the next
      // request on this connection.
      CloseAfterResponse(res);
    }
    return httplib::Server::HandlerResponse::Handled;
  });
  main_->Post(kExplainPath, [this](const httplib::Request& req,
                                   httplib::Response& res) {
    HttpRequest request = FromHttplibWithBody(req, *ClientCertificates());
    HttpResponse out = pipeline_.Handle(request);
    res.status = out.status;
    for (auto& [name, value] : out.headers) res.set_header(name, value);
    res.set_content(std::move(out.body), out.content_type);
  });
  // The console's sign-in reads its body ({"token"}) the same way.
  main_->Post(kSessionPath, [this](const httplib::Request& req,
                                   httplib::Response& res) {
    HttpRequest request = FromHttplibWithBody(req, *ClientCertificates());
    HttpResponse out = pipeline_.Handle(request);
    res.status = out.status;
    for (auto& [name, value] : out.headers) res.set_header(name, value);
    res.set_content(std::move(out.body), out.content_type);
  });
  main_->set_exception_handler([this](const httplib::Request&,
                                      httplib::Response& res,
                                      std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log_.Error("request failed with an exception", {{"error", what}});
    WriteProblem(res, Reason::kInternalError, "internal error");
  });
  // Errors httplib produces itself (malformed request line, oversized URI...).
  // The connection ends with the answer: after a request that could not be
  // parsed, nothing says where a next one would begin.
  main_->set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        Reason reason = Reason::kInvalidRequest;
        if (res.status == 413) reason = Reason::kPayloadTooLarge;
        if (res.status == 404) reason = Reason::kNotFound;
        const int status = res.status;
        WriteProblem(res, reason, "the request could not be parsed");
        res.status = status;
        CloseAfterResponse(res);
        return httplib::Server::HandlerResponse::Handled;
      }));
}

void GatewayServer::ConfigureAdmin() {
  ApplyCommonSettings(*admin_, config_.server, admin_pool_, admin_fd_);
  admin_->set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        NoteRequestStarted(req);
        if (RefuseAfterClose(res)) {
          return httplib::Server::HandlerResponse::Handled;
        }
        if (!WorkerPool::OnOverflowThread()) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        metrics_.CountConnectionRefused("admin", "overloaded");
        res.status = 503;
        res.set_header("Retry-After", "1");
        CloseAfterResponse(res);
        res.set_content("overloaded\n", "text/plain");
        return httplib::Server::HandlerResponse::Handled;
      });
  // As on the main listener: after what httplib could not parse, the
  // connection ends with the answer.
  admin_->set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request&, httplib::Response& res) {
        if (res.body.empty()) CloseAfterResponse(res);
        return httplib::Server::HandlerResponse::Unhandled;
      }));
  admin_->Get(
      "/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics_.Serialize(), "text/plain; version=0.0.4");
      });
  admin_->Get("/livez", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  admin_->Get(
      "/readyz", [this](const httplib::Request&, httplib::Response& res) {
        std::string problems;
        if (pipeline_.draining()) problems += "draining\n";
        if (!pipeline_.IdentityReady()) problems += "identity keys\n";
        // A real (durable, off-chain) write: ready means a release could
        // be recorded now, not that the last commit happened to work.
        if (!audit_.Probe()) {
          problems += "audit: cannot commit a record (audit.path)\n";
        }
        if (std::string broken = audit_.ChainBreak(); !broken.empty()) {
          problems += broken + "\n";
        }
        res.status = problems.empty() ? 200 : 503;
        res.set_content(problems.empty() ? "ready\n" : problems, "text/plain");
      });
}

std::string GatewayServer::Start() {
  auto bind = [](httplib::Server& server, const Endpoint& ep) {
    if (ep.port == 0) return server.bind_to_any_port(ep.host);
    return server.bind_to_port(ep.host, ep.port) ? ep.port : -1;
  };
  if (!main_->is_valid()) {
    return "cannot load the TLS certificate and key (tls.cert_file, "
           "tls.key_file, tls.client_ca_file)";
  }
  port_ = bind(*main_, config_.listen);
  if (port_ <= 0) {
    return "cannot listen on " + config_.listen.ToString() + ": " +
           std::strerror(errno);
  }
  admin_port_ = bind(*admin_, config_.admin_listen);
  if (admin_port_ <= 0) {
    return "cannot listen on " + config_.admin_listen.ToString() +
           " (admin_listen): " + std::strerror(errno);
  }
  // cpp-httplib 0.11 listens with a backlog of 5, so a burst of new
  // connections would see SYN drops and 1 s retransmits. Listening again on
  // the bound socket raises it.
  for (int fd : {main_fd_, admin_fd_}) {
    if (fd >= 0 && ::listen(fd, config_.server.listen_backlog) != 0) {
      return std::string("cannot set the listen backlog: ") +
             std::strerror(errno);
    }
  }
  guard_ = std::make_unique<ConnectionGuard>(
      std::vector<ConnectionGuard::Listener>{
          {main_fd_, main_pool_.get(), config_.server.keep_alive_timeout},
          {admin_fd_, admin_pool_.get(), config_.server.keep_alive_timeout}},
      config_.server.request_header_timeout,
      [this](std::size_t listener, const std::string& peer) {
        const char* name = listener == 0 ? "main" : "admin";
        metrics_.CountConnectionRefused(name, "header_timeout");
        log_.Warn(
            "closed a connection that sent no complete request head "
            "in time",
            {{"listener", name}, {"peer", peer}});
      },
      [this] {
        for (auto [name, pool] : {std::pair{"main", main_pool_.get()},
                                  std::pair{"admin", admin_pool_.get()}}) {
          const WorkerPool::Stats st = pool->stats();
          metrics_.SetListenerLoad(name, static_cast<double>(st.busy),
                                   static_cast<double>(st.threads - st.busy),
                                   static_cast<double>(st.queued));
        }
      });
  main_thread_ = std::thread([this] { main_->listen_after_bind(); });
  admin_thread_ = std::thread([this] { admin_->listen_after_bind(); });
  // httplib's stop() is a no-op until the accept loop runs; wait for it so a
  // Stop() right after Start() cannot leave a thread blocked in accept().
  while (!main_->is_running() || !admin_->is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return "";
}

void GatewayServer::Stop() {
  guard_.reset();
  main_->stop();
  admin_->stop();
  main_wake_->Fire();
  admin_wake_->Fire();
  if (drain_thread_.joinable()) drain_thread_.join();
  if (main_thread_.joinable()) main_thread_.join();
  if (admin_thread_.joinable()) admin_thread_.join();
}

}  // namespace agni
