#include "lcfs/parallel.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "lcfs/mutex.h"

namespace lcfs {

unsigned DefaultThreads() { return std::max(1u, std::thread::hardware_concurrency()); }

Status ParallelFor(size_t count, const ParallelOptions& options,
                   const std::function<Status(size_t, unsigned)>& fn) {
  if (count == 0) return Status::Ok();
  const unsigned threads =
      std::clamp<size_t>(options.threads != 0 ? options.threads : DefaultThreads(), 1, count);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  Mutex mu;
  CondVar all_done;
  Status first;                // guarded by mu
  unsigned running = threads;  // guarded by mu
  auto work = [&](unsigned worker) {
    for (;;) {
      if (failed.load() || (options.cancel != nullptr && options.cancel->load())) break;
      const size_t i = next.fetch_add(1);
      if (i >= count) break;
      Status s = fn(i, worker);
      if (!s.ok()) {
        MutexLock lock(&mu);
        if (first.ok()) first = std::move(s);
        failed = true;
      }
    }
    MutexLock lock(&mu);
    if (--running == 0) all_done.SignalAll();
  };
  std::vector<std::thread> pool;
  const unsigned helpers = options.tick ? threads : threads - 1;
  pool.reserve(helpers);
  for (unsigned t = 0; t < helpers; ++t) pool.emplace_back(work, t);
  if (options.tick) {
    for (;;) {
      {
        MutexLock lock(&mu);
        if (running == 0) break;
        if (all_done.WaitFor(&mu, options.tick_period)) continue;
      }
      options.tick();
    }
  } else {
    work(threads - 1);
  }
  for (auto& t : pool) t.join();
  MutexLock lock(&mu);
  if (first.ok() && options.cancel != nullptr && options.cancel->load() && next.load() < count)
    return Status::Error(ECANCELED, "interrupted");
  return first;
}

Status ParallelFor(size_t count, unsigned threads, const std::function<Status(size_t)>& fn,
                   const std::atomic<bool>* cancel) {
  ParallelOptions options;
  options.threads = threads;
  options.cancel = cancel;
  return ParallelFor(count, options, [&](size_t i, unsigned) { return fn(i); });
}

}  // namespace lcfs
