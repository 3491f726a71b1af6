// A file's Merkle tree: how a file is named and verified chunk by chunk.
//
// Leaves (level 0) are the chunk object hashes, ObjectHash(kChunk, chunk).
// Level k+1 groups level k, left to right, into tree node objects of up to
// TreeFanout(chunk_size) child hashes (the last node of a level may be
// short), so a tree node is at most one chunk long. This repeats until one
// hash is left: the file hash. A 1-chunk file's hash is its chunk hash (no
// node); an empty file's hash is EmptyFileHash().
//
// Because the shape depends only on (file size, chunk size), a receiver that
// knows both (from the directory entry) can walk from the file hash to chunk
// i fetching only the depth() nodes on the path (FileShape::PathToChunk), and
// knows the exact child count of every node it fetches (DecodeTreeNode
// rejects anything else). With 1 MiB chunks a depth of 2 covers 1 PiB.
// Byte layout: docs/protocol.md section 2.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/object.h"
#include "lcfs/status.h"

namespace lcfs::index {

// The name of an empty file: ObjectHash(kChunk, "") (an empty file reads as
// one empty chunk, which is never fetched).
Hash EmptyFileHash();

// The tree shape of a file, from its size and the export's chunk size alone.
class FileShape {
 public:
  // Fails (EINVAL) on an invalid chunk size or a size above kMaxFileSize.
  static Result<FileShape> Make(uint64_t file_size, uint32_t chunk_size);

  uint64_t file_size() const { return file_size_; }
  uint32_t chunk_size() const { return chunk_size_; }
  uint64_t chunk_count() const { return chunk_count_; }
  uint32_t fanout() const { return fanout_; }
  // Levels above the chunks: 0 when the file hash is a chunk hash (files of
  // 0 or 1 chunks), else the number of node levels (the root is at depth()).
  int depth() const { return depth_; }

  // Hashes at `level` (0 = chunks, depth() = 1 root). 0 for an empty file.
  uint64_t NodesAtLevel(int level) const;
  // Children of node `index` at `level` (1..depth()): fanout() except for the
  // last node of a level.
  uint32_t ChildCount(int level, uint64_t index) const;

  // One step of the walk from the root to a chunk: at node `node` of `level`,
  // follow child `child` (which is node `node * fanout + child` of level-1).
  struct Step {
    int level;
    uint64_t node;
    uint32_t child;
  };
  // The depth() steps from the root down to chunk `chunk` (< chunk_count()),
  // root first. Empty for files of depth 0.
  std::vector<Step> PathToChunk(uint64_t chunk) const;

 private:
  uint64_t file_size_ = 0;
  uint32_t chunk_size_ = 0;
  uint64_t chunk_count_ = 0;
  uint32_t fanout_ = 0;
  int depth_ = 0;
};

// A tree node's bytes: its child hashes, concatenated.
std::vector<uint8_t> EncodeTreeNode(std::span<const Hash> children);

// Strict decode of a tree node that must hold exactly `expected_children`
// hashes (from FileShape::ChildCount). Rejects any other length with an error
// saying what was expected. Allocates only after the length check.
Result<std::vector<Hash>> DecodeTreeNode(std::span<const uint8_t> bytes,
                                         uint32_t expected_children);

// A complete Merkle tree held in memory (the exporter's view, or a receiver's
// view of its local copy built from local chunk hashes).
class FileTree {
 public:
  FileTree() = default;
  // `leaves` are the chunk hashes, exactly shape.chunk_count() of them.
  static Result<FileTree> FromLeaves(const FileShape& shape, std::vector<Hash> leaves);
  // Hashes `data` as a whole file (tests, small files, tools).
  static Result<FileTree> FromData(std::span<const uint8_t> data, uint32_t chunk_size);

  const FileShape& shape() const { return shape_; }
  // The file hash.
  const Hash& root() const { return root_; }
  std::span<const Hash> leaves() const { return level(0); }
  // Hashes at `level` (0..shape().depth()).
  std::span<const Hash> level(int level) const { return levels_[static_cast<size_t>(level)]; }

  // The bytes of node `index` at `level` (1..depth()).
  std::vector<uint8_t> EncodeNode(int level, uint64_t index) const;
  // Calls fn(hash, bytes) for every tree node object, bottom level first.
  void ForEachNode(const std::function<void(const Hash&, std::vector<uint8_t>)>& fn) const;

 private:
  FileShape shape_;
  Hash root_;
  std::vector<std::vector<Hash>> levels_;  // levels_[0] = leaves; back() = {root} if depth > 0
};

// Merkle diff: the chunk indices of `want` (ascending) whose content differs
// from `have`, i.e. the chunks to fetch to turn `have` into `want`. Chunks
// past the end of `have` (growth) are included; chunks of `have` past the end
// of `want` (shrink) are not, the caller truncates. A chunk that is short in
// one and full in the other differs (different bytes, different hash).
// Subtrees with equal node hashes are skipped without looking at their
// leaves. Both trees must have the same chunk size (else every chunk differs).
std::vector<uint64_t> DiffChunks(const FileTree& have, const FileTree& want);

// The same against a tree known only by its leaves' hashes, e.g. the remote
// tree vs. the hashes of the chunks of a local copy (`have_leaves[i]` is the
// chunk hash of local chunk i).
std::vector<uint64_t> DiffChunks(std::span<const Hash> have_leaves, const FileTree& want);

// Walks from `file_hash` to the hash of chunk `chunk`, fetching the depth()
// tree nodes on the path from `source` and checking each one's shape. A
// receiver calls this to verify a chunk without fetching the whole tree.
Result<Hash> FetchChunkHash(ObjectSource& source, const Hash& file_hash, const FileShape& shape,
                            uint64_t chunk, std::chrono::milliseconds timeout);

// Fetches a whole remote tree (every node, level by level) and rebuilds it.
// For a receiver that wants all chunk hashes up front.
Result<FileTree> FetchFileTree(ObjectSource& source, const Hash& file_hash, const FileShape& shape,
                               std::chrono::milliseconds timeout);

// The Merkle diff over the network: the chunks of the remote file
// (`want_hash`, `want_shape`) that differ from the local tree `have`, as
// DiffChunks would give, fetching only the remote nodes whose hash differs
// from the local node at the same place (unchanged subtrees cost nothing).
Result<std::vector<uint64_t>> FetchChangedChunks(ObjectSource& source, const Hash& want_hash,
                                                 const FileShape& want_shape, const FileTree& have,
                                                 std::chrono::milliseconds timeout);

}  // namespace lcfs::index
