// Replica hellos: the datagram by which exporters of one tree on one link
// find each other and elect the one that sends (docs/protocol.md section 14).
// All integers big-endian.
//
//   off len field
//    0   2  magic "LC" (0x4c 0x43)
//    2   1  version (1)
//    3   1  type (3 = replica hello)
//    4   1  state: 0 standby, 1 active
//    5   1  reserved, zero
//    6   2  hold time, milliseconds: the sender counts as gone this long
//           after the hello unless another one comes; 0 = leaving now
//    8   8  instance: random, drawn once per process (tells apart replicas
//           behind one address, and a process from its own hellos)
//   16  32  root HASH the sender serves (section 4)
//   48   4  sequence: +1 per hello of this instance (wraps)
//
// The parser checks the structure only; what a hello changes is the
// election's business (election.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "lcfs/hash.h"
#include "lcfs/net/address.h"

namespace lcfs::replica {

inline constexpr uint8_t kHelloPacketType = 3;
inline constexpr size_t kHelloSize = 52;

struct Hello {
  bool active = false;
  uint16_t hold_ms = 0;
  uint64_t instance = 0;
  Hash root;
  uint32_t sequence = 0;

  bool operator==(const Hello&) const = default;
};

using HelloBytes = std::array<uint8_t, kHelloSize>;

HelloBytes EncodeHello(const Hello& hello);

// Why a datagram is not a hello. Every reason is counted by the caller.
enum class HelloDrop : uint8_t {
  kNone = 0,
  kWrongSize,   // not exactly 52 bytes
  kBadMagic,    // not "LC"
  kBadVersion,  // not 1
  kNotHello,    // another lcfs type (symbol, channel record)
  kBadState,    // state not 0 or 1
  kReserved,    // reserved byte set
};
std::string_view HelloDropName(HelloDrop drop);

// Parses `datagram` into *out (left alone unless kNone is returned).
HelloDrop ParseHello(std::span<const uint8_t> datagram, Hello* out);

// The link-scope group every exporter sends its hellos to and listens on:
// ff12 (transient, link scope) || SHA-256("lcfs-replica-group-v1")[0..14).
net::Ipv6Address ReplicaGroup();

}  // namespace lcfs::replica
