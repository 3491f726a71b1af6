// Syncing one file, or one buffer, to a remote file known by hash.
//
// The local copy's chunks are hashed by a worker pool; the remote Merkle tree
// is walked from its root, skipping every subtree whose hash equals the local
// one, so only tree nodes over changed chunks are fetched; then only the
// chunks that differ are fetched (many at once), verified and written.
// A file is rebuilt in a temporary file next to it (a copy of the local data
// plus the new chunks) and renamed over it only when complete, so a file
// never claims to be complete when it is not; on error the temporary file is
// removed and the old file is left as it was.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "lcfs/hash.h"
#include "lcfs/object.h"
#include "lcfs/status.h"
#include "lcfs/sync/sync_options.h"

namespace lcfs::sync {

// What a directory entry says about a remote file.
struct RemoteFile {
  Hash hash;  // the file hash (file_tree.h)
  uint64_t size = 0;
  uint32_t chunk_size = 0;  // the export's chunk size
};

// Makes the file at `path` a copy of `remote` (created if missing, set to the
// right size). Returns the bytes received. An existing file keeps its mode;
// a new one gets 0644. The mtime is the time of the sync.
Result<uint64_t> SyncFile(ObjectSource& source, const RemoteFile& remote, const std::string& path,
                          const SyncOptions& options = {}, SyncStats* stats = nullptr);

// Makes `memory` (exactly remote.size bytes, else EINVAL) a copy of `remote`,
// fetching only the chunks that differ. Returns the bytes received. On error
// `memory` may hold a mix of old and new (verified) chunks.
Result<uint64_t> SyncMemory(ObjectSource& source, const RemoteFile& remote,
                            std::span<uint8_t> memory, const SyncOptions& options = {},
                            SyncStats* stats = nullptr);

}  // namespace lcfs::sync
