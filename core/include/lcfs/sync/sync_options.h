// Options, progress and statistics shared by every sync call (file_sync.h,
// tree_sync.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace lcfs::sync {

struct SyncProgress {
  uint64_t bytes_received = 0;  // verified object bytes fetched so far
  uint64_t bytes_reused = 0;    // file bytes taken from the local copy
  // File bytes left to fetch, known once planning is over (0 before).
  uint64_t bytes_to_fetch = 0;
  uint64_t chunk_bytes_received = 0;  // of bytes_received, file content
  bool planned = false;               // bytes_to_fetch is final
};

struct SyncStats {
  uint64_t bytes_received = 0;  // every verified object fetched: chunks, tree nodes, directories
  uint64_t bytes_reused = 0;    // file content found locally, not fetched
  uint64_t objects_fetched = 0;
  uint64_t files_written = 0;  // files created or replaced
  uint64_t files_unchanged = 0;
  uint64_t directories = 0;
  uint64_t symlinks = 0;
  uint64_t deleted = 0;  // local entries removed (--delete, or in the way of another type)
};

struct SyncOptions {
  // Per object: a fetch that does not complete in time fails the sync with
  // ETIMEDOUT (files not yet complete are left as they were).
  std::chrono::milliseconds timeout{10000};
  // Objects fetched at once.
  unsigned window = 64;
  // Threads hashing the local copy; 0 = one per CPU.
  unsigned hash_threads = 0;
  // Tree sync: remove local entries the remote tree does not have.
  bool delete_extra = false;
  // Tree sync: decoded directory objects kept, shared by hash (an LRU).
  size_t directory_cache_bytes = size_t{64} << 20;
  // Tree sync: files queued (and directories awaiting their attributes)
  // before they are written; bounds memory whatever the tree names.
  size_t max_pending_files = 4096;
  // Called about every 100 ms from a worker thread; must be thread-safe.
  std::function<void(const SyncProgress&)> progress;
  // Set to true (e.g. from a signal handler) to stop early with ECANCELED.
  const std::atomic<bool>* cancel = nullptr;
};

}  // namespace lcfs::sync
