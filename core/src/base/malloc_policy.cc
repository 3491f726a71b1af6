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
  // 256 KiB: above every small allocation (directory entries, packets,
  // symbols), below a chunk; an mmap per chunk buffer costs microseconds
  // against the milliseconds a chunk takes to arrive.
  constexpr int kMmapThreshold = 256 << 10;
  if (!set("glibc.malloc.mmap_threshold")) mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
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
