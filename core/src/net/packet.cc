#include "lcfs/net/packet.h"

#include <cstring>
#include <iterator>
#include <string>

#include "lcfs/byte_reader.h"

namespace lcfs::net {

ObjectId ObjectIdOf(const Hash& object) {
  ObjectId id;
  std::memcpy(id.data(), object.bytes.data(), id.size());
  return id;
}

const char* PacketDropName(PacketDrop reason) {
  static constexpr const char* kNames[] = {
      "accepted",
      "too short",
      "bad magic",
      "unsupported version",
      "unknown type",
      "unknown object kind",
      "reserved bytes not zero",
      "bad symbol size",
      "foreign object",
      "wrong object kind",
  };
  static_assert(std::size(kNames) == kPacketDropReasons);
  const auto i = static_cast<size_t>(reason);
  return i < std::size(kNames) ? kNames[i] : "?";
}

uint64_t PacketCounters::dropped_total() const {
  uint64_t n = 0;
  for (uint64_t d : dropped) n += d;
  return n;
}

namespace {
bool KnownKind(uint8_t k) {
  return k == static_cast<uint8_t>(ObjectKind::kChunk) ||
         k == static_cast<uint8_t>(ObjectKind::kTreeNode) ||
         k == static_cast<uint8_t>(ObjectKind::kDirectory);
}
}  // namespace

Result<size_t> EncodePacket(const PacketHeader& header, std::span<const uint8_t> symbol,
                            std::span<uint8_t> out) {
  const size_t t = header.symbol_size();
  if (t == 0 || t > kMaxSymbolSize || symbol.size() != t)
    return Status::Error(EINVAL, "encode packet: symbol of " + std::to_string(symbol.size()) +
                                     " bytes with T=" + std::to_string(t) + " (max " +
                                     std::to_string(kMaxSymbolSize) + ")");
  if (!KnownKind(static_cast<uint8_t>(header.kind)) || header.type != PacketType::kSymbol)
    return Status::Error(EINVAL, "encode packet: unknown kind or type");
  const size_t total = kPacketHeaderSize + t;
  if (out.size() < total)
    return Status::Error(ENOBUFS, "encode packet: needs " + std::to_string(total) + " bytes");
  ByteWriter w(out);
  w.Bytes(kPacketMagic);
  w.U8(kPacketVersion);
  w.U8(static_cast<uint8_t>(header.type));
  w.U8(static_cast<uint8_t>(header.kind));
  w.Zeros(3);
  w.Bytes(header.object_id);
  w.Bytes(header.oti);
  w.Bytes(header.payload_id);
  w.Bytes(symbol);
  return w.written();
}

Result<std::vector<uint8_t>> EncodePacket(const PacketHeader& header,
                                          std::span<const uint8_t> symbol) {
  std::vector<uint8_t> out(kPacketHeaderSize + symbol.size());
  auto n = EncodePacket(header, symbol, out);
  if (!n.ok()) return n.status();
  return out;
}

PacketDrop ParsePacket(std::span<const uint8_t> d, PacketView* out) {
  // Checks go from "not ours at all" to "ours but unusable", so counters
  // tell foreign noise from a peer speaking another version.
  if (d.size() < kPacketHeaderSize) {
    return d.size() >= 2 && (d[0] != kPacketMagic[0] || d[1] != kPacketMagic[1])
               ? PacketDrop::kBadMagic
               : PacketDrop::kTooShort;
  }
  if (d[0] != kPacketMagic[0] || d[1] != kPacketMagic[1]) return PacketDrop::kBadMagic;
  if (d[2] != kPacketVersion) return PacketDrop::kBadVersion;
  if (d[3] != static_cast<uint8_t>(PacketType::kSymbol)) return PacketDrop::kBadType;
  if (!KnownKind(d[4])) return PacketDrop::kBadKind;
  if (d[5] | d[6] | d[7]) return PacketDrop::kReservedNotZero;
  PacketView v;
  v.header.type = PacketType::kSymbol;
  v.header.kind = static_cast<ObjectKind>(d[4]);
  // The header's length was checked above, so these reads cannot fail.
  ByteReader in(d.subspan(8));
  in.Array(&v.header.object_id);
  in.Array(&v.header.oti);
  in.Array(&v.header.payload_id);
  const size_t t = v.header.symbol_size();
  if (t == 0 || t > kMaxSymbolSize || in.left() != t) return PacketDrop::kBadSymbolSize;
  v.symbol = in.rest();
  if (out) *out = v;
  return PacketDrop::kNone;
}

PacketDrop ParsePacketFor(std::span<const uint8_t> datagram, const Hash& object, ObjectKind kind,
                          PacketView* out, PacketCounters* counters) {
  PacketView v;
  PacketDrop r = ParsePacket(datagram, &v);
  if (r == PacketDrop::kNone) {
    if (std::memcmp(v.header.object_id.data(), object.bytes.data(), kObjectIdSize) != 0) {
      r = PacketDrop::kForeignObject;
    } else if (v.header.kind != kind) {
      r = PacketDrop::kWrongKind;
    } else if (out) {
      *out = v;
    }
  }
  if (counters) counters->Count(r);
  return r;
}

}  // namespace lcfs::net
