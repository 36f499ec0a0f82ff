#include "engine/thread_pool.hpp"

#include <pthreadpool.h>

#include <atomic>
#include <exception>
#include <system_error>

#include "facekit/error.hpp"

namespace facekit::engine {

namespace {
// The pool whose task this thread is running (and its slot): a nested parallelFor runs inline.
thread_local const ThreadPool* tls_pool = nullptr;
thread_local size_t tls_slot = 0;
}  // namespace

struct ThreadPool::Job {
  const std::function<void(size_t, size_t)>* fn = nullptr;
  size_t n = 0;
  std::atomic<size_t> next{0};  // the next task to take
  std::atomic<size_t> done{0};  // tasks finished
  std::mutex mu;                // guards error; the caller waits on `finished` under it
  std::condition_variable finished;
  std::exception_ptr error;
};

ThreadPool::ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads) {
  try {
    for (int s = 1; s < threads_; ++s) workers_.emplace_back([this, s] { workerLoop(size_t(s)); });
  } catch (const std::system_error& e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    throw Error(Error::Code::kInternal, "could not start a thread pool of " + std::to_string(threads_) + " threads: " + e.what());
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
  if (xnn_pool_) pthreadpool_destroy(xnn_pool_);
}

pthreadpool_t ThreadPool::handle() {
  if (threads_ <= 1) return nullptr;
  std::call_once(xnn_once_, [this] {
    xnn_pool_ = pthreadpool_create(size_t(threads_));
    if (!xnn_pool_) throw Error(Error::Code::kInternal, "could not create a thread pool of " + std::to_string(threads_) + " threads");
  });
  return xnn_pool_;
}

void ThreadPool::runTasks(Job& job, size_t slot) {
  for (;;) {
    const size_t i = job.next.fetch_add(1, std::memory_order_relaxed);
    if (i >= job.n) return;
    try {
      (*job.fn)(i, slot);
    } catch (...) {
      std::lock_guard<std::mutex> lock(job.mu);
      if (!job.error) job.error = std::current_exception();
    }
    if (job.done.fetch_add(1, std::memory_order_acq_rel) + 1 == job.n) {
      std::lock_guard<std::mutex> lock(job.mu);  // the caller checks `done` under this lock
      job.finished.notify_all();
    }
  }
}

void ThreadPool::workerLoop(size_t slot) {
  tls_pool = this, tls_slot = slot;
  unsigned long seen = 0;
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;  // null when the job finished before this thread woke
    }
    if (job) runTasks(*job, slot);
  }
}

void ThreadPool::parallelFor(size_t n, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  if (workers_.empty() || n == 1 || tls_pool == this) {
    const size_t slot = tls_pool == this ? tls_slot : 0;
    for (size_t i = 0; i < n; ++i) fn(i, slot);
    return;
  }
  std::lock_guard<std::mutex> call(call_mu_);
  auto job = std::make_shared<Job>();
  job->fn = &fn, job->n = n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = job;
    ++generation_;
  }
  wake_.notify_all();
  const ThreadPool* outer_pool = tls_pool;  // the caller may be a task of another pool
  const size_t outer_slot = tls_slot;
  tls_pool = this, tls_slot = 0;
  runTasks(*job, 0);
  tls_pool = outer_pool, tls_slot = outer_slot;
  {
    std::unique_lock<std::mutex> lock(job->mu);
    job->finished.wait(lock, [&] { return job->done.load(std::memory_order_acquire) == n; });
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_.reset();
  }
  if (job->error) std::rethrow_exception(job->error);
}

void ThreadPool::parallelFor(size_t n, const std::function<void(size_t)>& fn) {
  parallelFor(n, [&fn](size_t i, size_t) { fn(i); });
}

}  // namespace facekit::engine
