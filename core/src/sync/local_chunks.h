// Hashing a local copy chunk by chunk on a worker pool: the leaves of the
// local Merkle tree that a sync compares with the remote tree.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/status.h"

namespace lcfs::sync {

// ObjectHash(kChunk, ...) of each chunk_size-byte chunk of `data` (the last
// may be short), computed on `threads` threads (0: one per CPU).
Result<std::vector<Hash>> HashChunks(std::span<const uint8_t> data, uint32_t chunk_size,
                                     unsigned threads);

}  // namespace lcfs::sync
