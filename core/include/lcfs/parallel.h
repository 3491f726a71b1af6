// ParallelFor: a bounded worker pool for a known number of independent tasks.
//
// fn(0..count-1) runs on up to `threads` threads (the calling thread is one
// of them unless a `tick` is given), tasks starting in index order. The first
// error is returned; after an error, or once `cancel` becomes true, no new
// task starts (running ones finish). fn must be safe to call concurrently for
// different indices. Used by the indexer (hashing files) and the sync engine
// (hashing local chunks, keeping a window of fetches in flight).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>

#include "lcfs/status.h"

namespace lcfs {

// Threads to use for CPU-bound work when the caller said 0: one per CPU.
unsigned DefaultThreads();

struct ParallelOptions {
  unsigned threads = 0;  // 0 = DefaultThreads()
  const std::atomic<bool>* cancel = nullptr;
  // When set, the calling thread does no task itself: it calls `tick` every
  // `tick_period` while tasks run (for progress reports), not after the end.
  std::function<void()> tick;
  std::chrono::milliseconds tick_period{100};
};

// `worker` is the index (0..threads-1) of the thread running the task, for
// per-thread scratch state.
Status ParallelFor(size_t count, const ParallelOptions& options,
                   const std::function<Status(size_t index, unsigned worker)>& fn);

// The common case. A cancel that stopped tasks from starting gives ECANCELED.
Status ParallelFor(size_t count, unsigned threads, const std::function<Status(size_t)>& fn,
                   const std::atomic<bool>* cancel = nullptr);

}  // namespace lcfs
