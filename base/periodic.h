// Runs a task on its own thread every `interval` until stopped, e.g. a
// sweep that must not wait for someone to look. Thread-safe Stop(); the
// destructor stops and joins.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace agni {

class PeriodicTask {
 public:
  enum class Start { kAfterInterval, kAtOnce };

  PeriodicTask(std::chrono::milliseconds interval, std::function<void()> task,
               Start start = Start::kAfterInterval)
      : thread_([this, interval, task = std::move(task), start] {
          std::unique_lock lock(mu_);
          bool run = start == Start::kAtOnce;
          while (!stopping_) {
            if (run) {
              lock.unlock();
              task();
              lock.lock();
            }
            run = !cv_.wait_for(lock, interval, [&] { return stopping_; });
          }
        }) {}
  ~PeriodicTask() { Stop(); }
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the rest is ready
};

}  // namespace agni
