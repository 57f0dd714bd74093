#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/helpers.h"

#ifndef AGNI_GATEWAY_BINARY
#error "AGNI_GATEWAY_BINARY must name the agni-gateway executable"
#endif

extern char** environ;

namespace agni::testing {
namespace fs = std::filesystem;

Process::Process(Options options) : log_file_(std::move(options.log_file)) {
  std::error_code ec;
  if (fs::exists(log_file_, ec)) log_offset_ = fs::file_size(log_file_, ec);
  const int fd = ::open(log_file_.c_str(),
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + log_file_);
  // Everything the child needs is built before fork(): the parent has
  // threads, so the child may only call async-signal-safe functions.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    const auto& unset = options.unset_env;
    if (options.env.contains(name) ||
        std::find(unset.begin(), unset.end(), name) != unset.end()) {
      continue;
    }
    env_strings.push_back(entry);
  }
  for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (auto& a : options.argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(fd);
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execvpe(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(fd);
}

Process::~Process() {
  if (!status_) Kill();
}

void Process::Signal(int sig) const {
  if (!status_) ::kill(pid_, sig);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!status_) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = WIFEXITED(status)     ? WEXITSTATUS(status)
                : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                      : -1;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status_;
}

void Process::Kill() {
  if (status_) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  status_ = 128 + SIGKILL;
}

std::string Process::Log() const {
  const std::string all = ReadFile(log_file_);
  return log_offset_ < all.size() ? all.substr(log_offset_) : "";
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout,
                         const std::map<std::string, std::string>& env) {
  TempDir dir;
  Process p({.argv = argv, .log_file = dir.File("output"), .env = env});
  const std::optional<int> code = p.Wait(timeout);
  return {code.value_or(-1), p.Log()};
}

CommandResult RunGateway(const std::vector<std::string>& args,
                         std::map<std::string, std::string> env,
                         std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {AGNI_GATEWAY_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  env.emplace("AGNI_API_KEY", kApiKey);
  return RunCommand(argv, timeout, env);
}

namespace {

int PortOf(const std::string& host_port) {
  return std::stoi(host_port.substr(host_port.rfind(':') + 1));
}

}  // namespace

GatewayProcess::GatewayProcess(Options options) {
  if (options.config_file.empty()) {
    users_ = options.config.users;
    config_file_ = options.config.WriteTo(dir_);
  } else {
    config_file_ = fs::absolute(options.config_file).string();
  }
  const fs::path folder = fs::path(config_file_).parent_path();
  const nlohmann::json doc = config();
  const fs::path audit = doc.at("audit").at("path").get<std::string>();
  audit_path_ = (audit.is_absolute() ? audit : folder / audit).string();
  fixed_port_ = PortOf(doc.value("listen", "127.0.0.1:0"));
  fixed_admin_port_ = PortOf(doc.value("admin_listen", "127.0.0.1:0"));

  std::vector<std::string> argv = {AGNI_GATEWAY_BINARY, "serve", "--config",
                                   config_file_};
  if (!options.log_level.empty()) {
    argv.insert(argv.end(), {"--log-level", options.log_level});
  }
  options.env["AGNI_API_KEY"] = options.api_key;
  process_ = std::make_unique<Process>(Process::Options{
      .argv = argv,
      .log_file = options.log_file.empty() ? (folder / "gateway.log").string()
                                           : options.log_file,
      .env = options.env,
      .unset_env = {"AGNI_API_KEY_FILE"}});
  if (options.wait_listening && !WaitListening()) {
    const std::string log = Log();
    process_->Kill();
    throw std::runtime_error("agni-gateway did not start:\n" + log);
  }
}

bool GatewayProcess::WaitListening(std::chrono::milliseconds limit) {
  // Port 0: the start-up line names the ports the OS chose. Fixed ports
  // (a log level above info hides that line): /readyz answers.
  return WaitFor(
             [&] {
               for (const nlohmann::json& line : LogLines()) {
                 if (line.value("message", "") != "agni-gateway listening")
                   continue;
                 port_ = PortOf(line.value("listen", ""));
                 admin_port_ = PortOf(line.value("admin_listen", ""));
                 return true;
               }
               if (fixed_port_ != 0 && fixed_admin_port_ != 0) {
                 httplib::Client c("127.0.0.1", fixed_admin_port_);
                 c.set_read_timeout(2, 0);
                 if (auto r = c.Get("/readyz"); r && r->status == 200) {
                   port_ = fixed_port_;
                   admin_port_ = fixed_admin_port_;
                   return true;
                 }
               }
               return !process_->Running();
             },
             limit) &&
         port_ != 0;
}

bool GatewayProcess::Live() {
  if (!Running()) return false;
  auto res = AdminClient().Get("/livez");
  return res && res->status == 200;
}

std::optional<int> GatewayProcess::Stop(std::chrono::milliseconds limit) {
  process_->Signal(SIGTERM);
  return process_->Wait(limit);
}

std::vector<nlohmann::json> GatewayProcess::LogLines() const {
  std::vector<nlohmann::json> lines;
  std::istringstream in(Log());
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) j = {{"unparsed", line}};
    lines.push_back(std::move(j));
  }
  return lines;
}

httplib::Client GatewayProcess::Client() const {
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(20, 0);
  return c;
}

httplib::Client GatewayProcess::AdminClient() const {
  httplib::Client c("127.0.0.1", admin_port_);
  c.set_read_timeout(10, 0);
  return c;
}

std::string GatewayProcess::Metrics() const {
  auto res = AdminClient().Get("/metrics");
  return res && res->status == 200 ? res->body : "";
}

std::optional<double> GatewayProcess::Metric(const std::string& series) const {
  return MetricValue(Metrics(), series);
}

nlohmann::json GatewayProcess::config() const {
  return nlohmann::json::parse(ReadFile(config_file_));
}

void GatewayProcess::WriteConfig(const nlohmann::json& config) const {
  WriteFile(config_file_, config.dump(2));
}

std::vector<nlohmann::json> GatewayProcess::AuditRows() const {
  return ReadAuditRows(audit_path_);
}

std::string GatewayProcess::AuditDbBytes() const {
  return ReadFile(audit_path_) + ReadFile(audit_path_ + "-wal");
}

}  // namespace agni::testing
