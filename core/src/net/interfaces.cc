#include "lcfs/net/interfaces.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netpacket/packet.h>

#include <algorithm>
#include <memory>

namespace lcfs::net {

namespace {
struct IfaddrsDeleter {
  void operator()(ifaddrs* p) const { freeifaddrs(p); }
};
using IfaddrsPtr = std::unique_ptr<ifaddrs, IfaddrsDeleter>;

Result<IfaddrsPtr> GetIfaddrs() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return Status::FromErrno(errno, "getifaddrs");
  return IfaddrsPtr(list);
}
}  // namespace

Result<std::vector<InterfaceInfo>> MulticastInterfaces() {
  auto list = GetIfaddrs();
  if (!list.ok()) return list.status();
  std::vector<InterfaceInfo> out;
  // One AF_PACKET entry per link carries its flags and ifindex.
  for (ifaddrs* i = list->get(); i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_PACKET) continue;
    const unsigned f = i->ifa_flags;
    if (!(f & IFF_UP) || !(f & IFF_MULTICAST) || (f & IFF_LOOPBACK)) continue;
    const auto* ll = reinterpret_cast<const sockaddr_ll*>(i->ifa_addr);
    out.push_back({ll->sll_ifindex, i->ifa_name});
  }
  std::sort(out.begin(), out.end(),
            [](const InterfaceInfo& a, const InterfaceInfo& b) { return a.ifindex < b.ifindex; });
  return out;
}

Result<Ipv6Address> LinkLocalAddress(int ifindex) {
  auto list = GetIfaddrs();
  if (!list.ok()) return list.status();
  for (ifaddrs* i = list->get(); i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET6) continue;
    const auto* sa = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
    const Ipv6Address a = Ipv6Address::FromIn6(sa->sin6_addr);
    if (a.IsLinkLocalUnicast() && static_cast<int>(sa->sin6_scope_id) == ifindex) return a;
  }
  return Status::Error(EADDRNOTAVAIL,
                       "interface " + std::to_string(ifindex) + " has no IPv6 link-local address");
}

}  // namespace lcfs::net
