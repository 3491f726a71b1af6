// FEC Payload ID (RFC 6330 section 3.2): which symbol a packet carries.
//
//   SBN (8 bits) | ESI (24 bits), big-endian
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "lcfs/status.h"

namespace lcfs::fec {

inline constexpr uint32_t kMaxEsi = (1u << 24) - 1;

struct PayloadId {
  uint8_t sbn = 0;   // source block number
  uint32_t esi = 0;  // encoding symbol ID, < 2^24

  static constexpr size_t kEncodedSize = 4;

  // esi must be <= kMaxEsi (higher bits are dropped otherwise).
  std::array<uint8_t, kEncodedSize> Encode() const;
  // Reads the first 4 bytes; fails if fewer are given.
  static Result<PayloadId> Decode(std::span<const uint8_t> bytes);

  friend bool operator==(const PayloadId&, const PayloadId&) = default;
};

}  // namespace lcfs::fec
