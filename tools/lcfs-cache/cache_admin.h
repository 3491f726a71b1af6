// The maintenance operations of `lcfs-cache` on a chunk cache directory.
//
// They work on the directory itself (layout and pin protocol in
// lcfs/cache/chunk_cache.h), never through a running mount, and are safe while mounts
// use it: nothing removes an object a mount has pinned except `check`, which
// removes corrupt objects whoever holds them (a mount holding one already
// verified its bytes when it opened it, and reads through its own open
// file). A mount that later misses a removed object fetches it again.
#pragma once

#include <time.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/object.h"
#include "lcfs/status.h"

namespace lcfs::cache_tool {

struct ObjectFile {
  Hash hash;
  ObjectKind kind;
  std::string path;
  uint64_t size = 0;
  timespec used{};  // atime: the order of least recent use
};

// Every object file of the cache in `dir`. ENOENT if `dir` is not a cache.
Result<std::vector<ObjectFile>> ListObjects(const std::string& dir);

struct CheckReport {
  uint64_t objects = 0;  // checked
  uint64_t bytes = 0;
  std::vector<ObjectFile> corrupt;  // removed
};
// Verifies every object against its name and removes those that fail.
Result<CheckReport> Check(const std::string& dir);

struct Usage {
  struct Count {
    uint64_t objects = 0;
    uint64_t bytes = 0;
  };
  Count total;
  std::array<Count, 3> by_kind;  // indexed by ObjectKind
  Count pinned;                  // held by running mounts right now
  uint64_t temporary_files = 0;  // objects being written, or left by dead writers
};
Result<Usage> DiskUsage(const std::string& dir);

struct EvictReport {
  uint64_t removed = 0;
  uint64_t removed_bytes = 0;
  uint64_t pinned_kept = 0;  // would have been removed, but a mount holds them
  uint64_t remaining_bytes = 0;
};
// Removes unpinned objects, least recently used first, until at most
// `target_bytes` remain (or only pinned objects are left).
Result<EvictReport> CollectGarbage(const std::string& dir, uint64_t target_bytes);
// Removes the objects named `hash` (of any kind) unless pinned.
Result<EvictReport> EvictHash(const std::string& dir, const Hash& hash);
// Removes every unpinned object and the temporary files of dead writers.
// The directory structure stays, so running mounts keep working.
Result<EvictReport> Wipe(const std::string& dir);

}  // namespace lcfs::cache_tool
