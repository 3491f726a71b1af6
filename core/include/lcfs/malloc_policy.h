// Heap policy for lcfs's long-running programs (the mount, the exporter,
// lcfs-sync).
//
// They allocate and free object buffers of up to a chunk (1 MiB by default)
// all the time, from many threads. glibc serves a freed large block's
// successors from the heap once its dynamic mmap threshold has risen above
// that size, and then keeps the pages in whichever per-thread arena served
// them: resident memory climbs to the peak of every arena together and stays
// there (measured by tests/soak/soak.sh: a mount grew from 35 to 43 MB after
// its first minute, and to 10-13 MB flat with this policy). A fixed threshold
// below the chunk size makes every such buffer its own mapping, returned to
// the kernel when it is freed.
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

// Call once at the start of main(), before threads start. Has no effect with
// an allocator other than glibc's, or when GLIBC_TUNABLES already sets
// glibc.malloc.mmap_threshold; never fails the program.
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
