// Fuzzes the receive path of the sync engine: arbitrary datagrams through the
// packet parser into an ObjectAssembler. Must never crash, never allocate
// beyond its limits, and never report an object whose hash does not match.
#include <cstddef>
#include <cstdint>
#include <span>

#include "lcfs/net/packet.h"
#include "sync/decoder_budget.h"
#include "sync/object_assembler.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lcfs;
  // The input is a series of datagrams, each prefixed by a 2-byte length and
  // a 1-byte source selector.
  const Hash target = Sha256Of("fuzz target");
  // The first byte picks a known size (the OTI is then fixed) or none.
  if (size == 0) return 0;
  const uint64_t expected = data[0] & 1 ? 0 : 1 + data[0] * 997u;
  data += 1;
  size -= 1;
  constexpr uint64_t kBudget = 3 << 20;
  sync::DecoderBudget budget(kBudget);
  sync::ObjectAssembler assembler(target, ObjectKind::kChunk, expected, 1 << 20, &budget);
  std::span<const uint8_t> in(data, size);
  while (in.size() >= 3) {
    const size_t len = std::min<size_t>(in.size() - 3, size_t{in[0]} << 8 | in[1]);
    net::Ipv6Address source;
    source.bytes[0] = 0xfe;
    source.bytes[1] = 0x80;
    source.bytes[15] = in[2] & 7;
    auto datagram = in.subspan(3, len);
    in = in.subspan(3 + len);
    net::PacketView view;
    if (net::ParsePacket(datagram, &view) != net::PacketDrop::kNone) continue;
    const bool done = assembler.Add(view, source);
    if (budget.used() > kBudget || assembler.decoders() > sync::ObjectAssembler::kMaxCandidates)
      __builtin_trap();
    if (done) {
      auto bytes = assembler.TakeObject();
      if (ObjectHash(ObjectKind::kChunk, bytes) != target) __builtin_trap();
      break;
    }
  }
  return 0;
}
