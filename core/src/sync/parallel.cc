#include "parallel.h"

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

namespace lcfs::sync {

unsigned DefaultThreads() { return std::max(1u, std::thread::hardware_concurrency()); }

Status ParallelFor(size_t count, unsigned threads, const std::function<Status(size_t)>& fn,
                   const std::atomic<bool>* cancel) {
  if (count == 0) return Status::Ok();
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  Status first;
  auto work = [&] {
    for (;;) {
      if (failed.load() || (cancel != nullptr && cancel->load())) return;
      const size_t i = next.fetch_add(1);
      if (i >= count) return;
      Status s = fn(i);
      if (!s.ok()) {
        std::lock_guard lock(mu);
        if (first.ok()) first = s;
        failed = true;
      }
    }
  };
  const size_t n = std::clamp<size_t>(threads, 1, count);
  std::vector<std::thread> pool;
  pool.reserve(n - 1);
  for (size_t t = 1; t < n; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (first.ok() && cancel != nullptr && cancel->load() && next.load() < count)
    return Status::Error(ECANCELED, "sync interrupted");
  return first;
}

}  // namespace lcfs::sync
