// Object Transmission Information (RFC 6330 sections 3.3.2, 3.3.3, 4.3).
//
// The OTI is everything a receiver must know to decode an object: its length
// F, the symbol size T, the number of source blocks Z, the number of
// sub-blocks N and the symbol alignment Al. It travels as 12 bytes:
//
//   F (40 bits) | reserved (8 bits, 0) | T (16 bits) | Z (8) | N (16) | Al (8)
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "lcfs/status.h"

namespace lcfs::fec {

// Largest transfer length RFC 6330 allows (section 4.4.1.1).
inline constexpr uint64_t kMaxTransferLength = 946270874880ULL;
// Largest number of source symbols in one source block (K'max).
inline constexpr uint32_t kMaxSourceSymbols = 56403;
// Default working-set bound WS for Oti::ForObject: the largest sub-block a
// decoder holds in memory. 8 MiB keeps a whole 1 MiB chunk in one block with
// no sub-blocking at any T.
inline constexpr size_t kDefaultWorkingSet = 8u << 20;
// Lower bound on the sub-symbol size, as a multiple of Al (RFC 6330 4.3, SS).
inline constexpr uint32_t kDefaultSubSymbolFactor = 8;

// K' for a source block of k symbols: the smallest entry of RFC 6330's
// Table 2 that is >= k (0 if k is 0 or > K'max). Encoders pad each block
// with K' - K zero symbols; repair symbol ESI e is internal index e + K' - K.
uint32_t ExtendedBlockSize(uint32_t k);

struct Oti {
  uint64_t transfer_length = 0;  // F, bytes
  uint16_t symbol_size = 0;      // T, bytes, a multiple of alignment
  uint8_t source_blocks = 0;     // Z
  uint16_t sub_blocks = 0;       // N
  uint8_t alignment = 0;         // Al

  static constexpr size_t kEncodedSize = 12;

  // The parameters RFC 6330 section 4.3 derives for an object of `size` bytes
  // with symbols of `symbol_size` bytes: Z and N so that every sub-block fits
  // in `working_set` bytes. Fails if T is not a positive multiple of Al or
  // the object is too large for T.
  static Result<Oti> ForObject(uint64_t size, uint16_t symbol_size, uint8_t alignment = 4,
                               size_t working_set = kDefaultWorkingSet);

  // Checks every constraint RFC 6330 puts on the fields, plus that every
  // source block has at most K'max symbols and every sub-symbol at least Al
  // bytes. F = 0 is rejected: there is nothing to transmit.
  Status Validate() const;

  std::array<uint8_t, kEncodedSize> Encode() const;
  // Strict: exactly 12 bytes, reserved byte zero, Validate() passes.
  static Result<Oti> Decode(std::span<const uint8_t> bytes);

  std::string ToHex() const;
  static Result<Oti> FromHex(std::string_view hex);

  friend bool operator==(const Oti&, const Oti&) = default;
};

// The one OTI lcfs sends an object of `size` bytes with (docs/protocol.md
// sections 5.2 and 9), so that a receiver that knows an object's size knows
// its OTI and refuses packets announcing any other before they cost memory.
// Al = kObjectAlignment; T = kObjectSymbolSize, the largest multiple of Al
// that fits one packet in a 1500-byte MTU (section 7), or for shorter
// objects F rounded up to Al (one symbol); Z and N from ForObject with the
// default working set. EINVAL for size 0, EFBIG for objects too large.
inline constexpr uint8_t kObjectAlignment = 4;
inline constexpr uint16_t kObjectSymbolSize = 1412;
Result<Oti> OtiForObject(uint64_t size);

}  // namespace lcfs::fec
