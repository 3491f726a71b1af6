// Proves the virtual LAN: multicast crosses the bridge to the hosts that
// joined and no others, with bridge snooping on and off, and the kernel's
// MLDv2 report for a join reaches a raw ICMPv6 socket on another host.
#include "testbed/testbed.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstring>
#include <string>

#include "common/raw_udp.h"
#include "lcfs/unique_fd.h"

namespace lcfs::testbed {
namespace {

constexpr uint16_t kPort = 47000;

using lcfs::testing::Addr;

// A UDP socket in `host`, bound to kPort, joined to `groups` on lan0.
UniqueFd Listener(const Host& host, std::initializer_list<const char*> groups) {
  auto guard = host.Enter();
  EXPECT_TRUE(guard.ok()) << guard.status().ToString();
  UniqueFd fd = lcfs::testing::BoundUdpSocket(kPort);
  for (const char* g : groups) lcfs::testing::JoinGroup(fd.get(), g, host.ifindex());
  return fd;
}

void SendTo(const Host& host, const char* group, const std::string& payload) {
  auto guard = host.Enter();
  ASSERT_TRUE(guard.ok());
  UniqueFd fd(socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  lcfs::testing::SendToGroup(fd.get(), host.ifindex(), group, kPort, payload);
}

// The next datagram on fd, or "" if none arrives within 5 s.
std::string Receive(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 5000) != 1) return "";
  char buf[2048];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// Waits for an MLDv2 report on `raw` from `from` that has a record for
// `group`; returns the record type, or 0 if none came within 5 s.
int AwaitMldv2Record(int raw, const in6_addr& from, const in6_addr& group) {
  for (;;) {
    pollfd p{raw, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) return 0;
    uint8_t buf[1500];
    sockaddr_in6 src{};
    socklen_t slen = sizeof src;
    ssize_t n = recvfrom(raw, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&src), &slen);
    if (n < 8 || buf[0] != 143 || memcmp(&src.sin6_addr, &from, 16) != 0) continue;
    size_t records = static_cast<size_t>(buf[6] << 8 | buf[7]), off = 8;
    for (size_t r = 0; r < records && off + 20 <= static_cast<size_t>(n); ++r) {
      int type = buf[off];
      size_t aux = buf[off + 1], nsrc = static_cast<size_t>(buf[off + 2] << 8 | buf[off + 3]);
      if (memcmp(buf + off + 4, &group, 16) == 0) return type;
      off += 20 + 16 * nsrc + 4 * aux;
    }
  }
}

class TestbedTest : public ::testing::TestWithParam<bool> {};

TEST_P(TestbedTest, MulticastReachesJoinedHostsOnlyAndMldReportIsSeen) {
  LCFS_REQUIRE_TESTBED();
  const bool snooping = GetParam();
  TestbedOptions opts;
  opts.hosts = 4;
  opts.snooping = snooping;
  auto created = Testbed::Create(opts);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  Testbed& bed = **created;
  Host &a = bed.host(0), &b = bed.host(1), &c = bed.host(2), &d = bed.host(3);
  if (snooping) {
    // A switch forwards reports to its router ports; make A's port one, as an
    // administrator would for a querier's port.
    ASSERT_TRUE(bed.RunInBridge({"bridge", "link", "set", "dev", "p0", "mcast_router", "2"}).ok());
  }

  // A listens for MLD reports as a snooper does: raw ICMPv6, all-MLDv2-routers.
  UniqueFd raw;
  {
    auto guard = a.Enter();
    ASSERT_TRUE(guard.ok());
    raw.reset(socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6));
    ASSERT_TRUE(raw.valid()) << strerror(errno);
    ipv6_mreq mr{};
    mr.ipv6mr_multiaddr = Addr("ff02::16");
    mr.ipv6mr_interface = a.ifindex();
    ASSERT_EQ(setsockopt(raw.get(), IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof mr), 0);
  }

  const char* kGroup = "ff12::4c43:4653:1";
  const char* kOther = "ff12::4c43:4653:2";
  UniqueFd rb = Listener(b, {kGroup});
  int record = AwaitMldv2Record(raw.get(), b.link_local(), Addr(kGroup));
  // A join is reported as CHANGE_TO_EXCLUDE {} (4); MODE_IS_EXCLUDE (2) if
  // the first report was lost and this is an answer to a query.
  EXPECT_TRUE(record == 4 || record == 2)
      << "no MLDv2 report for B's join reached A (record type " << record << ")";
  UniqueFd rc = Listener(c, {kGroup});
  UniqueFd rd = Listener(d, {kOther});
  EXPECT_NE(AwaitMldv2Record(raw.get(), d.link_local(), Addr(kOther)), 0);

