// The indexer: turns a directory tree (or one file) into a root hash and a
// populated mdex.
//
// It does not follow symlinks (they are exported as symlinks), does not cross
// mount points, and skips special files (devices, FIFOs, sockets) and
// anything it cannot read, with a warning each (counted in `skipped`, never
// fatal). Files are hashed in parallel, large files split across threads, and
// the result does not depend on the thread count or on directory read order.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "lcfs/hash.h"
#include "lcfs/index/chunking.h"
#include "lcfs/index/directory.h"
#include "lcfs/index/mdex.h"
#include "lcfs/status.h"

namespace lcfs::index {

struct IndexStats {
  uint64_t files = 0;    // regular files indexed (inline ones included)
  uint64_t inlined = 0;  // of which carried inline in their directory
  uint64_t dirs = 0;     // directories indexed, the root included
  uint64_t symlinks = 0;
  uint64_t skipped = 0;  // special, unreadable, changed-while-read, other-mount
  uint64_t bytes = 0;    // bytes of file content hashed
  uint64_t chunks = 0;   // chunk objects (before deduplication)
  uint64_t reused = 0;   // files (of `files`) whose hashes came from the cache, unread
};

struct IndexProgress {
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;  // grows while the tree is walked, then fixed
  uint64_t files_done = 0;
  uint64_t files_total = 0;
};

struct IndexOptions {
  uint32_t chunk_size = kDefaultChunkSize;
  // Files of at most this many bytes go inline (<= kMaxInlineSize; empty
  // files are always inline).
  size_t inline_max = kDefaultInlineMax;
  // Hashing threads; 0 = one per online CPU.
  unsigned threads = 0;
  // Called about every 100 ms while walking and hashing, and once at the
  // end, from the calling thread.
  std::function<void(const IndexProgress&)> progress;
  // One line per skipped path; default prints "lcfs: warning: ..." to stderr.
  std::function<void(const std::string&)> warn;

  // The index cache (core/src/index/index_cache.h): a file that keeps each
  // regular file's hashes under its stat identity (device, inode, size,
  // mtime, ctime), so that indexing the same tree again reads only the files
  // that changed. Empty: no cache. Read before the walk (a missing, corrupt
  // or mismatched cache is ignored as a whole, the reason given to `note`)
  // and rewritten after. Directory indexes only.
  std::string cache_path;
  // Files whose mtime or ctime is less than this older than the walk are not
  // cached: a change within one timestamp tick could leave their stamp as
  // it was (git's "racy clean" files). Tests that need fresh files cached
  // lower it.
  std::chrono::nanoseconds cache_min_age = std::chrono::seconds(2);
  // Notices about the cache (why it was ignored or not written); default
  // prints "lcfs: note: ..." to stderr.
  std::function<void(const std::string&)> note;
};

struct IndexResult {
  // The root HASH for a directory (the hash of its directory object), the
  // file hash for a single file.
  Hash root;
  bool root_is_directory = true;
  uint64_t root_size = 0;  // file size, or the root directory object's length
  uint32_t chunk_size = 0;
  IndexStats stats;
  // Every object of the export: chunks (as file ranges), tree nodes and
  // directory objects (owned). For a single small file, its chunk.
  std::shared_ptr<Mdex> mdex;
};

// One line of progress for a terminal: "1200/56000 files, 1.2 GiB/3.4 GiB
// (35%), 250.0 MiB/s" (the rate over `seconds` since indexing started).
std::string FormatIndexProgress(const IndexProgress& progress, double seconds);

// Where lcfs-export keeps the index cache of `dir` by default: one file per
// exported directory (named by a hash of its real path) under
// /var/cache/lcfs-export for root, else $XDG_CACHE_HOME/lcfs-export (or
// ~/.cache/lcfs-export).
std::string DefaultIndexCachePath(const std::string& dir);

// Indexes `path`, a directory or a regular file (`path` itself is followed
// if it is a symlink; nothing below it is). Fails only if `path` cannot be
// indexed at all, or on invalid options.
Result<IndexResult> IndexPath(const std::string& path, const IndexOptions& options = {});

}  // namespace lcfs::index
