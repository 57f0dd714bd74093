#include "tests/syslog/rsyslog_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/helpers.h"

namespace agni::testing {
namespace {

bool Accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok =
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

RsyslogServer::RsyslogServer(Options options)
    : options_(std::move(options)), port_(FreePort()) {
  dir_.Mkdir("work");
  const std::string d = dir_.path().string();
  std::string conf =
      std::string("global(workDirectory=\"") + d +
      "/work\" maxMessageSize=\"64k\"\n"
      "  DefaultNetstreamDriver=\"gtls\"\n"
      "  DefaultNetstreamDriverCAFile=\"" +
      options_.ca_file +
      "\"\n"
      "  DefaultNetstreamDriverCertFile=\"" +
      options_.cert_file +
      "\"\n"
      "  DefaultNetstreamDriverKeyFile=\"" +
      options_.key_file +
      "\")\n"
      "module(load=\"imtcp\" StreamDriver.Name=\"gtls\" "
      "StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"" +
      options_.auth_mode +
      "\")\n"
      "template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n"
      "input(type=\"imtcp\" port=\"" +
      std::to_string(port_) +
      "\" ruleset=\"audit\")\n"
      "ruleset(name=\"audit\") {\n"
      "  action(type=\"omfile\" file=\"" +
      d +
      "/received.log\" template=\"raw\")\n"
      "}\n";
  dir_.Write("rsyslog.conf", conf);
  Start();
}

RsyslogServer::~RsyslogServer() {
  if (process_) process_->Kill();
}

void RsyslogServer::Start() {
  process_ = std::make_unique<Process>(Process::Options{
      .argv = {"/usr/sbin/rsyslogd", "-n", "-f", dir_.File("rsyslog.conf"),
               "-i", dir_.File("rsyslogd.pid")},
      .log_file = dir_.File("rsyslogd.out")});
  if (!WaitFor([&] { return !process_->Running() || Accepts(port_); },
               std::chrono::seconds(30)) ||
      !process_->Running()) {
    throw std::runtime_error(std::string("rsyslogd did not start: ") + Log());
  }
}

void RsyslogServer::Stop() {
  process_->Signal(SIGTERM);
  if (!process_->Wait(std::chrono::seconds(30))) {
    throw std::runtime_error("rsyslogd did not stop on SIGTERM");
  }
}

std::string RsyslogServer::address() const {
  return std::string("127.0.0.1:") + std::to_string(port_);
}

std::vector<std::string> RsyslogServer::Messages() const {
  std::vector<std::string> out;
  std::istringstream in(dir_.Read("received.log"));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::string RsyslogServer::Log() const { return dir_.Read("rsyslogd.out"); }

std::optional<std::int64_t> MessageSeq(const std::string& message) {
  static const std::regex kSeq(R"re(\[agni@32473 seq="([0-9]+)")re");
  std::smatch m;
  if (!std::regex_search(message, m, kSeq)) return std::nullopt;
  return std::stoll(m[1].str());
}

std::string MessageBody(const std::string& message) {
  const std::size_t end = message.find("\"] ");
  return end == std::string::npos ? "" : message.substr(end + 3);
}

std::map<std::int64_t, int> SeqCounts(
    const std::vector<std::string>& messages) {
  std::map<std::int64_t, int> counts;
  for (const std::string& m : messages) {
    if (std::optional<std::int64_t> seq = MessageSeq(m)) ++counts[*seq];
  }
  return counts;
}

}  // namespace agni::testing
