// The one way tests start child processes: any command (Process, RunCommand)
// and the real agni-gateway binary (GatewayProcess, RunGateway), whose path
// is AGNI_GATEWAY_BINARY.
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/config_builder.h"
#include "tests/support/temp_dir.h"

namespace agni::testing {

// A child process with stdout and stderr appended to a log file. Killed
// (SIGKILL) with the object unless it has been reaped. Not thread-safe.
class Process {
 public:
  struct Options {
    std::vector<std::string> argv;  // argv[0] is looked up in PATH
    std::string log_file;           // appended to, created when missing
    // Set for the child, replacing what it would inherit.
    std::map<std::string, std::string> env;
    std::vector<std::string> unset_env;  // not inherited
  };
  explicit Process(Options options);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig) const;
  // The exit status (or 128 + signal), or nullopt if still running after
  // `timeout`.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool Running() { return !Wait(std::chrono::milliseconds(0)).has_value(); }
  void Kill();  // SIGKILL, then reap
  // What this child wrote (the log file from where it stood at the start).
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  std::string log_file_;
  std::size_t log_offset_ = 0;
  std::optional<int> status_;
};

// What a command printed (stdout and stderr) and its exit status.
struct CommandResult {
  int exit_code = -1;  // -1 when it did not finish in time
  std::string output;
};
CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout,
                         const std::map<std::string, std::string>& env = {});
// `agni-gateway ARGS...` to completion, with kApiKey as AGNI_API_KEY unless
// `env` says otherwise.
CommandResult RunGateway(
    const std::vector<std::string>& args,
    std::map<std::string, std::string> env = {},
    std::chrono::milliseconds timeout = std::chrono::seconds(120));

// The real binary running `serve`. Not thread-safe, except port(),
// admin_port(), Client() and AdminClient(), which only read.
class GatewayProcess {
 public:
  struct Options {
    // Written into dir() and served, unless `config_file` is set.
    GatewayConfig config;
    // An existing gateway.json to serve instead; the log goes next to it.
    std::string config_file;
    std::string log_file;           // default: gateway.log next to the config
    std::string api_key = kApiKey;  // AGNI_API_KEY (AGNI_API_KEY_FILE unset)
    std::map<std::string, std::string> env;  // more for the child
    std::string log_level;                   // --log-level, when set
    // Throw unless it serves within a minute; false: call WaitListening.
    bool wait_listening = true;
  };
  explicit GatewayProcess(Options options);

  // Until the gateway serves (true), or it exits or `limit` passes (false).
  bool WaitListening(
      std::chrono::milliseconds limit = std::chrono::seconds(60));

  int port() const { return port_; }
  int admin_port() const { return admin_port_; }
  const TempDir& dir() const { return dir_; }
  Process& process() { return *process_; }
  const std::vector<TestUser>& users() const { return users_; }
  const TestUser& alice() const { return users_.at(0); }
  const TestUser& olga() const { return users_.at(1); }

  bool Running() { return process_->Running(); }
  bool Live();  // running and /livez answers 200
  void Signal(int sig) const { process_->Signal(sig); }
  // SIGTERM and wait (bounded); the exit status, or nullopt when it hung.
  std::optional<int> Stop(
      std::chrono::milliseconds limit = std::chrono::seconds(60));
  void Kill() { process_->Kill(); }

  std::string Log() const { return process_->Log(); }
  // Each log line parsed; a line that is not a JSON object comes back as
  // {"unparsed": line}.
  std::vector<nlohmann::json> LogLines() const;

  httplib::Client Client() const;
  httplib::Client AdminClient() const;
  std::string Metrics() const;  // "" when the scrape fails
  std::optional<double> Metric(const std::string& series) const;

  std::string config_file() const { return config_file_; }
  nlohmann::json config() const;  // gateway.json as it is on disk now
  void WriteConfig(const nlohmann::json& config) const;  // for SIGHUP tests
  std::string audit_path() const { return audit_path_; }
  std::vector<nlohmann::json> AuditRows() const;
  std::string AuditDbBytes() const;  // the raw database file(s): db + wal

 private:
  TempDir dir_;
  std::vector<TestUser> users_;
  std::string config_file_;
  std::string audit_path_;
  int fixed_port_ = 0;
  int fixed_admin_port_ = 0;
  std::unique_ptr<Process> process_;
  int port_ = 0;
  int admin_port_ = 0;
};

}  // namespace agni::testing
