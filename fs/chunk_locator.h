// ChunkLocator: the hash of chunk i of a file, walking the file's Merkle tree
// from its file hash and fetching only the tree nodes on the path.
//
// Decoded nodes are kept in a small in-memory table, so a sequential read
// fetches and decodes each node once; the node objects themselves also go
// through the chunk cache like every other object.
//
// Thread safety: ChunkHash may be called from any thread (FUSE request
// threads and prefetch workers) at once. The node table is guarded by `mu_`,
// a leaf lock: it is never held while fetching or decoding, so two threads
// may fetch the same node at once (both results are equal; one is kept).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/index/file_tree.h"
#include "lcfs/mutex.h"
#include "lcfs/status.h"
#include "object_fetcher.h"

namespace lcfs::fs {

class ChunkLocator {
 public:
  explicit ChunkLocator(ObjectFetcher& fetcher, size_t max_nodes = 1024)
      : fetcher_(fetcher), max_nodes_(max_nodes) {}

  // The hash of chunk `chunk` (< shape.chunk_count()) of the file named
  // `file_hash`. With `fetch` false only cached nodes are used (ENOENT if
  // one is missing, and *missing, when given, names the first missing node
  // so the caller may prefetch it): for introspection and read-ahead, which
  // must not block on the network. `cancel` as in ObjectFetcher::Get.
  Result<Hash> ChunkHash(const Hash& file_hash, const index::FileShape& shape, uint64_t chunk,
                         bool fetch = true, const std::atomic<bool>* cancel = nullptr,
                         ObjectId* missing = nullptr) EXCLUDES(mu_);
  // The root tree node of a file of more than one chunk (what a directory
  // listing prefetches for its large files); nullopt for smaller files.
  static std::optional<ObjectId> RootNode(const Hash& file_hash, const index::FileShape& shape);
  // Bytes of the file present in the chunk cache, walking only cached tree
  // nodes: a missing node means its whole subtree is absent. The work is
  // bounded by the number of cached nodes times the fanout, whatever size
  // the file claims (a file of 2^63-1 bytes with nothing cached answers at
  // once). Never fetches.
  uint64_t CachedBytes(const Hash& file_hash, const index::FileShape& shape) EXCLUDES(mu_);

 private:
  uint64_t CachedBytesBelow(const Hash& hash, const index::FileShape& shape, int level,
                            uint64_t node) EXCLUDES(mu_);
  Result<std::shared_ptr<const std::vector<Hash>>> Node(const Hash& hash, uint32_t children,
                                                        bool fetch, const std::atomic<bool>* cancel)
      EXCLUDES(mu_);

  ObjectFetcher& fetcher_;
  const size_t max_nodes_;
  Mutex mu_;
  std::unordered_map<Hash, std::shared_ptr<const std::vector<Hash>>> nodes_ GUARDED_BY(mu_);
};

}  // namespace lcfs::fs
