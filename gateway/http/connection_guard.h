// Cuts off clients that hold a connection without sending a request: the
// slowloris defence. cpp-httplib 0.11 times out each read, not the request
// head as a whole, so a client dribbling one byte at a time keeps a worker
// thread forever. cpp-httplib does not expose the connection's socket, so
// the guard finds the listener's connections itself (/proc/self/fd, matched
// by local port) and matches them by peer address with what the worker
// threads report (WorkerSlot). A connection that has not delivered a
// complete request head within `header_timeout` of being accepted (or of its
// previous response plus the keep-alive wait) is shut down; the worker then
// sees the connection close and returns to the pool.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/http/worker_pool.h"

namespace agni {

// The slowloris guard of the listeners (see above). Owns one thread, which
// reads the worker pools' slots (thread-safe) and calls the callbacks;
// construct and destroy it from one thread.
class ConnectionGuard {
 public:
  struct Listener {
    int listen_fd = -1;
    const WorkerPool* pool = nullptr;
    std::chrono::milliseconds keep_alive_timeout{5000};
  };
  // Called once per connection cut, with the index of its listener, and
  // after every scan (both from the guard's thread).
  using OnCut =
      std::function<void(std::size_t listener, const std::string& peer)>;
  using OnScan = std::function<void()>;

  // Starts the guard's thread, which scans every `interval`. The listening
  // sockets must be bound.
  ConnectionGuard(
      std::vector<Listener> listeners, std::chrono::milliseconds header_timeout,
      OnCut on_cut, OnScan on_scan = nullptr,
      std::chrono::milliseconds interval = std::chrono::milliseconds(250));
  ~ConnectionGuard();
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  // One scan now (the thread calls it; tests may too). Returns how many
  // connections it cut.
  std::size_t Scan();

 private:
  void Run();

  const std::vector<Listener> listeners_;
  const std::chrono::milliseconds header_timeout_;
  const std::chrono::milliseconds interval_;
  const OnCut on_cut_;
  const OnScan on_scan_;
  // Local port and address family of each listener, read once: the
  // listening socket's fd may be closed and reused while the guard runs.
  std::vector<std::pair<int, int>> local_;
  std::mutex scan_mu_;  // one scan at a time; guards first_seen_
  // "<listener>|<fd>|<peer>" -> when the guard first saw that connection
  std::map<std::string, std::chrono::steady_clock::time_point> first_seen_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace agni
