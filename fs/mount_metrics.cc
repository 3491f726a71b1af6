#include "mount_metrics.h"

#include <dirent.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <string>

#include "lcfs/metrics/engine_metrics.h"

namespace lcfs::fs {

FetchTicket TimedObjectSource::FetchAsync(const FetchRequest& request, FetchCallback done) {
  const auto start = std::chrono::steady_clock::now();
  return upstream_.FetchAsync(
      request, [this, start, done = std::move(done)](Result<std::vector<uint8_t>> bytes) {
        seconds_.Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        done(std::move(bytes));
      });
}

Result<std::vector<uint8_t>> TimedObjectSource::Fetch(const FetchRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  auto bytes = upstream_.Fetch(request);
  seconds_.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return bytes;
}

std::vector<double> FetchSecondsBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

void AddProcessMetrics(const char* prefix, metrics::Scrape& out) {
  const std::string p = prefix;
#if defined(__GLIBC__)
  // Walks every arena under its lock: fine at a scrape's pace.
  const struct mallinfo2 m = ::mallinfo2();
  out.Gauge(p + "_heap_in_use_bytes", "Bytes malloc has handed out and not had back (mallinfo2)",
            static_cast<double>(m.uordblks + m.hblkhd));
  out.Gauge(p + "_heap_free_bytes",
            "Bytes free inside malloc's arenas, kept from the kernel (mallinfo2 fordblks)",
            static_cast<double>(m.fordblks));
  out.Gauge(p + "_heap_mmapped_bytes", "Of the bytes in use, those in blocks of their own mapping",
            static_cast<double>(m.hblkhd));
#endif
  double threads = 0;
  if (DIR* dir = ::opendir("/proc/self/task")) {
    while (const dirent* e = ::readdir(dir))
      if (e->d_name[0] != '.') threads++;
    ::closedir(dir);
  }
  out.Gauge(p + "_threads", "Threads of the process", threads);
}

void CollectMountMetrics(const ObjectFetcher& fetcher, const cache::ChunkCache& cache,
                         const sync::Fetcher* network, metrics::Scrape& out) {
  auto d = [](uint64_t x) { return static_cast<double>(x); };
  const ObjectFetcherStats f = fetcher.stats();
  out.Counter("lcfs_mount_fetched_bytes_total", "Bytes of the objects fetched from the source",
              d(f.upstream_bytes));
  out.Counter("lcfs_mount_fetched_objects_total", "Objects fetched from the source",
              d(f.upstream_fetches));
  out.Counter("lcfs_mount_fetch_errors_total", "Fetches that failed (timeout, verification)",
              d(f.upstream_failures));
  out.Counter("lcfs_mount_shared_fetches_total", "Requests served by another request's fetch",
              d(f.shared_waits));
  out.Counter("lcfs_mount_prefetches_total", "Background fetches (metadata, read-ahead) sent",
              d(f.prefetches));
  out.Counter("lcfs_mount_prefetches_dropped_total",
              "Prefetches not queued because the bounded queue was full", d(f.prefetch_dropped));
  out.Counter("lcfs_mount_promoted_fetches_total",
              "Blocked requests that found only a background fetch of their object", d(f.promoted));
  out.Counter("lcfs_mount_cancelled_fetches_total",
              "Blocked requests abandoned (the kernel interrupted them)", d(f.cancelled));
  out.Counter("lcfs_mount_short_retries_total",
              "Reads of an object soon after its fetch timed out, given a short wait",
              d(f.short_retries));
  out.Gauge("lcfs_mount_prefetches_inflight", "Background fetches in the source now",
            d(static_cast<uint64_t>(f.background_inflight)));
  out.Gauge("lcfs_mount_prefetches_queued", "Background fetches waiting for a place",
            d(static_cast<uint64_t>(f.background_queued)));
  const cache::ChunkCacheStats c = cache.stats();
  out.Counter("lcfs_mount_cache_hits_total", "Objects found in the chunk cache", d(c.hits));
  out.Counter("lcfs_mount_cache_misses_total", "Objects not found in the chunk cache", d(c.misses));
  out.Gauge("lcfs_mount_cache_bytes", "Bytes in the chunk cache (this mount's view)", d(c.bytes));
  out.Gauge("lcfs_mount_cache_objects", "Objects in the chunk cache (this mount's view)",
            d(c.objects));
  out.Gauge("lcfs_mount_cache_limit_bytes", "Size limit of the chunk cache (0: none)", d(c.limit));
  out.Counter("lcfs_mount_cache_evictions_total", "Objects evicted to keep the cache in its limit",
              d(c.evictions));
  out.Counter("lcfs_mount_cache_rejected_objects_total",
              "Objects that failed verification on the way into or out of the cache",
              d(c.rejected));
  if (const auto& pool = fetcher.policy().buffers) {
    const BufferPoolStats b = pool->stats();
    out.Gauge("lcfs_mount_buffers", "Object buffers the mount keeps for decoding (fixed)",
              d(b.capacity));
    out.Gauge("lcfs_mount_buffers_idle", "Of those, buffers waiting for an object now", d(b.idle));
    out.Counter("lcfs_mount_buffer_takes_total", "Objects decoded into a buffer of the pool's size",
                d(b.takes));
    out.Counter("lcfs_mount_buffer_reuses_total", "Of those, objects that reused a kept buffer",
                d(b.reuses));
    out.Counter("lcfs_mount_buffer_allocations_total",
                "Buffers allocated (the fixed ones at start, then any beyond them)",
                d(b.allocations));
    out.Counter("lcfs_mount_buffer_discards_total",
                "Buffers freed on their return because the pool was full", d(b.discarded));
  }
  if (network) metrics::AddReceiverMetrics("lcfs_mount", network->stats(), out);
  AddProcessMetrics("lcfs_mount", out);
}

}  // namespace lcfs::fs
