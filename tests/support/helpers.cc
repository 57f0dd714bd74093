#include "tests/support/helpers.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

namespace agni::testing {

std::optional<double> MetricValue(const std::string& exposition,
                                  const std::string& series) {
  std::size_t at = 0;
  while ((at = exposition.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || exposition[at - 1] == '\n') {
      const std::size_t start = at + series.size() + 1;
      return std::stod(
          exposition.substr(start, exposition.find('\n', start) - start));
    }
    ++at;
  }
  return std::nullopt;
}

std::string ReleasePath(const std::string& number_in_path) {
  return "/api/v1/phone-numbers/" + number_in_path + "/release/";
}

httplib::Headers Bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
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

void WarmUpHttpClient(int admin_port) {
  // cpp-httplib (an uninstrumented shared library) builds function-local
  // static regexes on first use. Doing that once here, before a test starts
  // its threads, gives ThreadSanitizer the happens-before edge it cannot see
  // inside the library; otherwise two threads' first responses race on it.
  httplib::Client c("127.0.0.1", admin_port);
  c.set_read_timeout(5, 0);
  c.Get("/livez");
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

void CollectJsonStrings(const nlohmann::json& j,
                        std::vector<std::string>& out) {
  if (j.is_string()) out.push_back(j.get<std::string>());
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      out.push_back(k);
      CollectJsonStrings(v, out);
    }
  }
  if (j.is_array()) {
    for (const nlohmann::json& e : j) CollectJsonStrings(e, out);
  }
}

std::string Numbered(std::string_view prefix, long long n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

}  // namespace agni::testing
