// Heap policy for lcfs's long-running programs (the mount, the exporter,
// lcfs-sync).
//
// They allocate and free object buffers of up to a chunk (1 MiB by default)
// all the time, from many threads. glibc serves a freed large block's
// successors from the heap once its dynamic mmap threshold has risen above
// that size, and then keeps the pages in whichever per-thread arena served
// them: resident memory climbs to the peak of every arena together and stays
// there (measured by tests/soak/soak.sh: a mount grew from 35 to 43 MB after
// its first minute). A fixed threshold above the chunk size keeps chunk
// buffers in the heap, where a freed buffer's pages serve the next one: a
// mapping per buffer (a threshold below the chunk) cost a page fault and a
// kernel zero-fill per page, most of the mount's CPU in a cold read. What
// bounds the memory is the arenas (below) and HeapTrimmer. The mount's chunk
// buffers do not churn through the heap at all: its network source decodes
// into a fixed BufferPool (lcfs/buffer_pool.h), allocated at start.
//
// glibc also gives each thread that allocates an arena of its own, up to 8
// per core, each keeping the pages of its own peak; the mount's FUSE pool
// grows with the readers' concurrency and never shrinks (to 16 request
// threads). kArenaMax arenas in all bound that whatever the number of
// threads (soak.sh, 10 minutes: a mount grew from 9 to 20 threads and
// its anonymous memory did not grow). The hot paths allocate little (one
// buffer per object), so threads seldom wait for an arena's lock.
//
// What stays is the memory freed into the arenas' middles: glibc returns a
// heap's free top by itself, but the free pages inside an arena only when
// malloc_trim() is called. HeapTrimmer calls it periodically, so that the
// resident memory an administrator sees follows what the program holds
// (tests/soak/soak.sh checks it over time).
#pragma once

#include <chrono>
#include <thread>

#include "lcfs/mutex.h"
#include "lcfs/thread_annotations.h"

namespace lcfs {

// Heap arenas in all (M_ARENA_MAX): the main one and one shared by threads.
inline constexpr int kArenaMax = 2;

// Call once at the start of main(), before threads start. Has no effect with
// an allocator other than glibc's; a setting GLIBC_TUNABLES already makes
// (glibc.malloc.mmap_threshold, trim_threshold, arena_max) is left as it is;
// never fails the program.
void ApplyMallocPolicy();

// Gives the free pages of every heap arena back to the kernel every
// `period`, on a thread of its own, for as long as it lives. Start it after
// the program has forked into the background (fork keeps one thread).
// Without glibc it does nothing. Thread safety: construct and destroy on one
// thread; the destructor returns at once, without waiting for the period.
class HeapTrimmer {
 public:
  explicit HeapTrimmer(std::chrono::milliseconds period = std::chrono::seconds(30));
  ~HeapTrimmer();
  HeapTrimmer(const HeapTrimmer&) = delete;
  HeapTrimmer& operator=(const HeapTrimmer&) = delete;

  // Trims once now (what the thread does each period).
  static void TrimNow();

 private:
  Mutex mu_;
  CondVar stop_cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace lcfs
