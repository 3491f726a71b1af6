// Multicast groups: each object travels on an IPv6 multicast group derived
// from its hash (docs/protocol.md section 6).
//
//   group = 0xff || (flags << 4 | scope) || SHA-256("lcfs-group-v1" || hash)[0..14)
//
// so a receiver can join the group of any object it knows the name of, and
// the exporter can tell from an MLD report which object is wanted. Collisions
// (112 bits) are harmless: every packet names its object and every object is
// verified.
#pragma once

#include <cstdint>

#include "lcfs/hash.h"
#include "lcfs/net/address.h"
#include "lcfs/status.h"

namespace lcfs::net {

// The UDP port all lcfs groups use unless configured otherwise.
inline constexpr uint16_t kDefaultPort = 7707;

struct GroupScheme {
  // RFC 4291 flags nibble: 0x1 = T (transient, not IANA-assigned); R and P
  // must stay clear, our groups embed neither an RP nor a unicast prefix.
  uint8_t flags = 0x1;
  // RFC 4291/7346 scope nibble: 0x2 link-local ... 0xe global. The hop limit
  // (1 by default) keeps packets on the link whatever the scope.
  uint8_t scope = 0xe;
  uint16_t port = kDefaultPort;

  // The first two bytes of every group: 0xff1e by default.
  uint16_t prefix() const { return static_cast<uint16_t>(0xff00 | flags << 4 | scope); }
  // EINVAL if flags or scope are out of range or reserved (scope 0 and 0xf,
  // flags with R or P set or T clear).
  Status Validate() const;
};

// The group on which the object named `object` is sent.
Ipv6Address GroupAddress(const Hash& object, const GroupScheme& scheme = {});

// True if `group` has the scheme's prefix (is possibly an lcfs group).
bool HasGroupPrefix(const Ipv6Address& group, const GroupScheme& scheme = {});

}  // namespace lcfs::net
