// The engine's threads: a small fork-join pool for coarse tasks (pyramid levels, chunks of
// crops), and, on request, a pthreadpool for XNNPACK to split single operators over.
//
// Why not pthreadpool for everything: pthreadpool_parallelize returns only once every one of
// its threads has checked in, even a thread that found no work left. When another process keeps
// a core busy, each such check-in waits for the scheduler (milliseconds), and a detection that
// synchronises once per XNNPACK operator became 8x slower with 2 threads than with 1. Here the
// calling thread takes tasks too and waits only for tasks another thread has actually started:
// a worker that wakes late finds nothing left and goes back to sleep, so a busy core costs at
// most one task's time, never a scheduler wait per call.
//
// Thread safety: one ThreadPool may be used by one calling thread at a time (parallelFor calls
// from two threads at once are serialised). A parallelFor called from inside one of the same
// pool's tasks runs inline, on the calling thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

typedef struct pthreadpool* pthreadpool_t;

namespace facekit::engine {

class ThreadPool {
 public:
  // threads <= 1 means "run on the calling thread" (no thread is started).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  int threads() const { return threads_; }

  // Runs fn(0) .. fn(n - 1), each once, on the calling thread and the pool's threads (tasks are
  // taken in index order, one at a time: put the largest first). Returns when all are done; the
  // first exception a task threw is rethrown here (the other tasks still run).
  void parallelFor(size_t n, const std::function<void(size_t)>& fn);
  // The same, telling each task which thread runs it: slot in [0, threads()), 0 being the calling
  // thread; two tasks that run at the same time never share a slot (per-thread workspaces).
  void parallelFor(size_t n, const std::function<void(size_t task, size_t slot)>& fn);

  // A pthreadpool of threads() threads for XNNPACK to split one operator over (created on first
  // use; null when threads() == 1). Worth it for large operators only (see above).
  pthreadpool_t handle();

 private:
  struct Job;
  void workerLoop(size_t slot);
  static void runTasks(Job& job, size_t slot);

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;                    // guards job_, generation_, stop_
  std::condition_variable wake_;     // workers wait here for a new job
  std::shared_ptr<Job> job_;         // the job being run (workers keep it alive while in it)
  unsigned long generation_ = 0;     // bumped for every job
  bool stop_ = false;
  std::mutex call_mu_;               // one parallelFor at a time
  std::once_flag xnn_once_;
  pthreadpool_t xnn_pool_ = nullptr;
};

inline pthreadpool_t poolHandle(ThreadPool* p) { return p ? p->handle() : nullptr; }

}  // namespace facekit::engine
