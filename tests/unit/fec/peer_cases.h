// The objects used for the cross-check with the npm package `raptorq`
// (tests/interop/raptorq/peer.mjs) and for the vectors recorded from it
// (vectors/raptorq-1.7.24.txt).
#pragma once

#include <cstdint>
#include <ostream>
#include <vector>

#include "lcfs/fec/oti.h"

namespace lcfs::fec::testing {

struct PeerCase {
  uint64_t size;
  uint16_t mtu;
};

// K = K'; K < K'; a 1 MiB chunk; two unequal source blocks; sub-blocking (N = 2).
inline constexpr PeerCase kPeerCases[] = {
    {10000, 1000}, {10500, 1000}, {1 << 20, 1280}, {4000064, 64}, {12 << 20, 1024}};

inline void PrintTo(const PeerCase& c, std::ostream* os) {
  *os << "F=" << c.size << " MTU=" << c.mtu;
}

// Repair symbols per block the peer is asked for.
inline constexpr uint32_t kPeerRepair = 20;

// The peer's with_defaults(): T = MTU rounded down to 8, Al = 8, WS = 10 MiB.
inline Result<Oti> PeerOti(const PeerCase& c) {
  return Oti::ForObject(c.size, static_cast<uint16_t>(c.mtu - c.mtu % 8), 8, 10 << 20);
}

// Object bytes: the top byte of a 64-bit LCG (Knuth's MMIX constants) seeded
// with the size, so any language can rebuild them.
inline std::vector<uint8_t> PeerData(uint64_t size) {
  std::vector<uint8_t> v(size);
  uint64_t x = size;
  for (auto& b : v) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    b = static_cast<uint8_t>(x >> 56);
  }
  return v;
}

}  // namespace lcfs::fec::testing
