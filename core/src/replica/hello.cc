#include "replica/hello.h"

namespace lcfs::replica {
namespace {

constexpr char kGroupDomain[] = "lcfs-replica-group-v1";

void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
void Put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}
uint64_t Get(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | p[i];
  return v;
}

}  // namespace

HelloBytes EncodeHello(const Hello& hello) {
  HelloBytes b{};
  b[0] = 0x4c;
  b[1] = 0x43;
  b[2] = 1;
  b[3] = kHelloPacketType;
  b[4] = hello.active ? 1 : 0;
  b[5] = 0;
  Put16(&b[6], hello.hold_ms);
  Put64(&b[8], hello.instance);
  for (size_t i = 0; i < Hash::kSize; ++i) b[16 + i] = hello.root.bytes[i];
  Put32(&b[48], hello.sequence);
  return b;
}

std::string_view HelloDropName(HelloDrop drop) {
  switch (drop) {
    case HelloDrop::kNone:
      return "none";
    case HelloDrop::kWrongSize:
      return "wrong size";
    case HelloDrop::kBadMagic:
      return "bad magic";
    case HelloDrop::kBadVersion:
      return "unsupported version";
    case HelloDrop::kNotHello:
      return "not a hello";
    case HelloDrop::kBadState:
      return "bad state";
    case HelloDrop::kReserved:
      return "reserved bits set";
  }
  return "unknown";
}

HelloDrop ParseHello(std::span<const uint8_t> d, Hello* out) {
  if (d.size() != kHelloSize) return HelloDrop::kWrongSize;
  if (d[0] != 0x4c || d[1] != 0x43) return HelloDrop::kBadMagic;
  if (d[2] != 1) return HelloDrop::kBadVersion;
  if (d[3] != kHelloPacketType) return HelloDrop::kNotHello;
  if (d[4] > 1) return HelloDrop::kBadState;
  if (d[5] != 0) return HelloDrop::kReserved;
  Hello h;
  h.active = d[4] == 1;
  h.hold_ms = static_cast<uint16_t>(Get(&d[6], 2));
  h.instance = Get(&d[8], 8);
  h.root = Hash::FromBytes(std::span<const uint8_t, Hash::kSize>(d.data() + 16, Hash::kSize));
  h.sequence = static_cast<uint32_t>(Get(&d[48], 4));
  *out = h;
  return HelloDrop::kNone;
}

net::Ipv6Address ReplicaGroup() {
  const Hash d = Sha256Of(std::string_view(kGroupDomain));
  net::Ipv6Address g;
  g.bytes[0] = 0xff;
  g.bytes[1] = 0x12;
  for (size_t i = 0; i < 14; ++i) g.bytes[2 + i] = d.bytes[i];
  return g;
}

}  // namespace lcfs::replica
