#include "gateway/http/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace agni {
namespace {

using namespace std::chrono_literals;

// Blocks tasks until opened.
class Gate {
 public:
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

template <typename Pred>
bool Eventually(Pred pred, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

TEST(WorkerPoolTest, GrowsToTheMaximumThenQueuesThenOverflows) {
  WorkerPool pool({.min_threads = 1,
                   .max_threads = 3,
                   .max_queued = 2,
                   .overflow_threads = 1,
                   .overflow_queue = 8});
  Gate gate;
  std::atomic<int> ran{0};
  std::atomic<int> on_overflow{0};
  auto task = [&] {
    if (WorkerPool::OnOverflowThread()) {
      ++on_overflow;  // answered at once, never waits for the gate
      return;
    }
    gate.Wait();
    ++ran;
  };
  for (int i = 0; i < 3; ++i) pool.Enqueue(task);
  ASSERT_TRUE(Eventually([&] { return pool.stats().busy == 3; }));
  EXPECT_EQ(pool.stats().threads, 3u);
  pool.Enqueue(task);
  pool.Enqueue(task);
  EXPECT_EQ(pool.stats().queued, 2u);
  // Past workers and queue: handed to the overflow thread at once.
  pool.Enqueue(task);
  pool.Enqueue(task);
  ASSERT_TRUE(Eventually([&] { return on_overflow == 2; }));
  EXPECT_EQ(pool.stats().overflowed, 2u);
  EXPECT_EQ(ran.load(), 0);
  gate.Open();
  ASSERT_TRUE(Eventually([&] { return ran == 5; }));
  EXPECT_EQ(pool.stats().queued, 0u);
}

TEST(WorkerPoolTest, ShutdownRunsEverythingQueued) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool({.min_threads = 1, .max_threads = 1, .max_queued = 100});
    for (int i = 0; i < 50; ++i) {
      pool.Enqueue([&] {
        std::this_thread::sleep_for(1ms);
        ++ran;
      });
    }
    pool.Shutdown();
    EXPECT_EQ(ran.load(), 50);
    EXPECT_EQ(pool.stats().threads, 0u);
  }
  EXPECT_EQ(ran.load(), 50);
}

TEST(WorkerPoolTest, ThreadsAboveTheMinimumExitWhenIdle) {
  WorkerPool pool({.min_threads = 2,
                   .max_threads = 6,
                   .max_queued = 0,
                   .idle_exit = 100ms});
  Gate gate;
  for (int i = 0; i < 6; ++i) pool.Enqueue([&] { gate.Wait(); });
  ASSERT_TRUE(Eventually([&] { return pool.stats().busy == 6; }));
  gate.Open();
  ASSERT_TRUE(Eventually([&] { return pool.stats().threads == 2; }));
  EXPECT_EQ(pool.stats().busy, 0u);
  EXPECT_EQ(pool.Slots().size(), 2u);
}

TEST(WorkerPoolTest, SlotsReportWhatEachWorkerServes) {
  WorkerPool pool({.min_threads = 1, .max_threads = 1, .max_queued = 1});
  std::promise<void> started;
  Gate gate;
  pool.Enqueue([&] {
    WorkerSlot* slot = WorkerSlot::Current();
    ASSERT_NE(slot, nullptr);
    slot->RequestStarted("127.0.0.1", 4242);
    started.set_value();
    gate.Wait();
  });
  started.get_future().wait();
  std::vector<WorkerSlot::View> slots = pool.Slots();
  ASSERT_EQ(slots.size(), 1u);
  EXPECT_EQ(slots[0].peer, "127.0.0.1:4242");
  EXPECT_EQ(slots[0].state, WorkerSlot::State::kHandling);
  gate.Open();
  ASSERT_TRUE(Eventually([&] {
    return pool.Slots()[0].state == WorkerSlot::State::kNoConnection;
  }));
  EXPECT_EQ(WorkerSlot::Current(), nullptr);  // not on a pool thread
}

}  // namespace
}  // namespace agni
