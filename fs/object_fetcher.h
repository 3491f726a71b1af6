// ObjectFetcher: every object the filesystem needs, from the chunk cache when
// present, otherwise from the upstream ObjectSource (the sync engine, or a
// local index), stored in the cache on the way.
//
// One pipeline. Every upstream fetch is an ObjectSource::FetchAsync request
// carrying its priority: a Get (a process blocked on a read or a lookup) asks
// at kBlocking, Prefetch at kMetadata or kPrefetch. The network source keeps
// those in its bounded window of joined groups and never lets a blocking
// request wait behind prefetch; this class adds no thread per outstanding
// object. What it adds:
//   - sharing: all requests for one object, blocking or background, share one
//     flight; a Get that finds a background flight of the object asks again
//     at kBlocking (the source shares the group and promotes it), then
//     cancels the background request, so the object is handed over once;
//   - a bounded background queue: at most `max_background` prefetches are in
//     the source at once, and at most `metadata_queue` / `data_queue` more
//     wait here (metadata first); beyond that a prefetch is dropped and
//     counted, never queued without bound;
//   - one pipeline thread, which stores the bytes of finished background
//     fetches in the cache, runs their continuations and issues queued
//     prefetches. A blocked Get stores its object on its own thread, so it
//     never waits behind that work either.
//
// Lengths: every ObjectId carries the length its parent gives (directory
// entry, file shape); the source refuses data announcing another length, and
// bytes of another length are refused here too. Only the root directory has
// no known length (size 0).
//
// Failure semantics follow the mount: "soft" (default) gives up after the
// timeout with EIO, so no reader hangs on an unreachable exporter; "hard"
// retries until the object arrives, the mount shuts down or the caller is
// cancelled (a FUSE request the kernel interrupted abandons its fetch).
//
// A soft mount's read fails once, at its timeout. When a read-ahead request
// fails, the kernel asks again at once for the page the reader wanted
// (filemap_read, then read_folio): a second request for the same object that
// would wait out a second timeout. The rule: a Get of an object for which,
// less than `retry_window` ago, a Get waited out the whole timeout (not a
// retry, nor a prefetch) waits at most `retry_wait` for it, asking the
// source again with that timeout. So the kernel's retry fails soon after
// the first failure while the source is silent, yet an exporter that came
// back meanwhile still delivers the object to it; a read after the window
// waits the full timeout again. Hard mounts keep retrying as before.
//
// Thread safety: every method may be called from any thread at once (FUSE
// request threads, the pipeline thread running continuations), except
// SetCancelCheck (once, before requests are served) and Shutdown (not from
// the pipeline thread: it joins it). Locks: inflight_mu_, queue_mu_ and each
// Flight's mu are leaves: none is held while another is taken, nor while
// calling the source, the cache or a continuation.
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

#include "lcfs/buffer_pool.h"
#include "lcfs/cache/chunk_cache.h"
#include "lcfs/hash.h"
#include "lcfs/mutex.h"
#include "lcfs/object.h"
#include "lcfs/status.h"

