// The machinery under SyncFile and SyncTree: a sync context (fetching with
// counters and progress) and the three phases of syncing a set of files:
// hash the local copies (worker pool), find the changed chunks (remote tree
// walk), fetch and write them into temporary files renamed when complete.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/mutex.h"
#include "lcfs/object.h"
#include "lcfs/status.h"
#include "lcfs/sync/file_sync.h"
#include "lcfs/sync/sync_options.h"
#include "lcfs/unique_fd.h"
#include "local_chunks.h"

namespace lcfs::sync {

// What one sync shares between its threads: the object source, the options,
// the byte counters and the progress callback.
//
// Threads: a sync runs phases, some on one thread (planning, reconciling
// directories) and some on worker pools (hashing local copies, walking remote
// trees, fetching chunks). Fetch, AddReused, AddToFetch, SetPlanned,
// ReportProgress, cancelled and Snapshot may be called from any thread
// (atomic counters; progress_mu_ lets one thread at a time call the progress
// callback, at most every 100 ms unless forced). stats() hands out plain
// counters: only the single-threaded phases touch them.
class SyncContext {
 public:
  SyncContext(ObjectSource& source, const SyncOptions& options);

  // Fetches and counts one object; `expected_size` (0: unknown) goes to the
  // source, which refuses data of another length, and is checked again here.
  Result<std::vector<uint8_t>> Fetch(const Hash& hash, ObjectKind kind, uint64_t expected_size);

  void AddReused(uint64_t bytes) { reused_ += bytes; }
  void AddToFetch(uint64_t bytes) { to_fetch_ += bytes; }
  void SetPlanned() { planned_ = true; }
  void ReportProgress(bool force = false) EXCLUDES(progress_mu_);

  const SyncOptions& options() const { return options_; }
  bool cancelled() const { return options_.cancel != nullptr && options_.cancel->load(); }
  unsigned hash_threads() const;
  SyncStats& stats() { return stats_; }  // non-atomic fields: single-threaded phases only
  SyncStats Snapshot() const;

 private:
  ObjectSource& source_;
  const SyncOptions& options_;
  std::atomic<uint64_t> received_{0}, chunk_received_{0}, reused_{0}, to_fetch_{0}, objects_{0};
  std::atomic<bool> planned_{false};
  Mutex progress_mu_;
  std::chrono::steady_clock::time_point last_progress_ GUARDED_BY(progress_mu_){};
  SyncStats stats_;
};

struct ChangedChunk {
  uint64_t index;
  Hash hash;
};

// Walks the remote tree of `remote` from its root, fetching only nodes whose
// hash differs from the local tree's node at the same place, and returns the
// chunks whose hash differs from `local_leaves` (the local copy's chunk hashes).
Result<std::vector<ChangedChunk>> FindChangedChunks(SyncContext& ctx, const RemoteFile& remote,
                                                    std::span<const Hash> local_leaves,
                                                    uint64_t local_size);

// One file to make equal to a remote file.
//
// Threads: the planning fields are written by one thread at a time (the
// hashing pool writes distinct local_leaves entries; everything else is
// single-threaded). During execution, chunks of one file are written by
// several workers at once: `mu` guards the temporary file and the count of
// chunks still to write, and the worker that writes the last one renames.
struct FileSyncJob {
  std::string path;
  RemoteFile remote;
  // Tree sync: set mode and mtime from the directory entry. Otherwise keep
  // the old file's mode (0644 for a new file).
  bool set_attributes = false;
  uint16_t mode = 0644;
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;

  // Planning.
  bool has_local = false;  // a regular file exists at `path`
  uint64_t local_size = 0;
  mode_t local_mode = 0644;
  std::vector<Hash> local_leaves;
  std::vector<ChangedChunk> changed;
  bool rewrite = false;  // needs a temporary file (content or size differ)

  // Execution.
  Mutex mu;
  UniqueFd temp GUARDED_BY(mu);
  std::string temp_path GUARDED_BY(mu);
  size_t remaining GUARDED_BY(mu) = 0;
  bool finished GUARDED_BY(mu) = false;
};

// Syncs every job; on error, removes the temporary files of unfinished jobs
// and returns the first error (finished files stay, complete).
Status SyncFiles(SyncContext& ctx, std::vector<std::unique_ptr<FileSyncJob>>& jobs);

// Prefix of our temporary files ("." so ls hides them); stale ones (from a
// killed sync) are removed by the next tree sync of that directory.
inline constexpr const char* kTempPrefix = ".lcfs-sync.";

// Creates a temporary file next to `path` (same directory, so rename works).
Result<UniqueFd> CreateTempNextTo(const std::string& path, std::string* temp_path);

// Sets mode and mtime of an open file.
Status SetFileAttributes(int fd, uint16_t mode, int64_t mtime_sec, uint32_t mtime_nsec,
                         const std::string& what);

}  // namespace lcfs::sync
