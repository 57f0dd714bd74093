#include "tests/support/ops_support.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "base/crypto.h"

namespace agni::testing {

Process::Process(std::vector<std::string> argv, std::string log_file,
                 std::map<std::string, std::string> env)
    : log_file_(std::move(log_file)) {
  const int fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + log_file_);
  // Everything the child needs is built before fork(): the parent has
  // threads, so the child may only call async-signal-safe functions.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    if (!env.contains(entry.substr(0, entry.find('=')))) {
      env_strings.push_back(entry);
    }
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::close(fd);
    ::execvpe(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(fd);
}

Process::~Process() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void Process::Signal(int sig) const {
  if (!reaped_) ::kill(pid_, sig);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  if (reaped_) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string Process::Log() const {
  std::ifstream in(log_file_, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout,
                         const std::string& work_dir) {
  const std::string log = work_dir + "/command-" +
                          std::to_string(::getpid()) + "-" +
                          std::to_string(std::rand()) + ".log";
  Process p(argv, log);
  std::optional<int> code = p.Wait(timeout);
  return {code ? *code : -1, p.Log()};
}

bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

GatewayProcess::GatewayProcess(Options options) {
  users_ = {{"alice", {"support"}, NewToken()},
            {"olga", {"telecom-ops"}, NewToken()}};
  nlohmann::json users = nlohmann::json::array();
  for (const TestUser& u : users_) {
    users.push_back({{"name", u.name},
                     {"groups", u.groups},
                     {"token_sha256", Sha256Hex(u.token)}});
  }
  nlohmann::json upstream = {{"base_url", options.upstream_base_url},
                             {"read_timeout", options.read_timeout},
                             {"connect_timeout", "1s"}};
  if (options.upstream_base_url.starts_with("http://")) {
    upstream["allow_plain_http"] = true;
  }
  config_ = {{"listen", "127.0.0.1:0"},
             {"admin_listen", "127.0.0.1:0"},
             {"upstream", upstream},
             {"server", {{"threads", 8}}},
             {"audit", {{"path", "audit.db"}}},
             {"users", users},
             {"policy_file", "policy.json"}};
  config_.merge_patch(options.extra_config);
  dir_.Write("policy.json",
             R"({"rules":[)"
             R"({"id":"never-emergency","effect":"deny","numbers":["+1911*"]},)"
             R"({"id":"support-sandbox","effect":"allow","groups":["support"],"numbers":["+1555*"]},)"
             R"({"id":"ops-anything","effect":"allow","groups":["telecom-ops"]}],)"
             R"("limits":[{"id":"per-user-hourly","per":"user","max":1000,"window":"1h"}]})");
  WriteConfig(config_);
  process_ = std::make_unique<Process>(
      std::vector<std::string>{AGNI_GATEWAY_BIN, "serve", "--config",
                               dir_.File("gateway.json"), "--log-level",
                               options.log_level},
      dir_.File("gateway.log"),
      std::map<std::string, std::string>{{"AGNI_API_KEY", kApiKey}});
  // Fixed ports (log levels above info): wait for /readyz.
  const int fixed_port = std::stoi(config_["listen"].get<std::string>().substr(
      config_["listen"].get<std::string>().rfind(':') + 1));
  if (fixed_port != 0) {
    port_ = fixed_port;
    const std::string admin = config_["admin_listen"];
    admin_port_ = std::stoi(admin.substr(admin.rfind(':') + 1));
    if (!WaitFor(
            [&] {
              auto r = AdminClient().Get("/readyz");
              return r && r->status == 200;
            },
            std::chrono::seconds(20))) {
      throw std::runtime_error("gateway did not start:\n" + process_->Log());
    }
    return;
  }
  // The start-up line names the ports the OS chose.
  const bool started = WaitFor(
      [&] {
        for (const nlohmann::json& line : LogLines()) {
          if (line.value("message", "") == "agni-gateway listening") {
            const std::string listen = line.value("listen", "");
            const std::string admin = line.value("admin_listen", "");
            port_ = std::stoi(listen.substr(listen.rfind(':') + 1));
            admin_port_ = std::stoi(admin.substr(admin.rfind(':') + 1));
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(20));
  if (!started) {
    throw std::runtime_error("gateway did not start:\n" + process_->Log());
  }
}

httplib::Client GatewayProcess::Client() const {
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(20, 0);
  return c;
}

httplib::Client GatewayProcess::AdminClient() const {
  httplib::Client c("127.0.0.1", admin_port_);
  c.set_read_timeout(5, 0);
  return c;
}

std::vector<nlohmann::json> GatewayProcess::LogLines() const {
  std::vector<nlohmann::json> lines;
  std::istringstream in(process_ ? process_->Log() : "");
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) j = {{"unparsed", line}};
    lines.push_back(std::move(j));
  }
  return lines;
}

void GatewayProcess::WriteConfig(const nlohmann::json& config) const {
  dir_.Write("gateway.json", config.dump(2));
}

}  // namespace agni::testing
