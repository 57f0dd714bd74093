#include "tests/support/gateway_process.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "base/crypto.h"

extern char** environ;

namespace agni::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int PortOf(const std::string& host_port) {
  return std::stoi(host_port.substr(host_port.rfind(':') + 1));
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

GatewayProcess::GatewayProcess(Options options) {
  // Recognisable tokens, so a leak search can find them anywhere.
  users_ = {{"alice", {"support"}, "LEAKCANARY-token-alice-Jx8Pq2"},
            {"olga", {"telecom-ops"}, "LEAKCANARY-token-olga-Vn3Wk7"},
            {"mallory", {"contractors"}, "LEAKCANARY-token-mallory-Rt5Ye1"}};
  nlohmann::json users = nlohmann::json::array();
  for (const TestUser& u : users_) {
    users.push_back({{"name", u.name},
                     {"groups", u.groups},
                     {"token_sha256", Sha256Hex(u.token)}});
  }
  nlohmann::json upstream = {{"base_url", options.upstream_base_url},
                             {"read_timeout", options.upstream_read_timeout},
                             {"connect_timeout", "1s"}};
  if (options.upstream_base_url.starts_with("http://")) {
    upstream["allow_plain_http"] = true;
  }
  if (!options.ca_file.empty()) upstream["ca_file"] = options.ca_file;
  const nlohmann::json config = {
      {"listen", "127.0.0.1:0"},
      {"admin_listen", "127.0.0.1:0"},
      {"upstream", upstream},
      {"server",
       {{"threads", 8},
        {"read_timeout", options.read_timeout},
        {"write_timeout", "2s"},
        {"keep_alive_timeout", options.keep_alive_timeout}}},
      {"audit", {{"path", "audit.db"}}},
      {"users", users},
      {"auditors", {"compliance"}},
      {"policy_file", "policy.json"}};
  nlohmann::json full = config;
  if (!options.listen_tls.is_null()) full["tls"] = options.listen_tls;
  dir_.Write("gateway.json", full.dump(2));
  dir_.Write("policy.json",
             R"({"rules":[)"
             R"({"id":"never-emergency","effect":"deny","numbers":["+1911*"]},)"
             R"({"id":"support-sandbox","effect":"allow","groups":["support"],"numbers":["+1555*"]},)"
             R"({"id":"ops-anything","effect":"allow","groups":["telecom-ops"]}]})");
  audit_path_ = dir_.File("audit.db");

  // Everything the child needs is prepared before fork(): the parent has
  // threads (the fake upstream), so the child may only exec.
  const std::string binary = AGNI_GATEWAY_BINARY;
  const std::string config_path = dir_.File("gateway.json");
  const std::string log_path = dir_.File("gateway.log");
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "AGNI_API_KEY", 12) != 0) env_strings.push_back(*e);
  }
  env_strings.push_back("AGNI_API_KEY=" + options.api_key);
  for (const std::string& e : options.extra_env) env_strings.push_back(e);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = {binary, "serve", "--config", config_path};
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  const int log_fd =
      ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd < 0) throw std::runtime_error("cannot create the gateway log");

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);

  // The binary logs its bound ports once it serves (port 0 = OS-chosen).
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < until) {
    std::istringstream lines(Log());
    for (std::string line; std::getline(lines, line);) {
      if (line.find("\"agni-gateway listening\"") == std::string::npos) continue;
      const auto j = nlohmann::json::parse(line);
      port_ = PortOf(j.at("listen").get<std::string>());
      admin_port_ = PortOf(j.at("admin_listen").get<std::string>());
      return;
    }
    if (!Running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string log = Log();
  if (pid_ > 0) {  // never kill(-1): Running() clears pid_ once it exited
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  throw std::runtime_error("agni-gateway did not start:\n" + log);
}

GatewayProcess::~GatewayProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

bool GatewayProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

bool GatewayProcess::Live() {
  if (!Running()) return false;
  httplib::Client c("127.0.0.1", admin_port_);
  c.set_read_timeout(10, 0);
  auto res = c.Get("/livez");
  return res && res->status == 200;
}

std::optional<int> GatewayProcess::Stop() {
  if (pid_ <= 0) return std::nullopt;
  ::kill(pid_, SIGTERM);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

std::string GatewayProcess::Log() const {
  return ReadFile(dir_.File("gateway.log"));
}

std::vector<nlohmann::json> GatewayProcess::AuditRows() const {
  return ReadAuditRows(audit_path_);
}

std::string GatewayProcess::AuditDbBytes() const {
  return ReadFile(audit_path_) + ReadFile(audit_path_ + "-wal");
}

std::string GatewayProcess::Metrics() const {
  httplib::Client c("127.0.0.1", admin_port_);
  c.set_read_timeout(10, 0);
  auto res = c.Get("/metrics");
  return res && res->status == 200 ? res->body : "";
}

// How many complete responses (head and Content-Length body) `bytes` holds.
std::size_t CompleteResponses(const std::string& bytes) {
  std::size_t n = 0;
  std::size_t at = 0;
  while (at < bytes.size()) {
    const std::size_t head_end = bytes.find("\r\n\r\n", at);
    if (head_end == std::string::npos) break;
    const std::string head = Lower(bytes.substr(at, head_end - at));
    std::size_t length = 0;
    if (auto cl = head.find("\r\ncontent-length:"); cl != std::string::npos) {
      length = std::strtoul(head.c_str() + cl + 17, nullptr, 10);
    }
    if (head_end + 4 + length > bytes.size()) break;
    at = head_end + 4 + length;
    ++n;
  }
  return n;
}

std::vector<int> RawReply::statuses() const {
  // Walks the responses: status line, headers, Content-Length bytes of body.
  std::vector<int> out;
  std::size_t at = 0;
  while (at < bytes.size() && bytes.compare(at, 7, "HTTP/1.") == 0) {
    if (at + 12 > bytes.size()) break;
    out.push_back(std::atoi(bytes.substr(at + 9, 3).c_str()));
    const std::size_t head_end = bytes.find("\r\n\r\n", at);
    if (head_end == std::string::npos) break;
    const std::string head = Lower(bytes.substr(at, head_end - at));
    std::size_t length = 0;
    if (auto cl = head.find("\r\ncontent-length:"); cl != std::string::npos) {
      length = std::strtoul(head.c_str() + cl + 17, nullptr, 10);
    }
    at = head_end + 4 + length;
  }
  return out;
}

int RawReply::status() const {
  if (bytes.rfind("HTTP/1.", 0) != 0 || bytes.size() < 12) return 0;
  return std::atoi(bytes.substr(9, 3).c_str());
}

std::vector<std::string> RawReply::Header(const std::string& name) const {
  std::vector<std::string> values;
  const std::string head = bytes.substr(0, bytes.find("\r\n\r\n"));
  std::istringstream lines(head);
  const std::string want = Lower(name) + ":";
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (Lower(line.substr(0, want.size())) != want) continue;
    std::string v = line.substr(want.size());
    while (!v.empty() && v.front() == ' ') v.erase(0, 1);
    values.push_back(v);
  }
  return values;
}

RawReply RawExchange(int port, const std::string& request, bool wait_for_close,
                     std::chrono::milliseconds deadline) {
  RawReply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("connect");
  }
  const auto until = std::chrono::steady_clock::now() + deadline;
  auto read_some = [&](int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return true;
    char buf[16384];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      reply.closed = true;
      return false;
    }
    reply.bytes.append(buf, static_cast<std::size_t>(n));
    return true;
  };
  // Write in pieces, draining replies as we go: a server that answers early
  // (e.g. 414 before the whole line arrived) must not deadlock the test.
  std::size_t sent = 0;
  while (sent < request.size() && !reply.closed) {
    const std::size_t n = std::min<std::size_t>(65536, request.size() - sent);
    const ssize_t w = ::send(fd, request.data() + sent, n, MSG_NOSIGNAL);
    if (w <= 0) break;  // reset or closed by the server
    sent += static_cast<std::size_t>(w);
    read_some(0);
  }
  while (!reply.closed && std::chrono::steady_clock::now() < until) {
    if (!wait_for_close && CompleteResponses(reply.bytes) >= 1) break;
    read_some(50);
  }
  ::close(fd);
  return reply;
}

}  // namespace agni::testing
