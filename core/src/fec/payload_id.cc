#include "lcfs/fec/payload_id.h"

namespace lcfs::fec {

std::array<uint8_t, PayloadId::kEncodedSize> PayloadId::Encode() const {
  return {sbn, static_cast<uint8_t>(esi >> 16), static_cast<uint8_t>(esi >> 8),
          static_cast<uint8_t>(esi)};
}

Result<PayloadId> PayloadId::Decode(std::span<const uint8_t> b) {
  if (b.size() < kEncodedSize) {
    return Status::Error(EINVAL, "fec payload id: " + std::to_string(b.size()) + " bytes, want 4");
  }
  return PayloadId{b[0], uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3]};
}

}  // namespace lcfs::fec