namespace lcfs::fs {

// An object the mount asks for, with what its parent says about it.
struct ObjectId {
  Hash hash;
  ObjectKind kind = ObjectKind::kChunk;
  uint64_t size = 0;  // its length; 0 only for the root directory (unknown)
};

struct FetchPolicy {
  std::chrono::milliseconds timeout{30000};  // per object, soft mode
  bool hard = false;                         // retry forever instead of EIO
  // Background fetches in the source at once. Twice the network window (64)
  // keeps the source's queue full so its window never idles, while the
  // source's per-priority reserves keep blocking requests ahead of them.
  size_t max_background = 128;
  // Prefetches waiting here for a place among those, per class. An entry
  // costs about 100 bytes, so the two queues stay under 2 MiB.
  size_t metadata_queue = 16384;
  size_t data_queue = 2048;
  // Soft mode: how long after a blocking fetch of an object timed out a Get
  // of it waits only `retry_wait` (at most the timeout). See above.
  std::chrono::milliseconds retry_window{1000};
  std::chrono::milliseconds retry_wait{500};
  // The pool the source decodes objects into (the network source's
  // BufferPool), or null: each object's buffer goes back to it once its bytes
  // are in the cache, for the next object to be decoded into.
  std::shared_ptr<BufferPool> buffers;
};

// Named apart from sync::FetcherStats (the network fetcher underneath).
struct ObjectFetcherStats {
  uint64_t upstream_fetches = 0;  // objects fetched from the source and stored
  uint64_t upstream_bytes = 0;
  uint64_t upstream_failures = 0;
  uint64_t shared_waits = 0;       // blocking requests served by a flight under way
  uint64_t promoted = 0;           // of which found only a background flight
  uint64_t prefetches = 0;         // background fetches sent to the source
  uint64_t prefetch_dropped = 0;   // prefetches refused because the queue was full
  uint64_t cancelled = 0;          // blocking requests abandoned by their caller
  uint64_t short_retries = 0;      // Gets that waited only retry_wait (soft mode)
  size_t background_inflight = 0;  // now
  size_t background_queued = 0;    // now
};

using ObjectRef = std::shared_ptr<const cache::CachedObject>;

class ObjectFetcher {
 public:
  ObjectFetcher(ObjectSource& upstream, cache::ChunkCache& cache, FetchPolicy policy);
  ~ObjectFetcher();  // Shutdown()
  ObjectFetcher(const ObjectFetcher&) = delete;
  ObjectFetcher& operator=(const ObjectFetcher&) = delete;

  // The object, pinned in the cache, fetched at kBlocking if needed. EIO
  // (with the cause in the message) when it cannot be had: timeout in soft
  // mode, verification, length or cache failure, shutdown. ECANCELED (within
  // about 50 ms) once *cancel becomes true; *cancel must outlive the call.
  Result<ObjectRef> Get(const ObjectId& id, const std::atomic<bool>* cancel = nullptr)
      EXCLUDES(inflight_mu_, queue_mu_);
  // The object only if it is already cached (never fetches).
  ObjectRef GetCached(const ObjectId& id);

  // Fetches the object in the background at `priority` (kMetadata or
  // kPrefetch), unless it is cached, already in flight, or the queue of its
  // class is full (dropped). `then` runs on the pipeline thread once this
  // fetch stored the object (not when it was cached already or the fetch
  // failed); it must not block, and may call Prefetch and GetCached.
  // `urgent` queues it ahead of the others of its class (a lookup's
  // neighbours before the rest of a breadth-first crawl).
  void Prefetch(const ObjectId& id, FetchPriority priority, std::function<void()> then = {},
                bool urgent = false) EXCLUDES(inflight_mu_, queue_mu_);

  // A hard mount also gives up when `cancelled` returns true (checked between
  // retries): the FUSE connection was aborted, e.g. by `umount -f`.
  void SetCancelCheck(std::function<bool()> cancelled) { cancelled_ = std::move(cancelled); }

  // The clock of the retry rule (when a fetch timed out, whether a Get falls
  // in its retry window); steady_clock by default. Tests set a fake one,
  // once, before requests are served. Waits always use steady_clock.
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  void SetClock(Clock clock) { clock_ = std::move(clock); }

  // Drops queued prefetches, cancels those in the source and waits for their
  // callbacks, stops the pipeline thread, and makes waiting and future Get()
  // calls fail. Idempotent.
  void Shutdown() EXCLUDES(inflight_mu_, queue_mu_);

  const FetchPolicy& policy() const { return policy_; }
  cache::ChunkCache& cache() { return cache_; }
  ObjectFetcherStats stats() const EXCLUDES(queue_mu_);

 private:
  struct Flight;
  struct Queued {
    ObjectId id;
    std::function<void()> then;
  };

