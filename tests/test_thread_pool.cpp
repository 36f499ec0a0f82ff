// engine::ThreadPool: every task runs exactly once, two running tasks never share a slot,
// exceptions reach the caller, nested and concurrent calls neither deadlock nor mix jobs.
// These run under ThreadSanitizer too (make test-tsan).
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine/thread_pool.hpp"

using facekit::engine::ThreadPool;

TEST(ThreadPool, EveryTaskRunsExactlyOnce) {
  for (int threads : {1, 2, 3, 8})
    for (size_t n : {size_t(0), size_t(1), size_t(2), size_t(7), size_t(1000)}) {
      ThreadPool pool(threads);
      std::vector<std::atomic<int>> runs(n);
      for (auto& r : runs) r = 0;
      pool.parallelFor(n, [&](size_t i) { runs[i]++; });
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(runs[i].load(), 1) << "threads " << threads << " n " << n << " task " << i;
    }
}

TEST(ThreadPool, RunningTasksNeverShareASlot) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> busy(4);
  for (auto& b : busy) b = 0;
  std::atomic<int> clashes{0}, bad_slot{0};
  for (int round = 0; round < 50; ++round)
    pool.parallelFor(64, [&](size_t, size_t slot) {
      if (slot >= 4) return void(bad_slot++);
      if (busy[slot].exchange(1) != 0) clashes++;
      volatile double x = 0;
      for (int k = 0; k < 2000; ++k) x = x + k;  // long enough for tasks to overlap
      busy[slot] = 0;
    });
  EXPECT_EQ(bad_slot.load(), 0);
  EXPECT_EQ(clashes.load(), 0);
}

TEST(ThreadPool, TheFirstExceptionReachesTheCallerAndTheOtherTasksStillRun) {
  ThreadPool pool(2);
  std::atomic<int> ran{0};
  EXPECT_THROW(pool.parallelFor(10, [&](size_t i) {
    ran++;
    if (i == 3) throw std::runtime_error("task 3");
  }),
               std::runtime_error);
  EXPECT_EQ(ran.load(), 10);
  std::atomic<int> again{0};
  pool.parallelFor(10, [&](size_t) { again++; });  // the pool still works
  EXPECT_EQ(again.load(), 10);
}

TEST(ThreadPool, ANestedCallRunsInlineOnItsTasksThread) {
  ThreadPool pool(2);
  std::atomic<int> inner{0}, wrong_thread{0};
  pool.parallelFor(4, [&](size_t, size_t slot) {
    const auto me = std::this_thread::get_id();
    pool.parallelFor(5, [&](size_t, size_t inner_slot) {
      inner++;
      if (std::this_thread::get_id() != me || inner_slot != slot) wrong_thread++;
    });
  });
  EXPECT_EQ(inner.load(), 20);
  EXPECT_EQ(wrong_thread.load(), 0);
}

TEST(ThreadPool, CallsFromSeveralThreadsAtOnceKeepTheirJobsApart) {
  ThreadPool pool(2);
  std::vector<std::thread> callers;
  std::atomic<int> wrong{0};
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&, c] {
      for (int round = 0; round < 200; ++round) {
        std::vector<int> seen(9, 0);
        pool.parallelFor(9, [&](size_t i) { seen[i] += c + 1; });
        for (int s : seen)
          if (s != c + 1) wrong++;
      }
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

// Many back-to-back calls of tiny tasks: a lost wake-up or a worker left in an old job would
// hang here (ctest's timeout) or miscount.
TEST(ThreadPool, ManyShortCallsInARow) {
  ThreadPool pool(2);
  long total = 0;
  for (int round = 0; round < 20000; ++round) {
    std::atomic<int> sum{0};
    pool.parallelFor(3, [&](size_t i) { sum += int(i) + 1; });
    total += sum.load();
  }
  EXPECT_EQ(total, 20000L * 6);
}

TEST(ThreadPool, XnnpackPoolOnlyWithSeveralThreads) {
  ThreadPool one(1), two(2);
  EXPECT_EQ(one.handle(), nullptr);
  EXPECT_NE(two.handle(), nullptr);
  EXPECT_EQ(two.handle(), two.handle());
}
