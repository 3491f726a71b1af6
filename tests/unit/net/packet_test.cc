#include "lcfs/net/packet.h"

#include <gtest/gtest.h>

#include <string>

namespace lcfs::net {
namespace {

std::vector<uint8_t> FromHex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

Hash ChunkHash() {
  return *Hash::FromHex("8a2a5c9b768827de5a9552c38a044c66959c68f6d2f21b5260af54d2f87db827");
}

// OTI: F = 1,000,000, T = 4, Z = 1, N = 1, Al = 4. Payload ID: SBN 0, ESI 7.
PacketHeader VectorHeader() {
  PacketHeader h;
  h.kind = ObjectKind::kChunk;
  h.object_id = ObjectIdOf(ChunkHash());
  h.oti = {0x00, 0x00, 0x0f, 0x42, 0x40, 0x00, 0x00, 0x04, 0x01, 0x00, 0x01, 0x04};
  h.payload_id = {0x00, 0x00, 0x00, 0x07};
  return h;
}

// The vector of docs/protocol.md section 7.
const char kVectorHex[] =
    "4c430101000000008a2a5c9b768827de5a9552c38a044c6600000f424000000401000104"
    "0000000761626364";

TEST(Packet, EncodesProtocolVector) {
  const uint8_t symbol[] = {'a', 'b', 'c', 'd'};
  auto p = EncodePacket(VectorHeader(), symbol);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(ToHex(*p), kVectorHex);
}

TEST(Packet, ParsesProtocolVector) {
  const auto bytes = FromHex(kVectorHex);
  PacketView v;
  ASSERT_EQ(ParsePacket(bytes, &v), PacketDrop::kNone);
  EXPECT_EQ(v.header.kind, ObjectKind::kChunk);
  EXPECT_EQ(v.header.object_id, ObjectIdOf(ChunkHash()));
  EXPECT_EQ(v.header.oti, VectorHeader().oti);
  EXPECT_EQ(v.header.payload_id, VectorHeader().payload_id);
  EXPECT_EQ(v.header.symbol_size(), 4);
  EXPECT_EQ(std::string(v.symbol.begin(), v.symbol.end()), "abcd");
}

TEST(Packet, FullSizeSymbolFitsTheMtu) {
  PacketHeader h = VectorHeader();
  h.oti[6] = kMaxSymbolSize >> 8;
  h.oti[7] = kMaxSymbolSize & 0xff;
  std::vector<uint8_t> symbol(kMaxSymbolSize, 0x5a);
  auto p = EncodePacket(h, symbol);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->size() + 40 + 8, 1500u);
  EXPECT_EQ(ParsePacket(*p, nullptr), PacketDrop::kNone);
  symbol.push_back(0);
  h.oti[7] += 1;
  EXPECT_EQ(EncodePacket(h, symbol).status().code(), EINVAL);
}

TEST(Packet, EncodeRejectsMismatchedSymbolAndSmallBuffer) {
  const uint8_t three[] = {1, 2, 3};
  EXPECT_EQ(EncodePacket(VectorHeader(), three).status().code(), EINVAL);
  const uint8_t four[] = {1, 2, 3, 4};
  std::vector<uint8_t> small(kPacketHeaderSize + 3);
  EXPECT_EQ(EncodePacket(VectorHeader(), four, small).status().code(), ENOBUFS);
}

struct Corruption {
  const char* name;
  size_t offset;  // byte to change, or SIZE_MAX to truncate by one
  uint8_t value;
  PacketDrop expected;
};

TEST(Packet, DropsEachKindOfMalformedPacketWithItsReason) {
  const Corruption cases[] = {
      {"magic", 0, 0x00, PacketDrop::kBadMagic},
      {"magic2", 1, 0x44, PacketDrop::kBadMagic},
      {"version", 2, 2, PacketDrop::kBadVersion},
      {"type", 3, 0, PacketDrop::kBadType},
      {"kind", 4, 3, PacketDrop::kBadKind},
      {"reserved", 6, 1, PacketDrop::kReservedNotZero},
      {"T zero", 31, 0, PacketDrop::kBadSymbolSize},
      {"T larger", 31, 5, PacketDrop::kBadSymbolSize},
      {"truncated", SIZE_MAX, 0, PacketDrop::kBadSymbolSize},
  };
  for (const auto& c : cases) {
    auto bytes = FromHex(kVectorHex);
    if (c.offset == SIZE_MAX) {
      bytes.pop_back();
    } else {
      bytes[c.offset] = c.value;
    }
    EXPECT_EQ(ParsePacket(bytes, nullptr), c.expected) << c.name;
  }
  auto bytes = FromHex(kVectorHex);
  for (size_t n = 0; n < kPacketHeaderSize; ++n)
    EXPECT_EQ(ParsePacket(std::span(bytes.data(), n), nullptr), PacketDrop::kTooShort) << n;
  EXPECT_STREQ(PacketDropName(PacketDrop::kBadMagic), "bad magic");
}

TEST(Packet, ParseForRejectsForeignObjectsAndWrongKindAndCounts) {
  const auto bytes = FromHex(kVectorHex);
  PacketCounters counters;
  PacketView v;
  EXPECT_EQ(ParsePacketFor(bytes, ChunkHash(), ObjectKind::kChunk, &v, &counters),
            PacketDrop::kNone);
  Hash other = ChunkHash();
  other.bytes[15] ^= 0x80;  // inside the 16-byte id
  EXPECT_EQ(ParsePacketFor(bytes, other, ObjectKind::kChunk, &v, &counters),
            PacketDrop::kForeignObject);
  EXPECT_EQ(ParsePacketFor(bytes, ChunkHash(), ObjectKind::kDirectory, &v, &counters),
            PacketDrop::kWrongKind);
  auto bad = bytes;
  bad[0] = 0;
  EXPECT_EQ(ParsePacketFor(bad, ChunkHash(), ObjectKind::kChunk, &v, &counters),
            PacketDrop::kBadMagic);
  EXPECT_EQ(counters.accepted, 1u);
  EXPECT_EQ(counters[PacketDrop::kForeignObject], 1u);
  EXPECT_EQ(counters[PacketDrop::kWrongKind], 1u);
  EXPECT_EQ(counters[PacketDrop::kBadMagic], 1u);
  EXPECT_EQ(counters.dropped_total(), 3u);
}

}  // namespace
}  // namespace lcfs::net
