#include "lcfs/channel/record.h"

#include <algorithm>
#include <cstring>
#include <iterator>

#include "lcfs/byte_reader.h"

namespace lcfs::channel {

namespace {

constexpr uint8_t kMagic[2] = {0x4c, 0x43};
constexpr uint8_t kVersion = 1;
constexpr size_t kDomainSize = sizeof kRecordDomain - 1;

// The signed message: the domain string, then the record's first 92 bytes.
std::array<uint8_t, kDomainSize + kRecordSignedSize> SignedMessage(const RecordBytes& bytes) {
  std::array<uint8_t, kDomainSize + kRecordSignedSize> m{};
  std::memcpy(m.data(), kRecordDomain, kDomainSize);
  std::memcpy(m.data() + kDomainSize, bytes.data(), kRecordSignedSize);
  return m;
}

}  // namespace

RecordBytes EncodeRecord(const Record& r) {
  RecordBytes b{};
  ByteWriter w{std::span<uint8_t>(b)};
  w.Bytes(kMagic);
  w.U8(kVersion);
  w.U8(kRecordPacketType);
  w.Zeros(4);
  w.Bytes(r.channel.key);
  w.Bytes(r.root.bytes);
  w.U64(r.sequence);
  w.U64(r.time);
  w.U32(r.validity);
  w.Bytes(r.signature);
  return b;
}

void SignRecord(const SigningKey& key, Record* record) {
  record->channel = key.channel();
  record->signature = key.Sign(SignedMessage(EncodeRecord(*record)));
}

bool VerifyRecord(const Record& record) {
  return VerifySignature(record.channel, SignedMessage(EncodeRecord(record)), record.signature);
}

RecordDrop ParseRecord(std::span<const uint8_t> d, Record* out) {
  if (d.size() != kRecordSize) return RecordDrop::kBadSize;
  if (d[0] != kMagic[0] || d[1] != kMagic[1]) return RecordDrop::kBadMagic;
  if (d[2] != kVersion) return RecordDrop::kBadVersion;
  if (d[3] != kRecordPacketType) return RecordDrop::kBadType;
  if (d[4] | d[5] | d[6] | d[7]) return RecordDrop::kReservedNotZero;
  // The size is exact, so no read below can fail.
  ByteReader in(d.subspan(8));
  Record r;
  in.Array(&r.channel.key);
  in.Array(&r.root.bytes);
  r.sequence = in.U64().value_or(0);
  r.time = in.U64().value_or(0);
  r.validity = in.U32().value_or(0);
  in.Array(&r.signature);
  if (r.validity == 0) return RecordDrop::kZeroValidity;
  *out = r;
  return RecordDrop::kNone;
}

const char* RecordDropName(RecordDrop reason) {
  static constexpr const char* kNames[] = {
      "accepted",
      "repeat",
      "bad size",
      "bad magic",
      "unsupported version",
      "not a record",
      "reserved not zero",
      "zero validity",
      "wrong channel",
      "bad signature",
      "old sequence",
      "expired",
      "from the future",
  };
  static_assert(std::size(kNames) == kRecordDropReasons);
  const auto i = static_cast<size_t>(reason);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

uint64_t RecordCounters::dropped() const {
  uint64_t n = 0;
  for (size_t i = 2; i < kRecordDropReasons; ++i) n += count[i];
  return n;
}

}  // namespace lcfs::channel
