#include "lcfs/malloc_policy.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace lcfs {

void ApplyMallocPolicy() {
#if defined(__GLIBC__)
  // An administrator's own choice (GLIBC_TUNABLES=glibc.malloc.mmap_threshold=N
  // or glibc.malloc.arena_max=N) wins, setting by setting.
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  auto set = [tunables](const char* name) {
    return tunables != nullptr && std::strstr(tunables, name) != nullptr;
  };
  // Setting the threshold also turns off its dynamic adjustment (mallopt(3)).
  // 4 MiB: above a chunk (1 MiB by default) and its decoder, so chunk buffers
  // reuse heap pages. A fresh mapping per chunk buffer cost a page fault and
  // a kernel zero-fill per page: with the 256 KiB threshold this had, a cold
  // read through the mount spent 23 s of CPU per GiB, 4 MiB brought it to
  // 8.5 s (bench/e2e/fs_cold_read.sh, perf). HeapTrimmer gives the pages
  // back once they are free.
  constexpr int kMmapThreshold = 4 << 20;
  if (!set("glibc.malloc.mmap_threshold")) mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  // Nor is a heap's free top given back on every free (the default, 128 KiB,
  // did so after nearly every chunk, and the next chunk faulted its pages in
  // again: the zero-fill of the decoder's buffer fell from 31% of the
  // mount's CPU in a cold read to 7% with this): 32 MiB, a read-ahead
  // window of chunks. HeapTrimmer returns what stays free.
  constexpr int kTrimThreshold = 32 << 20;
  if (!set("glibc.malloc.trim_threshold")) mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
  if (!set("glibc.malloc.arena_max")) mallopt(M_ARENA_MAX, kArenaMax);
#endif
}

void HeapTrimmer::TrimNow() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

HeapTrimmer::HeapTrimmer(std::chrono::milliseconds period) {
  thread_ = std::thread([this, period] {
    MutexLock lock(&mu_);
    while (!stop_) {
      if (!stop_cv_.WaitFor(&mu_, period)) TrimNow();  // a timeout: the period is up
    }
  });
}

HeapTrimmer::~HeapTrimmer() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  stop_cv_.SignalAll();
  thread_.join();
}

}  // namespace lcfs
