#include "lcfs/index/file_tree.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "lcfs/index/chunking.h"

namespace lcfs::index {

static_assert(sizeof(Hash) == Hash::kSize, "tree nodes are arrays of Hash");

namespace {

uint64_t CeilDiv(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

// Name of the tree node whose children are `children`, hashed in place.
Hash NodeHash(std::span<const Hash> children) {
  return ObjectHash(
      ObjectKind::kTreeNode,
      std::span(reinterpret_cast<const uint8_t*>(children.data()), children.size() * Hash::kSize));
}

}  // namespace

Hash EmptyFileHash() {
  static const Hash empty = ObjectHash(ObjectKind::kChunk, {});
  return empty;
}

// ---- FileShape ----

Result<FileShape> FileShape::Make(uint64_t file_size, uint32_t chunk_size) {
  LCFS_RETURN_IF_ERROR(ValidateChunkSize(chunk_size));
  if (file_size > kMaxFileSize) {
    return Status::Error(EINVAL, "file size " + std::to_string(file_size) + " exceeds 2^63-1");
  }
  FileShape s;
  s.file_size_ = file_size;
  s.chunk_size_ = chunk_size;
  s.chunk_count_ = ChunkCount(file_size, chunk_size);
  s.fanout_ = TreeFanout(chunk_size);
  for (uint64_t n = s.chunk_count_; n > 1; n = CeilDiv(n, s.fanout_)) ++s.depth_;
  return s;
}

uint64_t FileShape::NodesAtLevel(int level) const {
  uint64_t n = chunk_count_;
  for (int l = 0; l < level; ++l) n = CeilDiv(n, fanout_);
  return n;
}

uint32_t FileShape::ChildCount(int level, uint64_t index) const {
  const uint64_t below = NodesAtLevel(level - 1);
  const uint64_t start = index * fanout_;
  if (start >= below) return 0;
  return static_cast<uint32_t>(std::min<uint64_t>(fanout_, below - start));
}

std::vector<FileShape::Step> FileShape::PathToChunk(uint64_t chunk) const {
  // index_at[l] = the node of level l above `chunk` = chunk / fanout^l.
  std::vector<uint64_t> index_at(static_cast<size_t>(depth_) + 1);
  index_at[0] = chunk;
  for (int l = 1; l <= depth_; ++l) index_at[l] = index_at[l - 1] / fanout_;
  std::vector<Step> path;
  path.reserve(static_cast<size_t>(depth_));
  for (int l = depth_; l >= 1; --l) {
    path.push_back(Step{l, index_at[l], static_cast<uint32_t>(index_at[l - 1] % fanout_)});
  }
  return path;
}

// ---- tree node encoding ----

std::vector<uint8_t> EncodeTreeNode(std::span<const Hash> children) {
  std::vector<uint8_t> out(children.size() * Hash::kSize);
  if (!out.empty()) std::memcpy(out.data(), children.data(), out.size());
  return out;
}

Result<std::vector<Hash>> DecodeTreeNode(std::span<const uint8_t> bytes,
                                         uint32_t expected_children) {
  if (expected_children == 0) {
    return Status::Error(EINVAL, "decode tree node: no node is expected here (0 children)");
  }
  const uint64_t want = uint64_t{expected_children} * Hash::kSize;
  if (bytes.size() != want) {
    return Status::Error(EINVAL, "decode tree node: " + std::to_string(bytes.size()) +
                                     " bytes, expected " + std::to_string(expected_children) +
                                     " child hashes (" + std::to_string(want) + " bytes)");
  }
  std::vector<Hash> children(expected_children);
  std::memcpy(children.data(), bytes.data(), bytes.size());
  return children;
}

// ---- FileTree ----

Result<FileTree> FileTree::FromLeaves(const FileShape& shape, std::vector<Hash> leaves) {
  if (leaves.size() != shape.chunk_count()) {
    return Status::Error(EINVAL, "file tree: " + std::to_string(leaves.size()) +
                                     " chunk hashes for a file of " +
                                     std::to_string(shape.chunk_count()) + " chunks");
  }
  FileTree t;
  t.shape_ = shape;
  t.levels_.push_back(std::move(leaves));
  const size_t fanout = shape.fanout();
  while (t.levels_.back().size() > 1) {
    const std::vector<Hash>& below = t.levels_.back();
    std::vector<Hash> up;
    up.reserve(CeilDiv(below.size(), fanout));
    for (size_t i = 0; i < below.size(); i += fanout) {
      up.push_back(NodeHash(std::span(below).subspan(i, std::min(fanout, below.size() - i))));
    }
    t.levels_.push_back(std::move(up));
  }
  t.root_ = t.levels_.back().empty() ? EmptyFileHash() : t.levels_.back()[0];
  return t;
}

Result<FileTree> FileTree::FromData(std::span<const uint8_t> data, uint32_t chunk_size) {
  auto shape = FileShape::Make(data.size(), chunk_size);
  if (!shape.ok()) return shape.status();
  std::vector<Hash> leaves;
  leaves.reserve(shape->chunk_count());
  for (uint64_t i = 0; i < shape->chunk_count(); ++i) {
    leaves.push_back(ObjectHash(
        ObjectKind::kChunk, data.subspan(i * chunk_size, ChunkLength(data.size(), chunk_size, i))));
  }
  return FromLeaves(*shape, std::move(leaves));
}

std::vector<uint8_t> FileTree::EncodeNode(int level, uint64_t index) const {
  const std::vector<Hash>& below = levels_[static_cast<size_t>(level - 1)];
  const size_t start = index * shape_.fanout();
  const size_t n = std::min<size_t>(shape_.fanout(), below.size() - start);
  return EncodeTreeNode(std::span(below).subspan(start, n));
}

void FileTree::ForEachNode(const std::function<void(const Hash&, std::vector<uint8_t>)>& fn) const {
  for (size_t level = 1; level < levels_.size(); ++level) {
    for (size_t i = 0; i < levels_[level].size(); ++i) {
      fn(levels_[level][i], EncodeNode(static_cast<int>(level), i));
    }
  }
}

// ---- diff ----

std::vector<uint64_t> DiffChunks(const FileTree& have, const FileTree& want) {
  std::vector<uint64_t> changed;
  const FileShape& ws = want.shape();
  if (ws.chunk_count() == 0) return changed;
  if (have.shape().chunk_size() != ws.chunk_size()) {
    changed.resize(ws.chunk_count());
    for (uint64_t i = 0; i < changed.size(); ++i) changed[i] = i;
    return changed;
  }
  // Node m of level l covers the same chunks in both trees (groups are left
  // aligned), so equal hashes there mean equal chunks: skip the subtree.
  const int top = std::min(ws.depth(), have.shape().depth());
  std::vector<uint64_t> candidates(want.level(top).size());
  for (uint64_t i = 0; i < candidates.size(); ++i) candidates[i] = i;
  for (int l = top; l >= 1; --l) {
    std::span<const Hash> h = have.level(l), w = want.level(l);
    std::vector<uint64_t> next;
    for (uint64_t m : candidates) {
      if (m < h.size() && h[m] == w[m]) continue;
      const uint64_t first = m * ws.fanout();
      const uint32_t n = ws.ChildCount(l, m);
      for (uint32_t c = 0; c < n; ++c) next.push_back(first + c);
    }
    candidates = std::move(next);
  }
  std::span<const Hash> h = have.leaves(), w = want.leaves();
  for (uint64_t i : candidates) {
    if (i >= h.size() || h[i] != w[i]) changed.push_back(i);
  }
  return changed;
}

std::vector<uint64_t> DiffChunks(std::span<const Hash> have_leaves, const FileTree& want) {
  const uint32_t cs = want.shape().chunk_size();
  auto shape = FileShape::Make(uint64_t{have_leaves.size()} * cs, cs);
  auto have = shape.ok() ? FileTree::FromLeaves(*shape, {have_leaves.begin(), have_leaves.end()})
                         : Result<FileTree>(shape.status());
  if (!have.ok()) return DiffChunks(FileTree(), want);
  return DiffChunks(*have, want);
}

// ---- receiver walk ----

namespace {

// A remote node's children, checked against the shape.
Result<std::vector<Hash>> FetchNode(ObjectSource& source, const Hash& hash, const FileShape& shape,
                                    int level, uint64_t index, std::chrono::milliseconds timeout) {
  const uint32_t count = shape.ChildCount(level, index);
  auto bytes = source.Fetch({.hash = hash,
                             .kind = ObjectKind::kTreeNode,
                             .expected_size = uint64_t{count} * Hash::kSize,
                             .timeout = timeout});
  if (!bytes.ok()) {
    return bytes.status().WithContext("tree node " + hash.ToHex() + " (level " +
                                      std::to_string(level) + ")");
  }
  auto children = DecodeTreeNode(*bytes, count);
  if (!children.ok()) return children.status().WithContext("tree node " + hash.ToHex());
  return children;
}

}  // namespace

Result<Hash> FetchChunkHash(ObjectSource& source, const Hash& file_hash, const FileShape& shape,
                            uint64_t chunk, std::chrono::milliseconds timeout) {
  if (chunk >= shape.chunk_count()) {
    return Status::Error(EINVAL, "chunk " + std::to_string(chunk) + " is past the end of a " +
                                     std::to_string(shape.chunk_count()) + "-chunk file");
  }
  Hash current = file_hash;
  for (const FileShape::Step& step : shape.PathToChunk(chunk)) {
    auto children = FetchNode(source, current, shape, step.level, step.node, timeout);
    if (!children.ok()) return children.status();
    current = (*children)[step.child];
  }
  return current;
}

Result<FileTree> FetchFileTree(ObjectSource& source, const Hash& file_hash, const FileShape& shape,
                               std::chrono::milliseconds timeout) {
  std::vector<Hash> level;
  if (shape.chunk_count() > 0) level.push_back(file_hash);
  for (int l = shape.depth(); l >= 1; --l) {
    std::vector<Hash> below;
    below.reserve(shape.NodesAtLevel(l - 1));
    for (uint64_t m = 0; m < level.size(); ++m) {
      auto children = FetchNode(source, level[m], shape, l, m, timeout);
      if (!children.ok()) return children.status();
      below.insert(below.end(), children->begin(), children->end());
    }
    level = std::move(below);
  }
  auto tree = FileTree::FromLeaves(shape, std::move(level));
  if (tree.ok() && tree->root() != file_hash) {
    return Status::Error(EIO, "file tree " + file_hash.ToHex() + " does not verify");
  }
  return tree;
}

Result<std::vector<uint64_t>> FetchChangedChunks(ObjectSource& source, const Hash& want_hash,
                                                 const FileShape& want_shape, const FileTree& have,
                                                 std::chrono::milliseconds timeout) {
  const bool comparable = have.shape().chunk_size() == want_shape.chunk_size();
  // Is the local node (or leaf) at (level, index) equal to `hash`?
  auto same = [&](int level, uint64_t index, const Hash& hash) {
    if (!comparable || level > have.shape().depth()) return false;
    std::span<const Hash> mine = have.level(level);
    return index < mine.size() && mine[index] == hash;
  };
  struct Pending {
    uint64_t index;
    Hash hash;
  };
  std::vector<Pending> pending;
  if (want_shape.chunk_count() > 0) pending.push_back({0, want_hash});
  for (int l = want_shape.depth(); l >= 1; --l) {
    std::vector<Pending> below;
    for (const Pending& p : pending) {
      if (same(l, p.index, p.hash)) continue;
      auto children = FetchNode(source, p.hash, want_shape, l, p.index, timeout);
      if (!children.ok()) return children.status();
      for (uint64_t c = 0; c < children->size(); ++c) {
        below.push_back({p.index * want_shape.fanout() + c, (*children)[c]});
      }
    }
    pending = std::move(below);
  }
  std::vector<uint64_t> changed;
  for (const Pending& p : pending) {
    if (!same(0, p.index, p.hash)) changed.push_back(p.index);
  }
  return changed;
}

}  // namespace lcfs::index
