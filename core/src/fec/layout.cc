#include "fec/layout.h"

#include <cstring>

namespace lcfs::fec {

ObjectLayout::ObjectLayout(const Oti& oti)
    : length_(oti.transfer_length), symbol_size_(oti.symbol_size) {
  const uint64_t kt = (oti.transfer_length + oti.symbol_size - 1) / oti.symbol_size;
  Partition blocks = PartitionOf(kt, oti.source_blocks);
  uint64_t offset = 0;
  for (uint32_t b = 0; b < oti.source_blocks; ++b) {
    uint32_t k = b < blocks.large_count ? blocks.large_size : blocks.small_size;
    blocks_.push_back({offset, k, ParamsFor(k)});
    offset += uint64_t{k} * oti.symbol_size;
  }
  Partition subs = PartitionOf(oti.symbol_size / oti.alignment, oti.sub_blocks);
  for (uint32_t j = 0; j < oti.sub_blocks; ++j) {
    uint32_t units = j < subs.large_count ? subs.large_size : subs.small_size;
    sub_symbol_size_.push_back(units * oti.alignment);
  }
}

// Calls fn(object_offset, symbol_offset, length) for each sub-symbol.
template <typename Fn>
void ObjectLayout::ForEachPiece(uint32_t sbn, uint32_t esi, Fn&& fn) const {
  const Block& block = blocks_[sbn];
  uint64_t sub_block_start = block.offset;
  size_t in_symbol = 0;
  for (uint32_t size : sub_symbol_size_) {
    fn(sub_block_start + uint64_t{esi} * size, in_symbol, size);
    sub_block_start += uint64_t{block.k} * size;
    in_symbol += size;
  }
}

void ObjectLayout::Gather(const uint8_t* object, uint32_t sbn, uint32_t esi,
                          uint8_t* symbol) const {
  ForEachPiece(sbn, esi, [&](uint64_t at, size_t to, size_t n) {
    size_t have = at >= length_ ? 0 : static_cast<size_t>(std::min<uint64_t>(n, length_ - at));
    if (have) std::memcpy(symbol + to, object + at, have);
    if (have < n) std::memset(symbol + to + have, 0, n - have);
  });
}

void ObjectLayout::Scatter(uint8_t* object, uint32_t sbn, uint32_t esi,
                           const uint8_t* symbol) const {
  ForEachPiece(sbn, esi, [&](uint64_t at, size_t from, size_t n) {
    size_t have = at >= length_ ? 0 : static_cast<size_t>(std::min<uint64_t>(n, length_ - at));
    if (have) std::memcpy(object + at, symbol + from, have);
  });
}

}  // namespace lcfs::fec
