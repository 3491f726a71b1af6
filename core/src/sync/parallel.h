// ParallelFor: runs fn(0..count-1) on `threads` worker threads, in index
// order of starting, and returns the first error. After an error (or when
// `cancel` becomes true) no new index is started. This is the worker pool of
// the sync engine (the seeds' q_t/threadpool role): hashing local chunks and
// keeping a window of network fetches in flight.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>

#include "lcfs/status.h"

namespace lcfs::sync {

Status ParallelFor(size_t count, unsigned threads, const std::function<Status(size_t)>& fn,
                   const std::atomic<bool>* cancel = nullptr);

// Threads to use for CPU-bound work when the caller said 0.
unsigned DefaultThreads();

}  // namespace lcfs::sync
