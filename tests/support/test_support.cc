#include "tests/support/test_support.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sys/socket.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>


namespace agni::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "agni-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void TempDir::Write(const std::string& name, const std::string& content) const {
  std::ofstream out(path_ / name, std::ios::binary);
  out << content;
}

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
                                                   key_file.c_str())) {
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
  server_->Delete(".*", [this](const httplib::Request& req,
                               httplib::Response& res) {
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

void WarmUpHttpClient(int admin_port) {
  // cpp-httplib (an uninstrumented shared library) builds function-local
  // static regexes on first use. Doing that once here, before a test starts
  // its threads, gives ThreadSanitizer the happens-before edge it cannot see
  // inside the library; otherwise two threads' first responses race on it.
  httplib::Client c("127.0.0.1", admin_port);
  c.set_read_timeout(5, 0);
  c.Get("/livez");
}

std::vector<nlohmann::json> ReadAuditRows(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  SQLite::Statement q(db, "SELECT * FROM audit_records ORDER BY seq");
  std::vector<nlohmann::json> rows;
  while (q.executeStep()) {
    nlohmann::json row = nlohmann::json::object();
    for (int i = 0; i < q.getColumnCount(); ++i) {
      const SQLite::Column c = q.getColumn(i);
      if (c.isNull()) continue;
      if (c.isInteger()) {
        row[c.getName()] = c.getInt64();
      } else {
        row[c.getName()] = c.getString();
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::optional<double> MetricValue(const std::string& exposition,
                                  const std::string& series) {
  std::size_t at = 0;
  while ((at = exposition.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || exposition[at - 1] == '\n') {
      const std::size_t start = at + series.size() + 1;
      return std::stod(exposition.substr(start, exposition.find('\n', start) - start));
    }
    ++at;
  }
  return std::nullopt;
}

std::string ReleasePath(const std::string& number_in_path) {
  return "/api/v1/phone-numbers/" + number_in_path + "/release/";
}

}  // namespace agni::testing
