// A thin owner of a pthreadpool (the pool XNNPACK parallelises over).
#pragma once

#include <cstddef>
#include <functional>

typedef struct pthreadpool* pthreadpool_t;

namespace facekit::engine {

class ThreadPool {
 public:
  // threads <= 1 means "run on the calling thread" (no pool is created).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  int threads() const { return threads_; }
  pthreadpool_t handle() const { return pool_; }
  // Runs fn(0) .. fn(n - 1) on the pool's threads (dynamically scheduled); on the calling thread
  // when there is no pool. Returns when all are done.
  void parallelFor(size_t n, const std::function<void(size_t)>& fn);

 private:
  int threads_;
  pthreadpool_t pool_ = nullptr;
};

inline pthreadpool_t poolHandle(ThreadPool* p) { return p ? p->handle() : nullptr; }

}  // namespace facekit::engine
