// Fuzzes the packet parser: any datagram is either dropped with a reason or
// parsed into a view that lies inside it and re-encodes to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "lcfs/net/packet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lcfs::net;
  const std::span<const uint8_t> in(data, size);
  PacketView v;
  const PacketDrop r = ParsePacket(in, &v);
  lcfs::Hash expected;
  if (size >= kPacketHeaderSize) std::memcpy(expected.bytes.data(), data + 8, kObjectIdSize);
  PacketCounters counters;
  ParsePacketFor(in, expected, lcfs::ObjectKind::kChunk, nullptr, &counters);
  if (counters.accepted + counters.dropped_total() != 1) abort();
  if (r != PacketDrop::kNone) return 0;
  if (v.symbol.data() != data + kPacketHeaderSize || v.symbol.size() != v.header.symbol_size())
    abort();
  auto again = EncodePacket(v.header, v.symbol);
  if (!again.ok() || again->size() != size || std::memcmp(again->data(), data, size) != 0) abort();
  return 0;
}
