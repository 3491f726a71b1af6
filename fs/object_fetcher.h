// ObjectFetcher: every object the filesystem needs, from the chunk cache when
// present, otherwise from the upstream ObjectSource (the sync engine, or a
// local index), stored in the cache on the way.
//
// Concurrent requests for one object share a single upstream fetch (the first
// caller fetches, the others wait for its result). Failure semantics follow
// the mount: "soft" (default) gives up after the timeout with EIO, so no
// reader hangs on an unreachable exporter; "hard" retries until the object
// arrives or the mount shuts down. Prefetch() queues background fetches on a
// small pool of worker threads, so sequential readers find the next chunks
// already cached.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "chunk_cache.h"
#include "lcfs/hash.h"
#include "lcfs/object.h"
#include "lcfs/status.h"

namespace lcfs::fs {

struct FetchPolicy {
  std::chrono::milliseconds timeout{30000};  // per object, soft mode
  bool hard = false;                         // retry forever instead of EIO
  // Network fetches are latency-bound (join, wait for the exporter): many
  // in flight at once are what make a cold sequential read fast.
  int prefetch_threads = 16;
  size_t prefetch_queue = 512;  // queued prefetches beyond this are dropped
};

struct FetcherStats {
  uint64_t upstream_fetches = 0;  // successful fetches from the source
  uint64_t upstream_bytes = 0;
  uint64_t upstream_failures = 0;
  uint64_t shared_waits = 0;  // requests served by another request's fetch
  uint64_t prefetches = 0;    // prefetch tasks run
};

using ObjectRef = std::shared_ptr<const CachedObject>;

class ObjectFetcher {
 public:
  ObjectFetcher(ObjectSource& upstream, ChunkCache& cache, FetchPolicy policy);
  ~ObjectFetcher();  // Shutdown()
  ObjectFetcher(const ObjectFetcher&) = delete;
  ObjectFetcher& operator=(const ObjectFetcher&) = delete;

  // The object, pinned in the cache. EIO (with the cause in the message) when
  // it cannot be had: timeout in soft mode, verification or cache failure,
  // or shutdown.
  Result<ObjectRef> Get(const Hash& hash, ObjectKind kind);
  // The object only if it is already cached (never fetches).
  ObjectRef GetCached(const Hash& hash, ObjectKind kind);
  // Runs `task` on a prefetch worker (dropped if the queue is full or the
  // fetcher is shutting down). Tasks call Get(); errors are ignored.
  void Prefetch(std::function<void()> task);

  // A hard mount also gives up when `cancelled` returns true (checked between
  // retries): the FUSE connection was aborted, e.g. by `umount -f`.
  void SetCancelCheck(std::function<bool()> cancelled) { cancelled_ = std::move(cancelled); }

  // Stops the workers and makes waiting and future Get() calls fail. Fetches
  // in progress finish within the timeout (soft) or at their next retry (hard).
  void Shutdown();

  const FetchPolicy& policy() const { return policy_; }
  ChunkCache& cache() { return cache_; }
  FetcherStats stats() const;

 private:
  // One upstream fetch that several requests may wait for.
  struct Inflight {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    Result<ObjectRef> result = Status::Error(EIO, "fetch not finished");
  };

  Result<ObjectRef> FetchUpstream(const Hash& hash, ObjectKind kind);
  void WorkerLoop();

  ObjectSource& upstream_;
  ChunkCache& cache_;
  const FetchPolicy policy_;
  std::atomic<bool> shutdown_{false};
  std::function<bool()> cancelled_;

  std::mutex inflight_mu_;
  std::unordered_map<Hash, std::shared_ptr<Inflight>> inflight_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::condition_variable retry_cv_;  // hard-mode backoff, woken by Shutdown()
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> workers_;

  std::atomic<uint64_t> upstream_fetches_{0}, upstream_bytes_{0}, upstream_failures_{0},
      shared_waits_{0}, prefetches_{0};
};

}  // namespace lcfs::fs
