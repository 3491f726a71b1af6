// Chunking: how a file is cut into fixed-size chunks.
//
// Every export uses one chunk size, a power of two from 4 KiB to 16 MiB,
// recorded in every directory object (docs/protocol.md section 3). Chunk i of
// a file covers bytes [i * chunk_size, min((i + 1) * chunk_size, size)); only
// the last chunk may be short, and an empty file has no chunks.
#pragma once

#include <cstdint>
#include <string_view>

#include "lcfs/status.h"

namespace lcfs::index {

inline constexpr uint32_t kMinChunkSize = 4u << 10;   // 4 KiB
inline constexpr uint32_t kMaxChunkSize = 16u << 20;  // 16 MiB
// 1 MiB: SHA-256 throughput is flat above ~64 KiB (bench/index_bench.cc), so
// the size is set by per-chunk costs elsewhere (one multicast group, one
// RaptorQ block and one mdex entry per chunk) against read amplification.
inline constexpr uint32_t kDefaultChunkSize = 1u << 20;
// Largest file size lcfs represents (the largest off_t).
inline constexpr uint64_t kMaxFileSize = (uint64_t{1} << 63) - 1;

// OK if `chunk_size` is a power of two in [kMinChunkSize, kMaxChunkSize].
Status ValidateChunkSize(uint64_t chunk_size);

// Parses a size ("1048576", "64K", "1M", "16MiB": the rule of
// lcfs/byte_size.h) and validates it as a chunk size.
Result<uint32_t> ParseChunkSize(std::string_view text);

// log2 of a valid chunk size (12..24), as stored in directory objects.
uint8_t ChunkSizeLog2(uint32_t chunk_size);

// Number of chunks of a file of `file_size` bytes: ceil(size / chunk_size).
inline uint64_t ChunkCount(uint64_t file_size, uint32_t chunk_size) {
  return file_size / chunk_size + (file_size % chunk_size != 0);
}

// Length of chunk `index` (< ChunkCount) of a file of `file_size` bytes.
inline uint32_t ChunkLength(uint64_t file_size, uint32_t chunk_size, uint64_t index) {
  const uint64_t start = index * chunk_size;
  const uint64_t left = file_size - start;
  return static_cast<uint32_t>(left < chunk_size ? left : chunk_size);
}

// Child hashes per Merkle tree node: a full node is exactly one chunk long.
inline uint32_t TreeFanout(uint32_t chunk_size) { return chunk_size / 32; }

}  // namespace lcfs::index
