#include "lcfs/index/chunking.h"

#include <bit>
#include <string>

#include "lcfs/byte_size.h"

namespace lcfs::index {

Status ValidateChunkSize(uint64_t chunk_size) {
  if (chunk_size < kMinChunkSize || chunk_size > kMaxChunkSize ||
      !std::has_single_bit(chunk_size)) {
    return Status::Error(EINVAL, "chunk size " + std::to_string(chunk_size) +
                                     " is not a power of two from 4 KiB to 16 MiB");
  }
  return Status::Ok();
}

Result<uint32_t> ParseChunkSize(std::string_view text) {
  auto size = ParseByteSize(text);
  if (!size.ok()) return size.status().WithContext("chunk size");
  LCFS_RETURN_IF_ERROR(ValidateChunkSize(*size));
  return static_cast<uint32_t>(*size);
}

uint8_t ChunkSizeLog2(uint32_t chunk_size) {
  return static_cast<uint8_t>(std::countr_zero(chunk_size));
}

}  // namespace lcfs::index