  if (snooping) {
    std::string mdb;
    ASSERT_TRUE(bed.RunInBridge({"bridge", "mdb", "show"}, &mdb).ok());
    EXPECT_NE(mdb.find("port p1 grp ff12::4c43:4653:1"), std::string::npos) << mdb;
    EXPECT_NE(mdb.find("port p2 grp ff12::4c43:4653:1"), std::string::npos) << mdb;
    EXPECT_EQ(mdb.find("port p3 grp ff12::4c43:4653:1"), std::string::npos) << mdb;
  }

  // A sends to the group, then to D's group. Frames from one sender keep
  // their order across the bridge, so D reading the second payload first
  // proves the first never reached it.
  SendTo(a, kGroup, "to-group");
  SendTo(a, kOther, "to-other");
  EXPECT_EQ(Receive(rb.get()), "to-group");
  EXPECT_EQ(Receive(rc.get()), "to-group");
  EXPECT_EQ(Receive(rd.get()), "to-other");

  std::vector<std::string> names;
  for (int i = 0; i < bed.size(); ++i) names.push_back(bed.host(i).netns());
  names.push_back(bed.bridge_netns());
  rb.reset(), rc.reset(), rd.reset(), raw.reset();
  bed.Teardown();
  EXPECT_TRUE(bed.Leftovers().empty());
  std::string netns_list;
  ASSERT_TRUE(RunCommand({"ip", "netns", "list"}, &netns_list).ok());
  for (const auto& n : names) EXPECT_EQ(netns_list.find(n), std::string::npos) << n;
}

INSTANTIATE_TEST_SUITE_P(Snooping, TestbedTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "On" : "Off"; });

TEST(Testbed, LossDropsAShareOfPackets) {
  LCFS_REQUIRE_TESTBED();
  auto created = Testbed::Create({.hosts = 2});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  Testbed& bed = **created;
  ASSERT_TRUE(bed.host(1).SetLoss(50, /*udp_only=*/true).ok());
  UniqueFd rb = Listener(bed.host(1), {"ff12::4c43:4653:3"});
  constexpr int kSent = 400;
  for (int i = 0; i < kSent; ++i) SendTo(bed.host(0), "ff12::4c43:4653:3", "x");
  SendTo(bed.host(0), "ff12::4c43:4653:3", "end");  // may itself be dropped
  int got = 0;
  for (;;) {
    pollfd p{rb.get(), POLLIN, 0};
    if (poll(&p, 1, 1000) != 1) break;
    char buf[16];
    if (recv(rb.get(), buf, sizeof buf, 0) == 3) break;
    ++got;
  }
  // 50% of 400: 200 +- 60 is beyond 6 sigma.
  EXPECT_GT(got, 140);
  EXPECT_LT(got, 260);
}

TEST(Testbed, ReaperCleansUpAfterAKilledProcess) {
  LCFS_REQUIRE_TESTBED();
  // A child lcfs-testbed is SIGKILLed: its reaper must remove the namespaces.
  auto child = Subprocess::Spawn({std::string(LCFS_BINARY_DIR) + "/tests/lcfs-testbed", "--hosts",
                                  "1", "--", "sh", "-c", "echo $LCFS_TB_NS_0; exec sleep 600"});
  ASSERT_TRUE(child.ok());
  std::string ns;
  for (int i = 0; i < 200 && ns.empty(); ++i) {  // bounded: until it prints its namespace
    ns = child->Stdout();
    if (ns.empty()) child->Wait(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(ns.empty()) << child->Stderr();
  ns.pop_back();
  ASSERT_TRUE(child->Signal(SIGKILL).ok());
  child->Wait(std::chrono::seconds(5));
  // The reaper runs asynchronously; wait (bounded) for the namespace to go.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    struct stat st;
    gone = stat(("/run/netns/" + ns).c_str(), &st) != 0;
    if (!gone) usleep(50 * 1000);
  }
  EXPECT_TRUE(gone) << "namespace " << ns << " left behind";
}

}  // namespace
}  // namespace lcfs::testbed
