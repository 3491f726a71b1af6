#include "lcfs/channel/record.h"

#include <algorithm>
#include <cstring>

namespace lcfs::channel {

namespace {

constexpr uint8_t kMagic[2] = {0x4c, 0x43};
constexpr uint8_t kVersion = 1;
constexpr size_t kDomainSize = sizeof kRecordDomain - 1;

void Put(uint8_t* p, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
uint64_t Get(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | p[i];
  return v;
}

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
  b[0] = kMagic[0];
  b[1] = kMagic[1];
  b[2] = kVersion;
  b[3] = kRecordPacketType;
  std::copy(r.channel.key.begin(), r.channel.key.end(), b.begin() + 8);
  std::copy(r.root.bytes.begin(), r.root.bytes.end(), b.begin() + 40);
  Put(&b[72], r.sequence, 8);
  Put(&b[80], r.time, 8);
  Put(&b[88], r.validity, 4);
  std::copy(r.signature.begin(), r.signature.end(), b.begin() + kRecordSignedSize);
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
  Record r;
  std::copy_n(d.begin() + 8, kPublicKeySize, r.channel.key.begin());
  std::copy_n(d.begin() + 40, Hash::kSize, r.root.bytes.begin());
  r.sequence = Get(&d[72], 8);
  r.time = Get(&d[80], 8);
  r.validity = static_cast<uint32_t>(Get(&d[88], 4));
  std::copy_n(d.begin() + kRecordSignedSize, kSignatureSize, r.signature.begin());
  if (r.validity == 0) return RecordDrop::kZeroValidity;
  *out = r;
  return RecordDrop::kNone;
}

const char* RecordDropName(RecordDrop reason) {
  switch (reason) {
    case RecordDrop::kNone:
      return "accepted";
    case RecordDrop::kRepeat:
      return "repeat";
    case RecordDrop::kBadSize:
      return "bad size";
    case RecordDrop::kBadMagic:
      return "bad magic";
    case RecordDrop::kBadVersion:
      return "unsupported version";
    case RecordDrop::kBadType:
      return "not a record";
    case RecordDrop::kReservedNotZero:
      return "reserved not zero";
    case RecordDrop::kZeroValidity:
      return "zero validity";
    case RecordDrop::kWrongChannel:
      return "wrong channel";
    case RecordDrop::kBadSignature:
      return "bad signature";
    case RecordDrop::kOldSequence:
      return "old sequence";
    case RecordDrop::kExpired:
      return "expired";
    case RecordDrop::kFuture:
      return "from the future";
  }
  return "unknown";
}

uint64_t RecordCounters::dropped() const {
  uint64_t n = 0;
  for (size_t i = 2; i < kRecordDropReasons; ++i) n += count[i];
  return n;
}

}  // namespace lcfs::channel
