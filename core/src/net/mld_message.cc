#include "net/mld_message.h"

#include <algorithm>
#include <iterator>
#include <string>

#include "lcfs/byte_reader.h"

namespace lcfs::net {

namespace {

constexpr size_t kRecordHead = 20;

Status Bad(const std::string& why) { return Status::Error(EBADMSG, "MLD message: " + why); }

}  // namespace

const char* RecordTypeName(RecordType t) {
  static constexpr const char* kNames[] = {
      "MODE_IS_INCLUDE",   "MODE_IS_EXCLUDE",   "CHANGE_TO_INCLUDE",
      "CHANGE_TO_EXCLUDE", "ALLOW_NEW_SOURCES", "BLOCK_OLD_SOURCES",
  };
  const auto i = static_cast<size_t>(t) - 1;  // types start at 1
  return i < std::size(kNames) ? kNames[i] : "?";
}

namespace {

// The floating-point codes of RFC 3810 5.1.3 (Maximum Response Code, 16
// bits) and 5.1.9 (QQIC, 8 bits): values below 2^(bits-1) as they are,
// others as 1 | exp (3) | mant (bits - 4), value = (mant | 1 << (bits - 4))
// << (exp + 3), rounded down; the largest code beyond.
uint32_t EncodeFloatCode(int64_t value, int bits) {
  if (value <= 0) return 0;
  if (value < int64_t{1} << (bits - 1)) return static_cast<uint32_t>(value);
  const int mant_bits = bits - 4;
  for (int exp = 0; exp < 8; ++exp) {
    const int64_t mant = value >> (exp + 3);
    if (mant < int64_t{2} << mant_bits)
      return 1u << (bits - 1) | static_cast<uint32_t>(exp) << mant_bits |
             static_cast<uint32_t>(mant & ((1 << mant_bits) - 1));
  }
  return (1u << bits) - 1;
}

int64_t DecodeFloatCode(uint32_t code, int bits) {
  if (code < 1u << (bits - 1)) return code;
  const int mant_bits = bits - 4;
  const int exp = static_cast<int>(code >> mant_bits) & 0x7;
  const int64_t mant = code & ((1u << mant_bits) - 1);
  return (mant | int64_t{1} << mant_bits) << (exp + 3);
}

}  // namespace

uint16_t EncodeMaxResponseCode(Millis delay) {
  return static_cast<uint16_t>(EncodeFloatCode(delay.count(), 16));
}

Millis DecodeMaxResponseCode(uint16_t code) { return Millis(DecodeFloatCode(code, 16)); }

uint8_t EncodeQqic(std::chrono::seconds interval) {
  return static_cast<uint8_t>(EncodeFloatCode(interval.count(), 8));
}

std::chrono::seconds DecodeQqic(uint8_t code) {
  return std::chrono::seconds(DecodeFloatCode(code, 8));
}

Result<MldMessage> ParseMldMessage(std::span<const uint8_t> m) {
  if (m.size() < 4) return Bad("shorter than an ICMPv6 header");
  ByteReader in(m);
  const uint8_t type = in.U8().value_or(0);
  // The Code field is "ignored by receivers" (RFC 3810 5.1.2, 5.2.2); the
  // checksum is the kernel's.
  in.Skip(3);
  MldMessage out;
  switch (type) {
    case static_cast<uint8_t>(MldType::kQuery): {
      out.type = MldType::kQuery;
      MldQuery& q = out.query;
      const auto max_response = in.U16();
      if (!max_response || !in.Skip(2) || !in.Array(&q.group.bytes))
        return Bad("query shorter than 24 bytes");
      q.max_response_delay = DecodeMaxResponseCode(*max_response);
      if (!q.group.IsUnspecified() && !q.group.IsMulticast())
        return Bad("query for non-multicast address " + q.group.ToString());
      if (in.left() == 0) {
        q.version = 1;
        return out;
      }
      // RFC 3810 8.1: 25..27 bytes is neither version.
      const auto flags = in.U8(), qqic = in.U8();
      const auto n = in.U16();
      if (!flags || !qqic || !n) return Bad("query of " + std::to_string(m.size()) + " bytes");
      q.version = 2;
      q.suppress_router_processing = (*flags & 0x08) != 0;
      q.robustness = *flags & 0x07;
      q.query_interval = DecodeQqic(*qqic);
      if (size_t{16} * *n > in.left())
        return Bad("query lists " + std::to_string(*n) + " sources beyond its end");
      if (*n && q.group.IsUnspecified()) return Bad("general query with sources");
      q.sources.resize(*n);
      for (Ipv6Address& source : q.sources) in.Array(&source.bytes);
      // Octets beyond the sources are ignored (RFC 3810 5.1.12).
      return out;
    }
    case static_cast<uint8_t>(MldType::kV1Report):
    case static_cast<uint8_t>(MldType::kV1Done): {
      out.type = static_cast<MldType>(type);
      MldRecord r;
      if (!in.Skip(4) || !in.Array(&r.group.bytes))
        return Bad("MLDv1 message shorter than 24 bytes");
      if (!r.group.IsMulticast())
        return Bad("MLDv1 message for non-multicast " + r.group.ToString());
      // RFC 3810 8.3.2: Report = IS_EX({}), Done = TO_IN({}).
      r.type = out.type == MldType::kV1Report ? RecordType::kModeIsExclude
                                              : RecordType::kChangeToInclude;
      out.records.push_back(std::move(r));
      return out;
    }
    case static_cast<uint8_t>(MldType::kV2Report): {
      out.type = MldType::kV2Report;
      const auto count = in.Skip(2) ? in.U16() : std::nullopt;
      if (!count) return Bad("MLDv2 report shorter than 8 bytes");
      // Each record takes at least 20 bytes: reject before allocating.
      if (kRecordHead * *count > in.left())
        return Bad("report claims " + std::to_string(*count) + " records beyond its end");
      out.records.reserve(*count);
      for (size_t i = 0; i < *count; ++i) {
        MldRecord r;
        const auto record_type = in.U8(), aux_words = in.U8();
        const auto nsrc = in.U16();
        if (!record_type || !aux_words || !nsrc || !in.Array(&r.group.bytes))
          return Bad("record " + std::to_string(i) + " truncated");
        const size_t aux = size_t{*aux_words} * 4;
        if (size_t{16} * *nsrc + aux > in.left())
          return Bad("record " + std::to_string(i) + " lists sources beyond the message");
        if (!r.group.IsMulticast())
          return Bad("record " + std::to_string(i) + " for non-multicast " + r.group.ToString());
        r.sources.resize(*nsrc);
        for (Ipv6Address& a : r.sources) {
          in.Array(&a.bytes);
          if (a.IsMulticast() || a.IsUnspecified())
            return Bad("record " + std::to_string(i) + " has invalid source " + a.ToString());
        }
        in.Skip(aux);
        // Unknown record types are skipped, as RFC 3810 5.2.12 lets receivers.
        if (*record_type < 1 || *record_type > 6) continue;
        r.type = static_cast<RecordType>(*record_type);
        out.records.push_back(std::move(r));
      }
      return out;
    }
    default:
      return Bad("ICMPv6 type " + std::to_string(type) + " is not MLD");
  }
}

std::vector<uint8_t> EncodeMldv2Query(const MldQuery& q) {
  std::vector<uint8_t> out;
  ByteWriter w(&out);
  w.U8(static_cast<uint8_t>(MldType::kQuery));
  w.Zeros(3);  // code, checksum
  w.U16(EncodeMaxResponseCode(q.max_response_delay));
  w.Zeros(2);  // reserved
  w.Bytes(q.group.bytes);
  const int qrv = q.robustness >= 1 && q.robustness <= 7 ? q.robustness : 0;
  w.U8(static_cast<uint8_t>((q.suppress_router_processing ? 0x08 : 0) | qrv));
  // QQIC is in whole seconds; intervals below a second (tests) round up to 1.
  const auto qqi = std::chrono::ceil<std::chrono::seconds>(q.query_interval);
  w.U8(EncodeQqic(std::max(qqi, std::chrono::seconds(1))));
  w.U16(static_cast<uint16_t>(q.sources.size()));
  for (const auto& s : q.sources) w.Bytes(s.bytes);
  return out;
}

std::vector<uint8_t> EncodeMldv2Report(std::span<const MldRecord> records) {
  std::vector<uint8_t> out;
  ByteWriter w(&out);
  w.U8(static_cast<uint8_t>(MldType::kV2Report));
  w.Zeros(5);  // code, checksum, reserved
  w.U16(static_cast<uint16_t>(records.size()));
  for (const auto& r : records) {
    w.U8(static_cast<uint8_t>(r.type));
    w.U8(0);  // no aux data
    w.U16(static_cast<uint16_t>(r.sources.size()));
    w.Bytes(r.group.bytes);
    for (const auto& s : r.sources) w.Bytes(s.bytes);
  }
  return out;
}

std::vector<uint8_t> EncodeMldv1(MldType type, const Ipv6Address& group, Millis max_delay) {
  std::vector<uint8_t> out;
  ByteWriter w(&out);
  w.U8(static_cast<uint8_t>(type));
  w.Zeros(3);  // code, checksum
  w.U16(static_cast<uint16_t>(std::min<int64_t>(max_delay.count(), 0xffff)));
  w.Zeros(2);  // reserved
  w.Bytes(group.bytes);
  return out;
}

uint16_t Icmpv6Checksum(const Ipv6Address& src, const Ipv6Address& dst,
                        std::span<const uint8_t> icmp) {
  uint32_t sum = 0;
  auto add = [&sum](const uint8_t* p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    if (n & 1) sum += static_cast<uint32_t>(p[n - 1] << 8);
  };
  add(src.bytes.data(), 16);
  add(dst.bytes.data(), 16);
  const uint32_t len = static_cast<uint32_t>(icmp.size());
  sum += len >> 16;
  sum += len & 0xffff;
  sum += 58;  // next header: ICMPv6
  add(icmp.data(), icmp.size());
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace lcfs::net
