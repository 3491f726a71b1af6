// Channel records: the signed datagram that tells readers a channel's
// current root (docs/protocol.md section 11). All integers big-endian.
//
//   off len field
//    0   2  magic "LC" (0x4c 0x43)
//    2   1  version (1)
//    3   1  type (2 = channel record)
//    4   4  reserved, zero
//    8  32  channel: the publisher's Ed25519 public key
//   40  32  root HASH (a directory object, section 4)
//   72   8  sequence number: grows with every record the key signs
//   80   8  time the record was signed, seconds since the Unix epoch (UTC)
//   88   4  validity, seconds (> 0): the record expires at time + validity
//   92  64  Ed25519 signature of "lcfs-channel-record-v1" || bytes 0..92
//
// The parser checks the structure only; whether a record is believed is the
// acceptor's business (record_acceptor.h), which verifies the signature.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "lcfs/channel/channel.h"
#include "lcfs/channel/signing_key.h"
#include "lcfs/hash.h"

namespace lcfs::channel {

inline constexpr uint8_t kRecordPacketType = 2;
inline constexpr size_t kRecordSignedSize = 92;
inline constexpr size_t kRecordSize = kRecordSignedSize + kSignatureSize;  // 156
inline constexpr char kRecordDomain[] = "lcfs-channel-record-v1";

struct Record {
  ChannelId channel;
  Hash root;
  uint64_t sequence = 0;
  uint64_t time = 0;      // seconds since the Unix epoch
  uint32_t validity = 0;  // seconds
  std::array<uint8_t, kSignatureSize> signature{};

  bool operator==(const Record&) const = default;
};

using RecordBytes = std::array<uint8_t, kRecordSize>;

// The datagram for `record`, with its signature field as it is.
RecordBytes EncodeRecord(const Record& record);
// Fills record->channel from `key` and record->signature by signing.
void SignRecord(const SigningKey& key, Record* record);
// True if the signature is the channel key's over the record's fields.
bool VerifyRecord(const Record& record);

// Why a record datagram was not accepted. kNone: accepted (a new root or a
// newer record of the same root); kRepeat: the record already accepted, sent
// again (the publisher repeats it for late joiners; not an error).
enum class RecordDrop : uint8_t {
  kNone = 0,
  kRepeat,           // identical to the last accepted record
  kBadSize,          // not exactly kRecordSize bytes
  kBadMagic,         // not "LC"
  kBadVersion,       // a version this build does not speak
  kBadType,          // not a channel record (an object symbol, say)
  kReservedNotZero,  // reserved bytes set
  kZeroValidity,     // validity 0: expired when signed
  kWrongChannel,     // signed (or claiming to be signed) by another key
  kBadSignature,     // the signature does not verify
  kOldSequence,      // sequence <= the last accepted one: a replay or a rollback
  kExpired,          // time + validity has passed
  kFuture,           // signed further ahead of our clock than the allowed skew
};
inline constexpr size_t kRecordDropReasons = 13;
const char* RecordDropName(RecordDrop reason);

struct RecordCounters {
  std::array<uint64_t, kRecordDropReasons> count{};

  void Count(RecordDrop r) { ++count[static_cast<size_t>(r)]; }
  uint64_t operator[](RecordDrop r) const { return count[static_cast<size_t>(r)]; }
  uint64_t accepted() const { return (*this)[RecordDrop::kNone]; }
  // Everything refused, repeats excluded.
  uint64_t dropped() const;
};

// Parses a datagram's structure (no signature check). Returns kNone and
// fills *out, or the reason it is malformed.
RecordDrop ParseRecord(std::span<const uint8_t> datagram, Record* out);

}  // namespace lcfs::channel
