#include "engine/thread_pool.hpp"

#include <pthreadpool.h>

#include <exception>
#include <mutex>

#include "facekit/error.hpp"

namespace facekit::engine {

ThreadPool::ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads) {
  if (threads_ > 1) {
    pool_ = pthreadpool_create(size_t(threads_));
    if (!pool_) throw Error(Error::Code::kInternal, "could not create a thread pool of " + std::to_string(threads_) + " threads");
  }
}

ThreadPool::~ThreadPool() {
  if (pool_) pthreadpool_destroy(pool_);
}

void ThreadPool::parallelFor(size_t n, const std::function<void(size_t)>& fn) {
  if (!pool_) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  // Exceptions must not cross pthreadpool's C frames: the first one is kept and rethrown here.
  struct Ctx {
    const std::function<void(size_t)>* fn;
    std::mutex mu;
    std::exception_ptr error;
  } ctx{&fn, {}, nullptr};
  auto task = [](void* p, size_t i) {
    Ctx* c = static_cast<Ctx*>(p);
    try {
      (*c->fn)(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(c->mu);
      if (!c->error) c->error = std::current_exception();
    }
  };
  pthreadpool_parallelize_1d(pool_, task, &ctx, n, 0);
  if (ctx.error) std::rethrow_exception(ctx.error);
}

}  // namespace facekit::engine
