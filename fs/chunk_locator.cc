#include "chunk_locator.h"

#include "lcfs/index/chunking.h"

namespace lcfs::fs {

namespace {

// A tree node's object: its children's hashes, so its length is known.
ObjectId NodeId(const Hash& hash, uint32_t children) {
  return {.hash = hash, .kind = ObjectKind::kTreeNode, .size = uint64_t{children} * Hash::kSize};
}

}  // namespace

std::optional<ObjectId> ChunkLocator::RootNode(const Hash& file_hash,
                                               const index::FileShape& shape) {
  if (shape.depth() == 0) return std::nullopt;
  return NodeId(file_hash, shape.ChildCount(shape.depth(), 0));
}

Result<std::shared_ptr<const std::vector<Hash>>> ChunkLocator::Node(
    const Hash& hash, uint32_t children, bool fetch, const std::atomic<bool>* cancel) {
  {
    MutexLock lock(&mu_);
    auto it = nodes_.find(hash);
    if (it != nodes_.end() && it->second->size() == children) return it->second;
  }
  ObjectRef object;
  if (fetch) {
    Result<ObjectRef> got = fetcher_.Get(NodeId(hash, children), cancel);
    if (!got.ok()) return got.status();
    object = std::move(*got);
  } else {
    object = fetcher_.GetCached(NodeId(hash, children));
    if (!object) return Status::Error(ENOENT, "tree node " + hash.ToHex() + " not cached");
  }
  Result<std::vector<uint8_t>> bytes = object->ReadAll();
  if (!bytes.ok()) return bytes.status().WithContext("tree node " + hash.ToHex());
  Result<std::vector<Hash>> decoded = index::DecodeTreeNode(*bytes, children);
  if (!decoded.ok())
    return Status::Error(EIO, "tree node " + hash.ToHex() + ": " + decoded.status().message());
  auto node = std::make_shared<const std::vector<Hash>>(std::move(*decoded));
  MutexLock lock(&mu_);
  // A crude bound: nodes are cheap to refetch from the on-disk cache.
  if (nodes_.size() >= max_nodes_) nodes_.clear();
  nodes_[hash] = node;
  return node;
}

Result<Hash> ChunkLocator::ChunkHash(const Hash& file_hash, const index::FileShape& shape,
                                     uint64_t chunk, bool fetch, const std::atomic<bool>* cancel,
                                     ObjectId* missing) {
  if (chunk >= shape.chunk_count())
    return Status::Error(EINVAL, "chunk " + std::to_string(chunk) + " past the end of the file");
  Hash current = file_hash;
  for (const index::FileShape::Step& step : shape.PathToChunk(chunk)) {
    const uint32_t children = shape.ChildCount(step.level, step.node);
    auto node = Node(current, children, fetch, cancel);
    if (!node.ok()) {
      if (missing) *missing = NodeId(current, children);
      return node.status();
    }
    current = (**node)[step.child];
  }
  return current;
}

uint64_t ChunkLocator::CachedBytes(const Hash& file_hash, const index::FileShape& shape) {
  if (shape.chunk_count() == 0) return 0;
  return CachedBytesBelow(file_hash, shape, shape.depth(), 0);
}

uint64_t ChunkLocator::CachedBytesBelow(const Hash& hash, const index::FileShape& shape, int level,
                                        uint64_t position) {
  if (level == 0) {
    return fetcher_.cache().Contains(hash)
               ? index::ChunkLength(shape.file_size(), shape.chunk_size(), position)
               : 0;
  }
  auto node = Node(hash, shape.ChildCount(level, position), /*fetch=*/false, nullptr);
  if (!node.ok()) return 0;
  uint64_t bytes = 0;
  const std::vector<Hash>& children = **node;
  for (size_t c = 0; c < children.size(); ++c)
    bytes += CachedBytesBelow(children[c], shape, level - 1, position * shape.fanout() + c);
  return bytes;
}

}  // namespace lcfs::fs
