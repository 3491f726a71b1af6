// DirectoryCache: decoded directory objects, shared by hash, in an LRU
// bounded in bytes.
//
// A publisher may name one directory object from many places (a "path bomb":
// 100,000 entries all naming the same 20,000-entry directory). Keyed by
// hash, such a tree costs one decoded copy however many paths reach it, and
// the byte bound caps what all distinct directories together may hold; an
// evicted directory is fetched (or read from a cache) and decoded again when
// next needed. Callers keep the shared_ptr only while they use it. Used by
// lcfs-sync's tree walk and by the mount (fs/filesystem.h).
//
// Thread safety: all methods may be called from any thread; one leaf mutex.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <unordered_map>

#include "lcfs/hash.h"
#include "lcfs/index/directory.h"
#include "lcfs/mutex.h"

namespace lcfs::sync {

struct DirectoryCacheStats {
  size_t directories = 0;  // held now
  size_t bytes = 0;        // their approximate decoded size
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
};

class DirectoryCache {
 public:
  explicit DirectoryCache(size_t byte_limit) : limit_(byte_limit) {}
  DirectoryCache(const DirectoryCache&) = delete;
  DirectoryCache& operator=(const DirectoryCache&) = delete;

  // The decoded object named `hash`, or nullptr.
  std::shared_ptr<const index::Directory> Get(const Hash& hash) EXCLUDES(mu_);
  // Keeps `decoded` under `hash` (a copy decoded meanwhile by another thread
  // wins, so every caller shares one) and returns the kept one. A directory
  // larger than the whole limit is returned but not kept.
  std::shared_ptr<const index::Directory> Insert(const Hash& hash, index::Directory decoded)
      EXCLUDES(mu_);

  DirectoryCacheStats stats() const EXCLUDES(mu_);

  // Approximate memory of a decoded directory (entries, names, inline data).
  static size_t ApproximateBytes(const index::Directory& dir);

 private:
  struct Entry {
    std::shared_ptr<const index::Directory> dir;
    size_t bytes = 0;
    std::list<Hash>::iterator lru;
  };

  const size_t limit_;
  mutable Mutex mu_;
  std::unordered_map<Hash, Entry> entries_ GUARDED_BY(mu_);
  std::list<Hash> lru_ GUARDED_BY(mu_);  // front: most recently used
  DirectoryCacheStats stats_ GUARDED_BY(mu_);
};

}  // namespace lcfs::sync
