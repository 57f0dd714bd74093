// Helpers for the operations tests: child processes (the built gateway
// binary, promtool, a real Prometheus server) and a gateway config written to
// a temp dir. Everything listens on 127.0.0.1 with OS-chosen ports.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/test_support.h"

namespace agni::testing {

// A child process with stdout and stderr sent to `log_file`. Killed (SIGKILL)
// with the object unless it has been waited for.
class Process {
 public:
  Process(std::vector<std::string> argv, std::string log_file,
          std::map<std::string, std::string> env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig) const;
  // The exit status (or 128 + signal), or nullopt if still running after
  // `timeout`.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  std::string log_file_;
  bool reaped_ = false;
};

// Runs a command to completion (bounded); returns exit code and output.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout,
                         const std::string& work_dir);

// Polls `condition` every 20 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout);

// A free TCP port on 127.0.0.1 (bound and released; fine for tests).
int FreePort();

// The built agni-gateway binary running `serve` with a generated config.
class GatewayProcess {
 public:
  struct Options {
    std::string upstream_base_url;
    nlohmann::json extra_config = nlohmann::json::object();  // merged in
    std::string log_level = "info";
    std::string read_timeout = "10s";
  };
  explicit GatewayProcess(Options options);

  const TempDir& dir() const { return dir_; }
  Process& process() { return *process_; }
  int port() const { return port_; }
  int admin_port() const { return admin_port_; }
  const TestUser& alice() const { return users_[0]; }  // support
  const TestUser& olga() const { return users_[1]; }   // telecom-ops
  httplib::Client Client() const;
  httplib::Client AdminClient() const;
  std::string audit_path() const { return dir_.File("audit.db"); }
  // Each stderr line, parsed; lines that are not JSON objects are returned
  // as {"unparsed": line}.
  std::vector<nlohmann::json> LogLines() const;
  // Rewrites the config file (for SIGHUP tests).
  void WriteConfig(const nlohmann::json& config) const;
  nlohmann::json config() const { return config_; }

 private:
  TempDir dir_;
  std::vector<TestUser> users_;
  nlohmann::json config_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
  int admin_port_ = 0;
};

}  // namespace agni::testing
