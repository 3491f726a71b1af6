// Syncing a whole directory tree by its root HASH (lcfs-sync HASH DEST).
//
// Fetches the directory objects from the root down, then syncs every file as
// file_sync.h describes (all files' chunks share one window of fetches),
// creates symlinks, and sets modes and mtimes (directories last, deepest
// first). A local entry of the wrong type is replaced; extra local entries
// are removed only with SyncOptions::delete_extra. DEST is created if
// missing, but only once the root directory object has been fetched, so a
// sync that reaches no exporter leaves DEST untouched.
#pragma once

#include <string>

#include "lcfs/hash.h"
#include "lcfs/object.h"
#include "lcfs/status.h"
#include "lcfs/sync/sync_options.h"

namespace lcfs::sync {

// Returns the bytes received; `stats` (optional) gets the details.
Result<uint64_t> SyncTree(ObjectSource& source, const Hash& root, const std::string& dest,
                          const SyncOptions& options = {}, SyncStats* stats = nullptr);

}  // namespace lcfs::sync
