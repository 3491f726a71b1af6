// Where a mount's objects come from: the one place that picks the
// ObjectSource for the `lcfs` program.
//
// By default objects come from the network: the sync engine's
// NetworkObjectSource (iface=, source=, port=). With `local=DIR` the
// directory is indexed in-process and served from its mdex instead (tests,
// benchmarks, offline use).
#pragma once

#include <memory>
#include <string>

#include "lcfs/buffer_pool.h"
#include "lcfs/object.h"
#include "lcfs/status.h"
#include "lcfs/sync/fetcher.h"
#include "mount_options.h"

namespace lcfs::fs {

struct ObjectSourceInfo {
  std::string description;  // for logs: "local index of /srv/data (root HASH)"
  // The network source's fetcher, for its metrics; null for a local source.
  // Owned by the returned source and valid as long as it lives.
  sync::Fetcher* network_fetcher = nullptr;
  // The buffers the network source decodes objects into, for the
  // ObjectFetcher to give back (FetchPolicy::buffers); null for a local one.
  std::shared_ptr<BufferPool> buffers;
};

// The network source's objects in flight (groups joined) and the chunk
// buffers they are decoded into: a fixed budget, allocated when the mount
// starts and reused, so that the mount's memory does not follow how many
// objects happen to be in flight (issue 14 point 5). 32 is the largest
// read-ahead window (FilesystemOptions::max_prefetch_chunks).
inline constexpr size_t kMountObjectBuffers = 32;

Result<std::unique_ptr<ObjectSource>> MakeObjectSource(const MountOptions& options,
                                                       ObjectSourceInfo* info = nullptr);

// The sync engine's source: exporters on the LAN.
Result<std::unique_ptr<ObjectSource>> MakeNetworkObjectSource(const MountOptions& options,
                                                              ObjectSourceInfo* info = nullptr);

// An ObjectSource serving the local directory `dir` (indexed now).
Result<std::unique_ptr<ObjectSource>> MakeLocalObjectSource(const std::string& dir,
                                                            ObjectSourceInfo* info = nullptr);

}  // namespace lcfs::fs
