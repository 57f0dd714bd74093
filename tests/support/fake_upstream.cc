#include "tests/support/fake_upstream.h"

#include <sys/socket.h>

#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

namespace agni::testing {

FakeUpstream::FakeUpstream() : server_(std::make_unique<httplib::Server>()) {
  Start();
}

FakeUpstream::FakeUpstream(std::size_t threads)
    : server_(std::make_unique<httplib::Server>()), threads_(threads) {
  Start();
}

FakeUpstream::FakeUpstream(const std::string& cert_file,
                           const std::string& key_file)
    : server_(std::make_unique<httplib::SSLServer>(cert_file.c_str(),
                                                   key_file.c_str())),
      tls_(true) {
  if (!server_->is_valid()) throw std::runtime_error("bad test certificate");
  Start();
}

void FakeUpstream::Start() {
  server_->set_tcp_nodelay(true);
  server_->set_keep_alive_max_count(1000);
  server_->new_task_queue = [n = threads_] {
    return new httplib::ThreadPool(n);
  };
  int listen_fd = -1;
  server_->set_socket_options([&listen_fd](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd = sock;
  });
  server_->Delete(
      ".*", [this](const httplib::Request& req, httplib::Response& res) {
        Reply reply;
        {
          std::lock_guard lock(mu_);
          received_.push_back(
              {req.method, req.target, req.headers, req.body, req.remote_port});
          reply = reply_;
        }
        if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);
        res.status = reply.status;
        std::string body = reply.body;
        if (reply.echo_headers) {
          nlohmann::json h = nlohmann::json::object();
          for (const auto& [k, v] : req.headers) h[k] = v;
          body = h.dump();
        }
        res.set_content(body, reply.content_type);
      });
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("fake upstream cannot bind");
  // httplib listens with a backlog of 5: a burst of connections (the
  // isolation tests send hundreds at once) would see SYNs dropped.
  if (listen_fd >= 0) ::listen(listen_fd, 1024);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

FakeUpstream::~FakeUpstream() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string FakeUpstream::url() const {
  return std::string(tls_ ? "https" : "http") +
         "://127.0.0.1:" + std::to_string(port_);
}

void FakeUpstream::SetReply(Reply reply) {
  std::lock_guard lock(mu_);
  reply_ = std::move(reply);
}

std::vector<ReceivedRequest> FakeUpstream::Received() const {
  std::lock_guard lock(mu_);
  return received_;
}

std::size_t FakeUpstream::DistinctConnections() const {
  std::lock_guard lock(mu_);
  std::set<int> ports;
  for (const auto& r : received_) ports.insert(r.remote_port);
  return ports.size();
}

}  // namespace agni::testing
