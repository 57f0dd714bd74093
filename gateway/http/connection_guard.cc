#include "gateway/http/connection_guard.h"

#include <dirent.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <set>
#include <string_view>
#include <unordered_map>

namespace agni {
namespace {

using Clock = std::chrono::steady_clock;

// The port of a local or peer socket address, or -1.
int PortOf(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
  }
  if (a.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
  }
  return -1;
}

// "address:port" as cpp-httplib reports a request's peer (numeric host).
std::string PeerOf(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return "";
  }
  char host[NI_MAXHOST];
  if (getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host,
                  nullptr, 0, NI_NUMERICHOST) != 0) {
    return "";
  }
  return std::string(host) + ":" + std::to_string(PortOf(addr));
}

int LocalPort(int fd, int* family) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return -1;
  }
  *family = addr.ss_family;
  return PortOf(addr);
}

// Calls `visit(fd)` for every socket the process holds; stops when it
// returns true.
template <typename Visit>
void ForEachSocket(Visit visit) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;
  const int dir_fd = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long parsed = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    const int fd = static_cast<int>(parsed);
    if (fd == dir_fd) continue;
    // Sockets only, told by the link's name: the fd belongs to another
    // thread, so the guard asks /proc rather than operating on it.
    char link[64];
    const std::string proc_path = std::string("/proc/self/fd/") + entry->d_name;
    const ssize_t n = readlink(proc_path.c_str(), link, sizeof link - 1);
    if (n <= 0 ||
        std::string_view(link, static_cast<std::size_t>(n)).substr(0, 8) !=
            "socket:[") {
      continue;
    }
    if (visit(fd)) break;
  }
  closedir(dir);
}

}  // namespace

ConnectionGuard::ConnectionGuard(std::vector<Listener> listeners,
                                 std::chrono::milliseconds header_timeout,
                                 OnCut on_cut, OnScan on_scan,
                                 std::chrono::milliseconds interval)
    : listeners_(std::move(listeners)),
      header_timeout_(header_timeout),
      interval_(interval),
      on_cut_(std::move(on_cut)),
      on_scan_(std::move(on_scan)) {
  for (const Listener& l : listeners_) {
    int family = 0;
    const int port = LocalPort(l.listen_fd, &family);
    local_.emplace_back(port, family);
  }
  thread_ = std::thread([this] { Run(); });
}

ConnectionGuard::~ConnectionGuard() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ConnectionGuard::Run() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval_, [&] { return stop_; })) {
    lock.unlock();
    Scan();
    if (on_scan_) on_scan_();
    lock.lock();
  }
}

std::size_t ConnectionGuard::Scan() {
  std::lock_guard scan_lock(scan_mu_);
  const Clock::time_point now = Clock::now();

  struct Watched {
    int port = -1;
    int family = 0;
    std::unordered_map<std::string, WorkerSlot::View> by_peer;
  };
  std::vector<Watched> watched(listeners_.size());
  for (std::size_t i = 0; i < listeners_.size(); ++i) {
    watched[i].port = local_[i].first;
    watched[i].family = local_[i].second;
    for (WorkerSlot::View& v : listeners_[i].pool->Slots()) {
      if (!v.peer.empty()) watched[i].by_peer[v.peer] = std::move(v);
    }
  }

  std::set<std::string> present;
  std::size_t cut = 0;
  ForEachSocket([&](int fd) {
    int family = 0;
    const int port = LocalPort(fd, &family);
    for (std::size_t i = 0; i < listeners_.size(); ++i) {
      const Listener& l = listeners_[i];
      if (fd == l.listen_fd || port < 0 || port != watched[i].port ||
          family != watched[i].family) {
        continue;
      }
      const std::string peer = PeerOf(fd);
      if (peer.empty()) break;  // not connected
      const std::string key =
          std::to_string(i) + "|" + std::to_string(fd) + "|" + peer;
      present.insert(key);
      const Clock::time_point first =
          first_seen_.emplace(key, now).first->second;
      // Past this point without a complete request head, the client is cut.
      Clock::time_point deadline = first + header_timeout_;
      auto slot = watched[i].by_peer.find(peer);
      if (slot != watched[i].by_peer.end()) {
        if (slot->second.state == WorkerSlot::State::kHandling) break;
        deadline =
            std::max(deadline, slot->second.since + l.keep_alive_timeout +
                                   header_timeout_);
      }
      if (now < deadline) break;
      // Checked again right before: the fd must still be that connection.
      if (PeerOf(fd) == peer && shutdown(fd, SHUT_RDWR) == 0) {
        ++cut;
        first_seen_.erase(key);
        present.erase(key);
        if (on_cut_) on_cut_(i, peer);
      }
      break;
    }
    return false;
  });
  for (auto it = first_seen_.begin(); it != first_seen_.end();) {
    it = present.count(it->first) ? std::next(it) : first_seen_.erase(it);
  }
  return cut;
}

}  // namespace agni
