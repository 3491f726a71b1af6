// MembershipEvent: what MLD snooping tells the exporter: a group got its
// first listener on an interface (join), or lost its last one (leave).
#pragma once

#include <cstdint>

#include "lcfs/net/address.h"

namespace lcfs::net {

struct MembershipEvent {
  enum class Kind : uint8_t { kJoin, kLeave };
  Kind kind;
  int ifindex;
  Ipv6Address group;
};

}  // namespace lcfs::net
