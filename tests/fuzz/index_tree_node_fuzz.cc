// Fuzzes the receiver's view of a file tree: a file size and chunk size from
// the first 9 bytes give the shape (as a directory entry would), the rest is
// a tree node that must match the shape of some node of it exactly.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "lcfs/index/file_tree.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 9) return 0;
  uint64_t file_size = 0;
  for (int i = 0; i < 8; ++i) file_size = file_size << 8 | data[i];
  const uint32_t chunk_size = data[8] < 32 ? uint32_t{1} << data[8] : 0;
  auto shape = lcfs::index::FileShape::Make(file_size, chunk_size);
  if (!shape.ok()) return 0;
  std::span<const uint8_t> node(data + 9, size - 9);
  if (shape->depth() == 0) {
    if (shape->chunk_count() > 1) std::abort();
    return 0;
  }
  // The path to the last chunk touches the short node of every level.
  const uint64_t last = shape->chunk_count() - 1;
  for (const auto& step : shape->PathToChunk(last)) {
    const uint32_t children = shape->ChildCount(step.level, step.node);
    if (children == 0 || children > shape->fanout() || step.child >= children) std::abort();
    auto decoded = lcfs::index::DecodeTreeNode(node, children);
    if (decoded.ok()) {
      if (decoded->size() != children) std::abort();
      if (lcfs::index::EncodeTreeNode(*decoded).size() != node.size()) std::abort();
    }
  }
  return 0;
}
