// Proves the testbed's several LANs: a host on LAN A and a host on LAN B do
// not hear each other's link-local multicast, while a host with a foot on
// both (lan0 on A, lan1 on B, as a relay) hears each of them on the right
// interface; every namespace, and so every bridge, is gone after teardown.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <utility>

#include "common/raw_udp.h"
#include "lcfs/unique_fd.h"
#include "testbed/testbed.h"

namespace lcfs::testbed {
namespace {

constexpr uint16_t kPort = 47010;
constexpr const char* kGroup = "ff12::4c43:4653:10";

// A UDP socket in `host` bound to kPort, joined to kGroup on each of `ifaces`,
// reporting the arrival interface (IPV6_PKTINFO). Sends from it do not loop.
UniqueFd Socket(const Host& host, std::initializer_list<const char*> ifaces) {
  auto guard = host.Enter();
  EXPECT_TRUE(guard.ok()) << guard.status().ToString();
  UniqueFd fd = lcfs::testing::BoundUdpSocket(kPort);
  int one = 1, zero = 0;
  setsockopt(fd.get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  setsockopt(fd.get(), IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof zero);
  for (const char* name : ifaces) {
    const HostInterface* hi = host.interface(name);
    EXPECT_NE(hi, nullptr) << name;
    if (hi) lcfs::testing::JoinGroup(fd.get(), kGroup, hi->ifindex);
  }
  return fd;
}

void Send(int fd, const HostInterface& out, const std::string& payload) {
  lcfs::testing::SendToGroup(fd, out.ifindex, kGroup, kPort, payload);
}

// The next datagram on fd and the interface it arrived on; {"", 0} if none
// within 5 s.
std::pair<std::string, int> Receive(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 5000) != 1) return {"", 0};
  char buf[256];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))];
  iovec iov{buf, sizeof buf};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  ssize_t n = recvmsg(fd, &m, 0);
  if (n <= 0) return {"", 0};
  int ifindex = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo pi;
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      ifindex = static_cast<int>(pi.ipi6_ifindex);
    }
  return {std::string(buf, static_cast<size_t>(n)), ifindex};
}

TEST(TestbedLans, HostsOnTwoLansHearOnlyTheirOwnAndTheRelayHostHearsBoth) {
  LCFS_REQUIRE_TESTBED();
  TestbedOptions opts;
  opts.hosts = 3;
  opts.lans = 2;
  opts.host_lans = {0, 1, 0};
  opts.extra_links = {{.host = 2, .lan = 1}};
  auto created = Testbed::Create(opts);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  Testbed& bed = **created;
  ASSERT_EQ(bed.lans(), 2);
  Host &a = bed.host(0), &b = bed.host(1), &r = bed.host(2);
  EXPECT_EQ(a.lan(), 0);
  EXPECT_EQ(b.lan(), 1);
  ASSERT_EQ(r.interfaces().size(), 2u);
  ASSERT_EQ(a.interfaces().size(), 1u);
  const HostInterface& r0 = r.interfaces()[0];
  const HostInterface& r1 = r.interfaces()[1];
  EXPECT_EQ(r0.name, "lan0");
  EXPECT_EQ(r1.name, "lan1");
  EXPECT_EQ(r1.lan, 1);
  EXPECT_EQ(r1.port, "p2l1");
  EXPECT_NE(r0.ifindex, r1.ifindex);
  EXPECT_EQ(r.ifindex(), r0.ifindex);
  EXPECT_NE(std::memcmp(&r0.link_local, &r1.link_local, 16), 0);
  EXPECT_EQ(r1.link_local_str().rfind("fe80::", 0), 0u) << r1.link_local_str();
  std::string links;
  ASSERT_TRUE(bed.RunInBridge({"ip", "-o", "link", "show", "master", "br1"}, &links).ok());
  EXPECT_NE(links.find("p1@"), std::string::npos) << links;
  EXPECT_NE(links.find("p2l1@"), std::string::npos) << links;
  EXPECT_EQ(links.find("p0@"), std::string::npos) << links;

  UniqueFd sa = Socket(a, {"lan0"});
  UniqueFd sb = Socket(b, {"lan0"});
  UniqueFd sr = Socket(r, {"lan0", "lan1"});

  // A's datagram reaches R on lan0. Only then R sends a fence on lan1: B
  // reading the fence first proves A's datagram never crossed to LAN B
  // (the bridge had flooded it by the time R got it).
  Send(sa.get(), a.interfaces()[0], "from-a");
  EXPECT_EQ(Receive(sr.get()), std::make_pair(std::string("from-a"), r0.ifindex));
  Send(sr.get(), r1, "fence-b");
  EXPECT_EQ(Receive(sb.get()).first, "fence-b");

  // And the other way round.
  Send(sb.get(), b.interfaces()[0], "from-b");
  EXPECT_EQ(Receive(sr.get()), std::make_pair(std::string("from-b"), r1.ifindex));
  Send(sr.get(), r0, "fence-a");
  EXPECT_EQ(Receive(sa.get()).first, "fence-a");

  // Counters can be read per interface.
  auto tx = r.InterfaceCounter("tx_packets", "lan1");
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  EXPECT_GE(*tx, 1u);
  EXPECT_FALSE(r.InterfaceCounter("tx_packets", "lan7").ok());

  std::string bridge_ns = bed.bridge_netns();
  sa.reset(), sb.reset(), sr.reset();
  bed.Teardown();
  EXPECT_TRUE(bed.Leftovers().empty());
  std::string netns_list;
  ASSERT_TRUE(RunCommand({"ip", "netns", "list"}, &netns_list).ok());
  EXPECT_EQ(netns_list.find(bridge_ns), std::string::npos);
}

TEST(TestbedLans, RejectsLinksToMissingLans) {
  LCFS_REQUIRE_TESTBED();
  TestbedOptions opts;
  opts.hosts = 2;
  opts.lans = 2;
  opts.extra_links = {{.host = 1, .lan = 2}};
  EXPECT_EQ(Testbed::Create(opts).status().code(), EINVAL);
  opts.extra_links.clear();
  opts.host_lans = {0, 5};
  EXPECT_EQ(Testbed::Create(opts).status().code(), EINVAL);
}

}  // namespace
}  // namespace lcfs::testbed