  // Finds or creates the flight of `id`. Sets *created when it is new.
  std::shared_ptr<Flight> JoinFlight(const ObjectId& id, bool* created) EXCLUDES(inflight_mu_);
  // Sends one request for the flight to the source (outside every lock),
  // with the policy's timeout unless `timeout` is given.
  void Send(const std::shared_ptr<Flight>& flight, FetchPriority priority,
            std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // The source answered one request of the flight (any thread).
  void OnAnswer(const std::shared_ptr<Flight>& flight, Result<std::vector<uint8_t>> bytes)
      EXCLUDES(queue_mu_);
  // Verifies, checks the length and stores the bytes, then completes.
  void Store(const std::shared_ptr<Flight>& flight, std::vector<uint8_t> bytes);
  // Publishes the flight's outcome to its waiters and continuations.
  void Complete(const std::shared_ptr<Flight>& flight, Result<ObjectRef> result)
      EXCLUDES(inflight_mu_, queue_mu_);
  // One blocking attempt: joins or starts a flight and waits for it, at
  // most `wait` (beyond the source's own timeout) when it is not 0. Sets
  // *timed_out when it failed because the object did not come in time.
  Result<ObjectRef> Attempt(const ObjectId& id, const std::atomic<bool>* cancel,
                            std::chrono::milliseconds wait, bool* timed_out);
  // The retry rule's memory of blocking fetches that timed out.
  void RememberTimeout(const Hash& hash) EXCLUDES(inflight_mu_);
  bool InRetryWindow(const Hash& hash) EXCLUDES(inflight_mu_);
  void PipelineLoop() EXCLUDES(queue_mu_);
  // Moves queued prefetches into flights while there is room. Pipeline thread.
  void Pump() EXCLUDES(queue_mu_);

  ObjectSource& upstream_;
  cache::ChunkCache& cache_;
  const FetchPolicy policy_;
  std::atomic<bool> shutdown_{false};
  std::function<bool()> cancelled_;

  Mutex inflight_mu_;
  std::unordered_map<Hash, std::shared_ptr<Flight>> inflight_ GUARDED_BY(inflight_mu_);
  // Soft mode: the latest blocking fetches that timed out, and when. A few
  // suffice: the kernel retries at once, one request per reader.
  std::deque<std::pair<Hash, std::chrono::steady_clock::time_point>> timed_out_
      GUARDED_BY(inflight_mu_);
  Clock clock_ = [] { return std::chrono::steady_clock::now(); };

  mutable Mutex queue_mu_;
  CondVar queue_cv_;  // the pipeline has work, or stop
  CondVar idle_cv_;   // a request left the source, or hard-mode backoff woken
  std::deque<Queued> metadata_queue_ GUARDED_BY(queue_mu_);
  std::deque<Queued> data_queue_ GUARDED_BY(queue_mu_);
  // Finished background flights whose bytes the pipeline stores.
  std::deque<std::pair<std::shared_ptr<Flight>, std::vector<uint8_t>>> to_store_
      GUARDED_BY(queue_mu_);
  // Continuations of stored objects, run by the pipeline thread.
  std::deque<std::function<void()>> to_run_ GUARDED_BY(queue_mu_);
  size_t background_ GUARDED_BY(queue_mu_) = 0;  // background flights in the source
  size_t in_source_ GUARDED_BY(queue_mu_) = 0;   // requests whose answer is due
  bool stop_pipeline_ GUARDED_BY(queue_mu_) = false;
  std::thread pipeline_;  // started by the constructor, joined by Shutdown()

  std::atomic<uint64_t> upstream_fetches_{0}, upstream_bytes_{0}, upstream_failures_{0},
      shared_waits_{0}, promoted_{0}, prefetches_{0}, prefetch_dropped_{0}, cancelled_gets_{0},
      short_retries_{0};
};

}  // namespace lcfs::fs
