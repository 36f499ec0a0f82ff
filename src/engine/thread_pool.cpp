#include "engine/thread_pool.hpp"

#include <pthreadpool.h>

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

}  // namespace facekit::engine
