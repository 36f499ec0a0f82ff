#include "engine/thread_pool.hpp"

#include <pthreadpool.h>

#include <exception>
#include <mutex>

#include "facekit/error.hpp"

// ThreadSanitizer sees only instrumented code, and pthreadpool (a Debian library) is not: the
// happens-before edges its futexes and atomics create between the caller and the workers are
// invisible to it, so every parallelFor would be reported as racing with the code around it.
// Under TSan the edges pthreadpool guarantees (the caller's writes before the call are seen by
// every task; every task's writes are seen by the caller after it) are declared explicitly.
#if defined(__SANITIZE_THREAD__)
#define FACEKIT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FACEKIT_TSAN 1
#endif
#endif
#ifdef FACEKIT_TSAN
#include <sanitizer/tsan_interface.h>
#define FACEKIT_TSAN_RELEASE(addr) __tsan_release(addr)
#define FACEKIT_TSAN_ACQUIRE(addr) __tsan_acquire(addr)
#else
#define FACEKIT_TSAN_RELEASE(addr) ((void)(addr))
#define FACEKIT_TSAN_ACQUIRE(addr) ((void)(addr))
#endif

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
    FACEKIT_TSAN_ACQUIRE(&c->fn);
    try {
      (*c->fn)(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(c->mu);
      if (!c->error) c->error = std::current_exception();
    }
    FACEKIT_TSAN_RELEASE(&c->error);
  };
  FACEKIT_TSAN_RELEASE(&ctx.fn);
  pthreadpool_parallelize_1d(pool_, task, &ctx, n, 0);
  FACEKIT_TSAN_ACQUIRE(&ctx.error);
  if (ctx.error) std::rethrow_exception(ctx.error);
}

}  // namespace facekit::engine
