// Packets: the one datagram lcfs sends, carrying one RaptorQ encoding symbol
// of one object (docs/protocol.md section 7). All fields big-endian.
//
//   off len field
//    0   2  magic "LC" (0x4c 0x43)
//    2   1  version (1)
//    3   1  type (1 = symbol)
//    4   1  object kind (lcfs::ObjectKind)
//    5   3  reserved, zero
//    8  16  object id: the first 16 bytes of the object's hash
//   24  12  OTI (RFC 6330 3.3.2 + 3.3.3), opaque here except T
//   36   4  FEC payload ID (SBN 8 bits, ESI 24 bits), opaque here
//   40   T  the symbol, exactly T bytes (T = OTI bytes 6..7)
//
// The parser is strict: anything else is dropped and counted by reason,
// never trusted. A valid packet still proves nothing about its symbol: the
// decoded object is verified against its hash.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/object.h"
#include "lcfs/status.h"

namespace lcfs::net {

inline constexpr uint8_t kPacketMagic[2] = {0x4c, 0x43};
inline constexpr uint8_t kPacketVersion = 1;
inline constexpr size_t kPacketHeaderSize = 40;
inline constexpr size_t kObjectIdSize = 16;
inline constexpr size_t kOtiSize = 12;
inline constexpr size_t kPayloadIdSize = 4;
// IPv6 (40) + UDP (8) + header within a 1500-byte MTU.
inline constexpr size_t kMaxSymbolSize = 1500 - 40 - 8 - kPacketHeaderSize;

enum class PacketType : uint8_t {
  kSymbol = 1,
};

using ObjectId = std::array<uint8_t, kObjectIdSize>;
ObjectId ObjectIdOf(const Hash& object);

struct PacketHeader {
  PacketType type = PacketType::kSymbol;
  ObjectKind kind = ObjectKind::kChunk;
  ObjectId object_id{};
  std::array<uint8_t, kOtiSize> oti{};
  std::array<uint8_t, kPayloadIdSize> payload_id{};

  // T, the symbol size, from the OTI (bytes 6..7).
  uint16_t symbol_size() const { return static_cast<uint16_t>(oti[6] << 8 | oti[7]); }
};

// A parsed packet; `symbol` points into the datagram it was parsed from.
struct PacketView {
  PacketHeader header;
  std::span<const uint8_t> symbol;
};

// Why a datagram was dropped. kNone: it was accepted.
enum class PacketDrop : uint8_t {
  kNone = 0,
  kTooShort,         // shorter than the header
  kBadMagic,         // not "LC": not ours at all
  kBadVersion,       // a version this build does not speak
  kBadType,          // unknown packet type
  kBadKind,          // unknown object kind
  kReservedNotZero,  // reserved bytes set: a future format we do not know
  kBadSymbolSize,    // symbol length is not T, or T is 0 or above kMaxSymbolSize
  kForeignObject,    // valid, but for an object we did not ask for
  kWrongKind,        // our object's id, but another kind
};
inline constexpr size_t kPacketDropReasons = 10;
const char* PacketDropName(PacketDrop reason);

// Per-reason counters, for statistics and tests.
struct PacketCounters {
  uint64_t accepted = 0;
  std::array<uint64_t, kPacketDropReasons> dropped{};

  void Count(PacketDrop reason) {
    if (reason == PacketDrop::kNone) {
      ++accepted;
    } else {
      ++dropped[static_cast<size_t>(reason)];
    }
  }
  uint64_t dropped_total() const;
  uint64_t operator[](PacketDrop reason) const { return dropped[static_cast<size_t>(reason)]; }
};

// Writes header and symbol into `out`; returns the datagram length. EINVAL if
// the symbol length is not header.symbol_size() or is out of range,
// ENOBUFS if `out` is too small.
Result<size_t> EncodePacket(const PacketHeader& header, std::span<const uint8_t> symbol,
                            std::span<uint8_t> out);
Result<std::vector<uint8_t>> EncodePacket(const PacketHeader& header,
                                          std::span<const uint8_t> symbol);

// Parses a datagram. Returns kNone and fills *out, or the drop reason.
PacketDrop ParsePacket(std::span<const uint8_t> datagram, PacketView* out);

// Parses and checks the packet is for `object` of `kind`; counts the outcome.
PacketDrop ParsePacketFor(std::span<const uint8_t> datagram, const Hash& object, ObjectKind kind,
                          PacketView* out, PacketCounters* counters);

}  // namespace lcfs::net
