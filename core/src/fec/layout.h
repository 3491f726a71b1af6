// Where each source symbol's bytes live in the object (RFC 6330 section
// 4.4.1.2): the object is cut into Z source blocks, each block into N
// sub-blocks, and source symbol i of a block is the concatenation of the
// i-th sub-symbol of each of its sub-blocks. Bytes past F read as zero.
#pragma once

#include <cstdint>
#include <vector>

#include "fec/code_params.h"
#include "lcfs/fec/oti.h"

namespace lcfs::fec {

class ObjectLayout {
 public:
  // `oti` must be valid (Oti::Validate).
  explicit ObjectLayout(const Oti& oti);

  uint32_t block_count() const { return static_cast<uint32_t>(blocks_.size()); }
  uint32_t SourceSymbols(uint32_t sbn) const { return blocks_[sbn].k; }
  const CodeParams& Params(uint32_t sbn) const { return *blocks_[sbn].params; }
  size_t symbol_size() const { return symbol_size_; }

  // Copies source symbol `esi` (< K) of block `sbn` out of the object.
  void Gather(const uint8_t* object, uint32_t sbn, uint32_t esi, uint8_t* symbol) const;
  // Writes source symbol `esi` of block `sbn` into the object (up to F).
  void Scatter(uint8_t* object, uint32_t sbn, uint32_t esi, const uint8_t* symbol) const;

 private:
  struct Block {
    uint64_t offset;
    uint32_t k;
    const CodeParams* params;
  };
  template <typename Fn>
  void ForEachPiece(uint32_t sbn, uint32_t esi, Fn&& fn) const;

  uint64_t length_;
  size_t symbol_size_;
  std::vector<Block> blocks_;
  std::vector<uint32_t> sub_symbol_size_;  // per sub-block, bytes
};

}  // namespace lcfs::fec
