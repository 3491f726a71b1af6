// Network interfaces as multicast sees them: which ones can carry multicast
// (what "interface 0" means in a join) and their link-local addresses.
#pragma once

#include <string>
#include <vector>

#include "lcfs/net/address.h"
#include "lcfs/status.h"

namespace lcfs::net {

struct InterfaceInfo {
  int ifindex = 0;
  std::string name;
};

// Interfaces that are up, multicast-capable and not loopback, by ifindex.
Result<std::vector<InterfaceInfo>> MulticastInterfaces();

// The (first) IPv6 link-local address of `ifindex`; EADDRNOTAVAIL if none
// (yet: duplicate address detection may still be running).
Result<Ipv6Address> LinkLocalAddress(int ifindex);

}  // namespace lcfs::net
