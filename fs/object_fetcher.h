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
//
// Thread safety: Get, GetCached, Prefetch and stats may be called from any
// thread at once (FUSE request threads, the prefetch workers themselves).
// SetCancelCheck is called once, before requests are served. Shutdown may be
// called from any thread except a prefetch worker (it joins them). Each of
// the three mutexes (inflight_mu_, queue_mu_, an Inflight's mu) is a leaf:
// none is held while another is taken, nor while fetching or calling a task.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "chunk_cache.h"
#include "lcfs/hash.h"
#include "lcfs/mutex.h"
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

// Named apart from sync::FetcherStats (the network fetcher underneath).
struct ObjectFetcherStats {
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
  Result<ObjectRef> Get(const Hash& hash, ObjectKind kind) EXCLUDES(inflight_mu_);
  // The object only if it is already cached (never fetches).
  ObjectRef GetCached(const Hash& hash, ObjectKind kind);
  // Runs `task` on a prefetch worker (dropped if the queue is full or the
  // fetcher is shutting down). Tasks call Get(); errors are ignored.
  void Prefetch(std::function<void()> task) EXCLUDES(queue_mu_);

  // A hard mount also gives up when `cancelled` returns true (checked between
  // retries): the FUSE connection was aborted, e.g. by `umount -f`.
  void SetCancelCheck(std::function<bool()> cancelled) { cancelled_ = std::move(cancelled); }

  // Stops the workers and makes waiting and future Get() calls fail. Fetches
  // in progress finish within the timeout (soft) or at their next retry (hard).
  void Shutdown() EXCLUDES(queue_mu_);

  const FetchPolicy& policy() const { return policy_; }
  ChunkCache& cache() { return cache_; }
  ObjectFetcherStats stats() const;

 private:
  // One upstream fetch that several requests may wait for.
  struct Inflight {
    Mutex mu;
    CondVar cv;
    bool done GUARDED_BY(mu) = false;
    Result<ObjectRef> result GUARDED_BY(mu) = Status::Error(EIO, "fetch not finished");
  };

  Result<ObjectRef> FetchUpstream(const Hash& hash, ObjectKind kind);
  void WorkerLoop();

  ObjectSource& upstream_;
  ChunkCache& cache_;
  const FetchPolicy policy_;
  std::atomic<bool> shutdown_{false};
  std::function<bool()> cancelled_;

  Mutex inflight_mu_;
  std::unordered_map<Hash, std::shared_ptr<Inflight>> inflight_ GUARDED_BY(inflight_mu_);

  Mutex queue_mu_;
  CondVar queue_cv_;
  CondVar retry_cv_;  // hard-mode backoff, woken by Shutdown()
  std::deque<std::function<void()>> queue_ GUARDED_BY(queue_mu_);
  // Started by the constructor, joined by Shutdown() (outside queue_mu_).
  std::vector<std::thread> workers_;
  bool has_workers_ = false;

  std::atomic<uint64_t> upstream_fetches_{0}, upstream_bytes_{0}, upstream_failures_{0},
      shared_waits_{0}, prefetches_{0};
};

}  // namespace lcfs::fs
