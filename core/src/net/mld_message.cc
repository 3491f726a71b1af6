#include "net/mld_message.h"

#include <cstring>
#include <string>

namespace lcfs::net {

namespace {

constexpr size_t kV1Size = 24;      // type..multicast address
constexpr size_t kV2QueryMin = 28;  // + S/QRV, QQIC, number of sources
constexpr size_t kV2ReportHead = 8;
constexpr size_t kRecordHead = 20;

uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
Ipv6Address GetAddr(const uint8_t* p) {
  Ipv6Address a;
  std::memcpy(a.bytes.data(), p, 16);
  return a;
}
void PutAddr(std::vector<uint8_t>& out, const Ipv6Address& a) {
  out.insert(out.end(), a.bytes.begin(), a.bytes.end());
}
Status Bad(const std::string& why) { return Status::Error(EBADMSG, "MLD message: " + why); }

}  // namespace

const char* RecordTypeName(RecordType t) {
  switch (t) {
    case RecordType::kModeIsInclude:
      return "MODE_IS_INCLUDE";
    case RecordType::kModeIsExclude:
      return "MODE_IS_EXCLUDE";
    case RecordType::kChangeToInclude:
      return "CHANGE_TO_INCLUDE";
    case RecordType::kChangeToExclude:
      return "CHANGE_TO_EXCLUDE";
    case RecordType::kAllowNewSources:
      return "ALLOW_NEW_SOURCES";
    case RecordType::kBlockOldSources:
      return "BLOCK_OLD_SOURCES";
  }
  return "?";
}

uint16_t EncodeMaxResponseCode(Millis delay) {
  const int64_t ms = delay.count();
  if (ms <= 0) return 0;
  if (ms < 32768) return static_cast<uint16_t>(ms);
  // 1 | exp (3) | mant (12): delay = (mant | 0x1000) << (exp + 3).
  for (int exp = 0; exp < 8; ++exp) {
    const int64_t mant = ms >> (exp + 3);
    if (mant <= 0x1fff) return static_cast<uint16_t>(0x8000 | exp << 12 | (mant & 0x0fff));
  }
  return 0xffff;
}

Millis DecodeMaxResponseCode(uint16_t code) {
  if (code < 0x8000) return Millis(code);
  const int exp = (code >> 12) & 0x7, mant = code & 0x0fff;
  return Millis(static_cast<int64_t>(mant | 0x1000) << (exp + 3));
}

uint8_t EncodeQqic(std::chrono::seconds interval) {
  const int64_t s = interval.count();
  if (s <= 0) return 0;
  if (s < 128) return static_cast<uint8_t>(s);
  for (int exp = 0; exp < 8; ++exp) {
    const int64_t mant = s >> (exp + 3);
    if (mant <= 0x1f) return static_cast<uint8_t>(0x80 | exp << 4 | (mant & 0x0f));
  }
  return 0xff;
}

std::chrono::seconds DecodeQqic(uint8_t code) {
  if (code < 0x80) return std::chrono::seconds(code);
  const int exp = (code >> 4) & 0x7, mant = code & 0x0f;
  return std::chrono::seconds((mant | 0x10) << (exp + 3));
}

Result<MldMessage> ParseMldMessage(std::span<const uint8_t> m) {
  if (m.size() < 4) return Bad("shorter than an ICMPv6 header");
  MldMessage out;
  // The Code field is "ignored by receivers" (RFC 3810 5.1.2, 5.2.2).
  switch (m[0]) {
    case static_cast<uint8_t>(MldType::kQuery): {
      out.type = MldType::kQuery;
      MldQuery& q = out.query;
      if (m.size() < kV1Size) return Bad("query shorter than 24 bytes");
      q.max_response_delay = DecodeMaxResponseCode(Get16(&m[4]));
      q.group = GetAddr(&m[8]);
      if (!q.group.IsUnspecified() && !q.group.IsMulticast())
        return Bad("query for non-multicast address " + q.group.ToString());
      if (m.size() == kV1Size) {
        q.version = 1;
        return out;
      }
      // RFC 3810 8.1: 25..27 bytes is neither version.
      if (m.size() < kV2QueryMin) return Bad("query of " + std::to_string(m.size()) + " bytes");
      q.version = 2;
      q.suppress_router_processing = (m[24] & 0x08) != 0;
      q.robustness = m[24] & 0x07;
      q.query_interval = DecodeQqic(m[25]);
      const size_t n = Get16(&m[26]);
      if (kV2QueryMin + 16 * n > m.size())
        return Bad("query lists " + std::to_string(n) + " sources beyond its end");
      if (n && q.group.IsUnspecified()) return Bad("general query with sources");
      q.sources.reserve(n);
      for (size_t i = 0; i < n; ++i) q.sources.push_back(GetAddr(&m[kV2QueryMin + 16 * i]));
      // Octets beyond the sources are ignored (RFC 3810 5.1.12).
      return out;
    }
    case static_cast<uint8_t>(MldType::kV1Report):
    case static_cast<uint8_t>(MldType::kV1Done): {
      out.type = static_cast<MldType>(m[0]);
      if (m.size() < kV1Size) return Bad("MLDv1 message shorter than 24 bytes");
      MldRecord r;
      r.group = GetAddr(&m[8]);
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
      if (m.size() < kV2ReportHead) return Bad("MLDv2 report shorter than 8 bytes");
      const size_t count = Get16(&m[6]);
      // Each record takes at least 20 bytes: reject before allocating.
      if (kV2ReportHead + kRecordHead * count > m.size())
        return Bad("report claims " + std::to_string(count) + " records beyond its end");
      size_t off = kV2ReportHead;
      out.records.reserve(count);
      for (size_t i = 0; i < count; ++i) {
        if (off + kRecordHead > m.size()) return Bad("record " + std::to_string(i) + " truncated");
        const uint8_t type = m[off];
        const size_t aux = size_t{m[off + 1]} * 4;
        const size_t nsrc = Get16(&m[off + 2]);
        const size_t end = off + kRecordHead + 16 * nsrc + aux;
        if (end > m.size())
          return Bad("record " + std::to_string(i) + " lists sources beyond the message");
        MldRecord r;
        r.group = GetAddr(&m[off + 4]);
        if (!r.group.IsMulticast())
          return Bad("record " + std::to_string(i) + " for non-multicast " + r.group.ToString());
        for (size_t s = 0; s < nsrc; ++s) {
          Ipv6Address a = GetAddr(&m[off + kRecordHead + 16 * s]);
          if (a.IsMulticast() || a.IsUnspecified())
            return Bad("record " + std::to_string(i) + " has invalid source " + a.ToString());
          r.sources.push_back(a);
        }
        off = end;
        // Unknown record types are skipped, as RFC 3810 5.2.12 lets receivers.
        if (type < 1 || type > 6) continue;
        r.type = static_cast<RecordType>(type);
        out.records.push_back(std::move(r));
      }
      return out;
    }
    default:
      return Bad("ICMPv6 type " + std::to_string(m[0]) + " is not MLD");
  }
}

std::vector<uint8_t> EncodeMldv2Query(const MldQuery& q) {
  std::vector<uint8_t> out(kV2QueryMin);
  out[0] = static_cast<uint8_t>(MldType::kQuery);
  Put16(&out[4], EncodeMaxResponseCode(q.max_response_delay));
  std::memcpy(&out[8], q.group.bytes.data(), 16);
  const int qrv = q.robustness >= 1 && q.robustness <= 7 ? q.robustness : 0;
  out[24] = static_cast<uint8_t>((q.suppress_router_processing ? 0x08 : 0) | qrv);
  // QQIC is in whole seconds; intervals below a second (tests) round up to 1.
  const auto qqi = std::chrono::ceil<std::chrono::seconds>(q.query_interval);
  out[25] = EncodeQqic(std::max(qqi, std::chrono::seconds(1)));
  Put16(&out[26], static_cast<uint16_t>(q.sources.size()));
  for (const auto& s : q.sources) PutAddr(out, s);
  return out;
}

std::vector<uint8_t> EncodeMldv2Report(std::span<const MldRecord> records) {
  std::vector<uint8_t> out(kV2ReportHead);
  out[0] = static_cast<uint8_t>(MldType::kV2Report);
  Put16(&out[6], static_cast<uint16_t>(records.size()));
  for (const auto& r : records) {
    out.push_back(static_cast<uint8_t>(r.type));
    out.push_back(0);  // no aux data
    out.push_back(static_cast<uint8_t>(r.sources.size() >> 8));
    out.push_back(static_cast<uint8_t>(r.sources.size()));
    PutAddr(out, r.group);
    for (const auto& s : r.sources) PutAddr(out, s);
  }
  return out;
}

std::vector<uint8_t> EncodeMldv1(MldType type, const Ipv6Address& group, Millis max_delay) {
  std::vector<uint8_t> out(kV1Size);
  out[0] = static_cast<uint8_t>(type);
  Put16(&out[4], static_cast<uint16_t>(std::min<int64_t>(max_delay.count(), 0xffff)));
  std::memcpy(&out[8], group.bytes.data(), 16);
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
