// MLD messages (RFC 2710 MLDv1, RFC 3810 MLDv2): a strict parser for what
// the snooper receives and encoders for what the querier sends (and tests
// forge). The bytes are the ICMPv6 message, without the IPv6 header: what a
// raw ICMPv6 socket reads.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "lcfs/net/address.h"
#include "lcfs/net/mld_timers.h"
#include "lcfs/status.h"

namespace lcfs::net {

enum class MldType : uint8_t {
  kQuery = 130,  // MLDv1 or MLDv2 (told apart by length)
  kV1Report = 131,
  kV1Done = 132,
  kV2Report = 143,
};

// MLDv2 Multicast Address Record types (RFC 3810 5.2.12).
enum class RecordType : uint8_t {
  kModeIsInclude = 1,
  kModeIsExclude = 2,
  kChangeToInclude = 3,
  kChangeToExclude = 4,
  kAllowNewSources = 5,
  kBlockOldSources = 6,
};
const char* RecordTypeName(RecordType t);

struct MldRecord {
  RecordType type = RecordType::kModeIsExclude;
  Ipv6Address group;
  std::vector<Ipv6Address> sources;
  bool operator==(const MldRecord&) const = default;
};

struct MldQuery {
  int version = 2;  // 1: the 24-byte MLDv1 form
  Millis max_response_delay{10'000};
  Ipv6Address group;                        // :: for a General Query
  bool suppress_router_processing = false;  // S flag
  int robustness = 2;                       // QRV (0 = above 7)
  Millis query_interval{125'000};           // from QQIC, whole seconds
  std::vector<Ipv6Address> sources;
};

// A parsed message. MLDv1 Report and Done become one record each, as RFC
// 3810 8.3.2 maps them: Report = MODE_IS_EXCLUDE {}, Done = CHANGE_TO_INCLUDE {}.
struct MldMessage {
  MldType type = MldType::kQuery;
  MldQuery query;                  // type kQuery
  std::vector<MldRecord> records;  // reports and Done
};

// EBADMSG with the reason if `icmp` is not a well-formed MLD message:
// not an MLD type, truncated, counts beyond the message, a non-multicast
// group, a multicast or unspecified source. Records of unknown type are
// skipped and trailing octets ignored, as RFC 3810 5.1.12/5.2.12 require.
Result<MldMessage> ParseMldMessage(std::span<const uint8_t> icmp);

// Max Resp Code <-> delay (RFC 3810 5.1.3: exact below 32768 ms, then a
// floating-point form up to about 8387 s). Encoding rounds down.
uint16_t EncodeMaxResponseCode(Millis delay);
Millis DecodeMaxResponseCode(uint16_t code);
// QQIC <-> Querier's Query Interval in seconds (RFC 3810 5.1.9).
uint8_t EncodeQqic(std::chrono::seconds interval);
std::chrono::seconds DecodeQqic(uint8_t code);

// ICMPv6 messages with the checksum field zero: the kernel fills it for raw
// ICMPv6 sockets (and tests that need it use Icmpv6Checksum).
std::vector<uint8_t> EncodeMldv2Query(const MldQuery& query);
std::vector<uint8_t> EncodeMldv2Report(std::span<const MldRecord> records);
std::vector<uint8_t> EncodeMldv1(MldType type, const Ipv6Address& group, Millis max_delay = {});

// The ICMPv6 checksum over the pseudo-header (RFC 4443 2.3).
uint16_t Icmpv6Checksum(const Ipv6Address& src, const Ipv6Address& dst,
                        std::span<const uint8_t> icmp);

}  // namespace lcfs::net
