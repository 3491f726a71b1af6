// ObjectAssembler without a network: packets built with the encoder.
#include "sync/object_assembler.h"

#include <gtest/gtest.h>

#include <random>

#include "lcfs/fec/encoder.h"
#include "lcfs/fec/payload_id.h"
#include "lcfs/net/packet.h"

namespace lcfs::sync {
namespace {

struct Sender {
  std::vector<uint8_t> object;
  Hash hash;
  fec::Oti oti;
  std::optional<fec::ObjectEncoder> encoder;
  net::PacketHeader header;
  std::vector<uint8_t> symbol, datagram;

  Sender(size_t size, uint32_t seed, ObjectKind kind = ObjectKind::kChunk) {
    std::mt19937 rng(seed);
    object.resize(size);
    for (auto& b : object) b = static_cast<uint8_t>(rng());
    hash = ObjectHash(kind, object);
    oti = fec::Oti::ForObject(size, 256).value();
    encoder.emplace(fec::ObjectEncoder::Create(oti, object).value());
    header.kind = kind;
    header.object_id = net::ObjectIdOf(hash);
    header.oti = oti.Encode();
  }
  uint32_t k() const { return static_cast<uint32_t>((object.size() + 255) / 256); }
  // The packet for symbol `esi` of block 0, or random bytes of symbol size.
  net::PacketView Packet(uint32_t esi, bool garbage = false) {
    symbol.assign(oti.symbol_size, 0);
    if (garbage) {
      std::mt19937 rng(esi);
      for (auto& b : symbol) b = static_cast<uint8_t>(rng());
    } else {
      EXPECT_TRUE(encoder->Symbol(0, esi, symbol).ok());
    }
    header.payload_id = fec::PayloadId{0, esi}.Encode();
    datagram = net::EncodePacket(header, symbol).value();
    net::PacketView view;
    EXPECT_EQ(net::ParsePacket(datagram, &view), net::PacketDrop::kNone);
    return view;
  }
};

const net::Ipv6Address kExporter = net::Ipv6Address::Parse("fe80::1").value();
const net::Ipv6Address kHostile = net::Ipv6Address::Parse("fe80::666").value();

TEST(ObjectAssembler, DecodesFromRepairSymbolsAndVerifies) {
  Sender s(10000, 1);
  ObjectAssembler a(s.hash, ObjectKind::kChunk, 0, 1 << 20);
  bool done = false;
  for (uint32_t esi = 1000; !done && esi < 1000 + 2 * s.k(); ++esi)
    done = a.Add(s.Packet(esi), kExporter);
  ASSERT_TRUE(done);
  EXPECT_EQ(a.TakeObject(), s.object);
  EXPECT_EQ(a.counters().symbols_needed, s.k());
  EXPECT_EQ(a.counters().verify_failures, 0u);
}

TEST(ObjectAssembler, GarbageFromAnotherHostIsSeparatedAndCounted) {
  Sender s(5000, 2);
  ObjectAssembler a(s.hash, ObjectKind::kChunk, 0, 1 << 20);
  bool done = false;
  for (uint32_t esi = 0; !done && esi < 3 * s.k(); ++esi) {
    // The hostile host sends twice as fast as the exporter.
    EXPECT_FALSE(a.Add(s.Packet(esi, true), kHostile));
    EXPECT_FALSE(a.Add(s.Packet(esi + 100000, true), kHostile));
    done = a.Add(s.Packet(esi), kExporter);
  }
  ASSERT_TRUE(done);
  EXPECT_EQ(a.TakeObject(), s.object);
  EXPECT_GE(a.counters().verify_failures, 1u);
  EXPECT_GE(a.counters().discarded, s.k());
}

TEST(ObjectAssembler, GarbageUnderTheExportersAddressIsDiscardedThenRecovered) {
  Sender s(3000, 3);
  ObjectAssembler a(s.hash, ObjectKind::kChunk, 0, 1 << 20);
  // A decode spoiled by garbage (spoofed source): fails verification, resets.
  bool done = false;
  uint32_t esi = 0;
  for (; esi < s.k() + 5 && !a.complete(); ++esi) a.Add(s.Packet(esi, esi == 1), kExporter);
  EXPECT_FALSE(a.complete());
  EXPECT_EQ(a.counters().verify_failures, 1u);
  for (; !done && esi < 10 * s.k(); ++esi) done = a.Add(s.Packet(esi), kExporter);
  ASSERT_TRUE(done);
  EXPECT_EQ(a.TakeObject(), s.object);
}

TEST(ObjectAssembler, RefusesTheWrongSizeAndTooManySenders) {
  Sender s(3000, 4);
  ObjectAssembler sized(s.hash, ObjectKind::kChunk, 2999, 1 << 20);
  EXPECT_FALSE(sized.Add(s.Packet(0), kExporter));
  EXPECT_EQ(sized.counters().rejected, 1u);
  ObjectAssembler small_limit(s.hash, ObjectKind::kChunk, 0, 1000);
  EXPECT_FALSE(small_limit.Add(s.Packet(0), kExporter));
  EXPECT_EQ(small_limit.counters().rejected, 1u);

  ObjectAssembler a(s.hash, ObjectKind::kChunk, 0, 1 << 20);
  for (size_t i = 0; i < ObjectAssembler::kMaxCandidates + 3; ++i) {
    net::Ipv6Address src = kHostile;
    src.bytes[15] = static_cast<uint8_t>(i);
    a.Add(s.Packet(static_cast<uint32_t>(i), true), src);
  }
  EXPECT_EQ(a.counters().rejected, 3u);
}

}  // namespace
}  // namespace lcfs::sync
