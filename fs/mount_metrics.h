// The mount's Prometheus metrics (option metrics=ADDR:PORT): lcfs_mount_*
// figures of the fetcher, the chunk cache and, for network mounts, the
// receiver underneath, plus the lcfs_mount_fetch_seconds histogram.
#pragma once

#include <memory>

#include "lcfs/cache/chunk_cache.h"
#include "lcfs/metrics/metrics_server.h"
#include "lcfs/object.h"
#include "lcfs/sync/fetcher.h"
#include "object_fetcher.h"

namespace lcfs::fs {

// An ObjectSource that times every fetch of `upstream` into a histogram
// (successful or not: a timeout is a slow fetch too).
class TimedObjectSource : public ObjectSource {
 public:
  TimedObjectSource(ObjectSource& upstream, metrics::Histogram& seconds)
      : upstream_(upstream), seconds_(seconds) {}
  Result<std::vector<uint8_t>> Fetch(const FetchRequest& request) override;
  // Forwarded, so the mount's asynchronous pipeline keeps its concurrency.
  FetchTicket FetchAsync(const FetchRequest& request, FetchCallback done) override;
  void Cancel(FetchTicket ticket) override { upstream_.Cancel(ticket); }

 private:
  ObjectSource& upstream_;
  metrics::Histogram& seconds_;
};

// The histogram's buckets: from a cached-at-the-exporter round trip on a LAN
// (milliseconds) to the default timeout (30 s).
std::vector<double> FetchSecondsBuckets();

// The process's own figures, to tell a leak from fragmentation from threads
// when its resident memory grows (tests/soak/soak.sh reads them): glibc's
// heap in use and held free (mallinfo2), and the number of threads. Nothing
// of the heap without glibc.
void AddProcessMetrics(const char* prefix, metrics::Scrape& out);

// Adds the mount's figures to `out`, the process's among them. `network` is
// the receiver of a network mount (nullptr for local=). Thread-safe: reads
// the components' stats().
void CollectMountMetrics(const ObjectFetcher& fetcher, const cache::ChunkCache& cache,
                         const sync::Fetcher* network, metrics::Scrape& out);

}  // namespace lcfs::fs
