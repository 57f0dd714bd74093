// The listeners' worker pool. cpp-httplib 0.11 runs each accepted connection
// as one task for its whole keep-alive life, so a pool of N threads serves at
// most N connections at once and queues the rest without bound. This pool
// grows on demand up to a maximum, bounds the queue behind it, and answers
// connections past the queue on a few overflow threads, where the server's
// handler sees WorkerPool::OnOverflowThread() and replies 503 at once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace agni {

struct WorkerPoolLimits {
  std::size_t min_threads = 64;    // started at once and kept
  std::size_t max_threads = 1024;  // grown on demand up to this
  std::size_t max_queued = 256;    // connections waiting for a worker
  // Threads that answer connections past the queue; their own queue is
  // bounded too, past which accepting pauses (the kernel backlog holds the
  // rest).
  std::size_t overflow_threads = 2;
  std::size_t overflow_queue = 1024;
  // A thread above min_threads exits after this long without work.
  std::chrono::milliseconds idle_exit{30000};
};

// What one worker thread is doing, for the connection guard: which client it
// serves and whether it is waiting for that client's next request head.
// Thread-safe (one mutex per slot; only its worker writes it).
class WorkerSlot {
 public:
  enum class State { kNoConnection, kAwaitingRequest, kHandling };
  struct View {
    State state;
    std::string peer;  // "address:port", empty until the first request head
    std::chrono::steady_clock::time_point since;
  };

  // The calling thread's slot, or nullptr off the pool's worker threads.
  static WorkerSlot* Current();

  void ConnectionStarted();
  // A complete request head arrived from `address`:`port`.
  void RequestStarted(const std::string& address, int port);
  // Its response was written; the connection may carry another request.
  void ResponseSent();
  void ConnectionEnded();
  View Get() const;

  // The answer being written ends the connection (it says Connection:
  // close): cpp-httplib 0.11 ignores that header in a response, so the
  // connection loop (connection_loop.h) ends the connection once the answer
  // is out, and nothing read after it is served.
  void CloseAfterResponse() { close_ = true; }
  bool closing() const { return close_; }

 private:
  mutable std::mutex mu_;
  View view_{State::kNoConnection, "", {}};
  std::atomic<bool> close_{false};
};

// Thread-safe. Owned by GatewayServer; cpp-httplib gets a TaskQueue that
// forwards to it (MakeTaskQueue).
class WorkerPool {
 public:
  struct Stats {
    std::size_t threads = 0;       // worker threads alive
    std::size_t busy = 0;          // of which serving a connection
    std::size_t queued = 0;        // connections waiting for a worker
    std::uint64_t overflowed = 0;  // connections answered past the queue
  };

  explicit WorkerPool(WorkerPoolLimits limits);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs `task` on a worker, queues it, or hands it to an overflow thread.
  // Blocks only while the overflow queue is full.
  void Enqueue(std::function<void()> task);
  // Runs everything already queued, then stops and joins every thread.
  void Shutdown();

  Stats stats() const;
  // The slots of the live worker threads (a copy of each).
  std::vector<WorkerSlot::View> Slots() const;

  // True on an overflow thread: the connection being served is past the
  // queue and must be answered 503 without further work.
  static bool OnOverflowThread();

 private:
  void StartWorkerLocked();
  void WorkerLoop(WorkerSlot* slot);
  void OverflowLoop(WorkerSlot* slot);

  const WorkerPoolLimits limits_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable overflow_cv_;
  std::condition_variable overflow_space_cv_;
  std::condition_variable done_cv_;
  std::deque<std::function<void()>> queue_;
  std::deque<std::function<void()>> overflow_queue_;
  std::list<WorkerSlot> slots_;           // one per live worker thread
  std::list<WorkerSlot> overflow_slots_;  // one per overflow thread
  std::size_t threads_ = 0;
  // Threads not running a task: waiting, or started and about to take one.
  std::size_t free_ = 0;
  std::uint64_t overflowed_ = 0;
  bool shutdown_ = false;
  std::vector<std::thread> overflow_workers_;
};

}  // namespace agni
