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
};

Result<std::unique_ptr<ObjectSource>> MakeObjectSource(const MountOptions& options,
                                                       ObjectSourceInfo* info = nullptr);

// The sync engine's source: exporters on the LAN.
Result<std::unique_ptr<ObjectSource>> MakeNetworkObjectSource(const MountOptions& options,
                                                              ObjectSourceInfo* info = nullptr);

// An ObjectSource serving the local directory `dir` (indexed now).
Result<std::unique_ptr<ObjectSource>> MakeLocalObjectSource(const std::string& dir,
                                                            ObjectSourceInfo* info = nullptr);

}  // namespace lcfs::fs
