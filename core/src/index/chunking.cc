#include "lcfs/index/chunking.h"

#include <bit>
#include <charconv>
#include <string>

namespace lcfs {

Status ValidateChunkSize(uint64_t chunk_size) {
  if (chunk_size < kMinChunkSize || chunk_size > kMaxChunkSize ||
      !std::has_single_bit(chunk_size)) {
    return Status::Error(EINVAL, "chunk size " + std::to_string(chunk_size) +
                                     " is not a power of two from 4 KiB to 16 MiB");
  }
  return Status::Ok();
}

Result<uint32_t> ParseChunkSize(std::string_view text) {
  const std::string quoted = "chunk size '" + std::string(text) + "'";
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) {
    return Status::Error(EINVAL, quoted + ": expected a number with an optional K or M suffix");
  }
  std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  uint64_t scale = 1;
  if (!unit.empty()) {
    if (unit[0] == 'K' || unit[0] == 'k') {
      scale = 1u << 10;
    } else if (unit[0] == 'M' || unit[0] == 'm') {
      scale = 1u << 20;
    } else if (unit != "B") {
      return Status::Error(EINVAL, quoted + ": unknown unit '" + std::string(unit) + "'");
    }
    std::string_view rest = unit.substr(1);
    if (!rest.empty() && rest != "B" && rest != "iB") {
      return Status::Error(EINVAL, quoted + ": unknown unit '" + std::string(unit) + "'");
    }
  }
  if (value > kMaxChunkSize) return ValidateChunkSize(value).WithContext(quoted);
  value *= scale;
  LCFS_RETURN_IF_ERROR(ValidateChunkSize(value));
  return static_cast<uint32_t>(value);
}

uint8_t ChunkSizeLog2(uint32_t chunk_size) {
  return static_cast<uint8_t>(std::countr_zero(chunk_size));
}

}  // namespace lcfs
