#include "gateway/http/worker_pool.h"

#include <algorithm>

namespace agni {
namespace {

thread_local WorkerSlot* t_slot = nullptr;
thread_local bool t_overflow = false;

}  // namespace

WorkerSlot* WorkerSlot::Current() { return t_slot; }

void WorkerSlot::ConnectionStarted() {
  close_ = false;
  std::lock_guard lock(mu_);
  view_ = {State::kAwaitingRequest, "", std::chrono::steady_clock::now()};
}

void WorkerSlot::RequestStarted(const std::string& address, int port) {
  std::lock_guard lock(mu_);
  view_.state = State::kHandling;
  if (view_.peer.empty()) view_.peer = address + ":" + std::to_string(port);
  view_.since = std::chrono::steady_clock::now();
}

void WorkerSlot::ResponseSent() {
  std::lock_guard lock(mu_);
  view_.state = State::kAwaitingRequest;
  view_.since = std::chrono::steady_clock::now();
}

void WorkerSlot::ConnectionEnded() {
  close_ = false;
  std::lock_guard lock(mu_);
  view_ = {State::kNoConnection, "", {}};
}

WorkerSlot::View WorkerSlot::Get() const {
  std::lock_guard lock(mu_);
  return view_;
}

WorkerPool::WorkerPool(WorkerPoolLimits limits) : limits_(limits) {
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < limits_.min_threads; ++i) StartWorkerLocked();
  for (std::size_t i = 0; i < limits_.overflow_threads; ++i) {
    overflow_slots_.emplace_back();
    WorkerSlot* slot = &overflow_slots_.back();
    overflow_workers_.emplace_back([this, slot] { OverflowLoop(slot); });
  }
}

WorkerPool::~WorkerPool() { Shutdown(); }

void WorkerPool::StartWorkerLocked() {
  slots_.emplace_back();
  WorkerSlot* slot = &slots_.back();
  ++threads_;
  ++free_;  // free from the start, so tasks queued for it count as served
  // Detached: a thread that exits while idle cannot join itself; Shutdown()
  // waits for the count of live threads to reach zero instead.
  std::thread([this, slot] { WorkerLoop(slot); }).detach();
}

void WorkerPool::Enqueue(std::function<void()> task) {
  std::unique_lock lock(mu_);
  const std::size_t waiting = queue_.size() > free_ ? queue_.size() - free_ : 0;
  if (queue_.size() < free_) {
    queue_.push_back(std::move(task));
    work_cv_.notify_one();
    return;
  }
  if (threads_ < limits_.max_threads) {
    queue_.push_back(std::move(task));
    StartWorkerLocked();
    return;
  }
  if (waiting < limits_.max_queued) {
    queue_.push_back(std::move(task));
    work_cv_.notify_one();
    return;
  }
  overflow_space_cv_.wait(lock, [&] {
    return shutdown_ || overflow_queue_.size() < limits_.overflow_queue;
  });
  ++overflowed_;
  overflow_queue_.push_back(std::move(task));
  overflow_cv_.notify_one();
}

void WorkerPool::WorkerLoop(WorkerSlot* slot) {
  t_slot = slot;
  std::unique_lock lock(mu_);
  for (;;) {
    const bool woken = work_cv_.wait_for(
        lock, limits_.idle_exit, [&] { return shutdown_ || !queue_.empty(); });
    if (queue_.empty()) {
      if (shutdown_ || (!woken && threads_ > limits_.min_threads)) break;
      continue;
    }
    std::function<void()> task = std::move(queue_.front());
    queue_.pop_front();
    --free_;
    lock.unlock();
    slot->ConnectionStarted();
    task();
    slot->ConnectionEnded();
    task = nullptr;  // frees the captures before the thread waits again
    lock.lock();
    ++free_;
  }
  slots_.remove_if([slot](const WorkerSlot& s) { return &s == slot; });
  --free_;
  --threads_;
  done_cv_.notify_all();
}

void WorkerPool::OverflowLoop(WorkerSlot* slot) {
  t_overflow = true;
  t_slot = slot;
  std::unique_lock lock(mu_);
  for (;;) {
    overflow_cv_.wait(lock,
                      [&] { return shutdown_ || !overflow_queue_.empty(); });
    if (overflow_queue_.empty()) return;  // shutting down
    std::function<void()> task = std::move(overflow_queue_.front());
    overflow_queue_.pop_front();
    overflow_space_cv_.notify_one();
    lock.unlock();
    slot->ConnectionStarted();
    task();
    slot->ConnectionEnded();
    task = nullptr;
    lock.lock();
  }
}

void WorkerPool::Shutdown() {
  std::vector<std::thread> overflow;
  {
    std::unique_lock lock(mu_);
    shutdown_ = true;
    work_cv_.notify_all();
    overflow_cv_.notify_all();
    overflow_space_cv_.notify_all();
    done_cv_.wait(lock, [&] { return threads_ == 0; });
    overflow.swap(overflow_workers_);
  }
  for (std::thread& t : overflow) t.join();
}

WorkerPool::Stats WorkerPool::stats() const {
  std::lock_guard lock(mu_);
  Stats s;
  s.threads = threads_;
  s.busy = threads_ - std::min(threads_, free_);
  s.queued = queue_.size() > free_ ? queue_.size() - free_ : 0;
  s.overflowed = overflowed_;
  return s;
}

std::vector<WorkerSlot::View> WorkerPool::Slots() const {
  std::lock_guard lock(mu_);
  std::vector<WorkerSlot::View> views;
  views.reserve(slots_.size());
  for (const WorkerSlot& s : slots_) views.push_back(s.Get());
  return views;
}

bool WorkerPool::OnOverflowThread() { return t_overflow; }

}  // namespace agni
