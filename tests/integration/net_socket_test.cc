// MulticastSocket on a real kernel: RFC 3678 source filters decide which
// senders a receiver hears (and read back as set), batched sends and
// receives carry lcfs packets across the LAN, joins on "every interface"
// work, and membership errors say what went wrong.
#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "lcfs/net/group.h"
#include "lcfs/net/multicast_socket.h"
#include "lcfs/net/packet.h"
#include "testbed/testbed.h"

namespace lcfs::net {
namespace {

using testbed::Host;
using testbed::Testbed;

constexpr uint16_t kPort = 47123;

Ipv6Address TestGroup(uint8_t n) {
  Hash h;
  h.bytes[1] = n;
  return GroupAddress(h);
}

MulticastSocket OpenIn(const Host& host, MulticastSocketOptions o) {
  auto guard = host.Enter();
  EXPECT_TRUE(guard.ok());
  auto s = MulticastSocket::Open(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(*s);
}

MulticastSocket SenderIn(const Host& host) {
  return OpenIn(host, {.port = 0, .send_ifindex = host.ifindex()});
}

void SendText(MulticastSocket& s, const Ipv6Address& g, const std::string& text) {
  OutgoingDatagram d{g, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
                     kPort};
  auto n = s.Send(std::span(&d, 1));
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  ASSERT_EQ(*n, 1u);
}

// Reads datagrams until `last` arrives (or 5 s pass); returns all texts.
std::vector<std::string> ReceiveUntil(MulticastSocket& s, const std::string& last) {
  std::vector<std::string> got;
  while (std::find(got.begin(), got.end(), last) == got.end()) {
    pollfd p{s.fd(), POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) break;
    uint8_t buf[2048];
    IncomingDatagram d{std::span(buf)};
    auto n = s.Receive(std::span(&d, 1));
    EXPECT_TRUE(n.ok());
    if (n.ok() && *n == 1) got.emplace_back(reinterpret_cast<char*>(buf), d.length);
  }
  return got;
}

size_t Count(const std::vector<std::string>& v, const std::string& s) {
  return static_cast<size_t>(std::count(v.begin(), v.end(), s));
}

TEST(SourceFilter, IncludeAndExcludeDecideWhichSenderIsDelivered) {
  LCFS_REQUIRE_TESTBED();
  auto created = Testbed::Create({.hosts = 3});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  Testbed& bed = **created;
  Host &a = bed.host(0), &b = bed.host(1), &c = bed.host(2);
  const Ipv6Address g = TestGroup(1);
  const Ipv6Address from_b = Ipv6Address::FromIn6(b.link_local());
  const Ipv6Address from_c = Ipv6Address::FromIn6(c.link_local());

  // `filtered` trusts only B; `open` (same port, no filter) hears everyone,
  // so C's datagrams provably arrived at A.
  MulticastSocket filtered = OpenIn(a, {.port = kPort});
  MulticastSocket open = OpenIn(a, {.port = kPort});
  ASSERT_TRUE(filtered.Join(g, a.ifindex(), SourceFilter::Include({from_b})).ok());
  ASSERT_TRUE(open.Join(g, a.ifindex()).ok());
  auto read_back = filtered.GetSourceFilter(g, a.ifindex());
  ASSERT_TRUE(read_back.ok()) << read_back.status().ToString();
  EXPECT_EQ(*read_back, SourceFilter::Include({from_b}));

  MulticastSocket sb = SenderIn(b), sc = SenderIn(c);
  SendText(sc, g, "c1");
  SendText(sb, g, "b1");
  SendText(sc, g, "c2");
  auto open_got = ReceiveUntil(open, "c2");
  EXPECT_EQ(Count(open_got, "c1"), 1u);
  EXPECT_EQ(Count(open_got, "c2"), 1u);
  SendText(sb, g, "b-end");
  auto got = ReceiveUntil(filtered, "b-end");
  EXPECT_EQ(Count(got, "b1"), 1u);
  EXPECT_EQ(Count(got, "b-end"), 1u);
  EXPECT_EQ(Count(got, "c1") + Count(got, "c2"), 0u) << "INCLUDE {B} delivered C's datagrams";

  // Switch to EXCLUDE {C}: B still in, C still out.
  ASSERT_TRUE(filtered.SetSourceFilter(g, a.ifindex(), SourceFilter::Exclude({from_c})).ok());
  read_back = filtered.GetSourceFilter(g, a.ifindex());
  ASSERT_TRUE(read_back.ok());
  EXPECT_EQ(*read_back, SourceFilter::Exclude({from_c}));
  SendText(sc, g, "c3");
  SendText(sb, g, "b2");
  ReceiveUntil(open, "b2");
  got = ReceiveUntil(filtered, "b2");
  EXPECT_EQ(Count(got, "c3"), 0u) << "EXCLUDE {C} delivered C's datagram";
  EXPECT_EQ(Count(got, "b2"), 1u);

  // Back to any source: C gets through.
  ASSERT_TRUE(filtered.SetSourceFilter(g, a.ifindex(), SourceFilter{}).ok());
  SendText(sc, g, "c4");
  got = ReceiveUntil(filtered, "c4");
  EXPECT_EQ(Count(got, "c4"), 1u);
}

// One host and a socket on kPort in it: the membership calls alone.
class OneHostSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LCFS_REQUIRE_TESTBED();
    auto created = Testbed::Create({.hosts = 1});
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    bed_ = std::move(*created);
    socket_.emplace(OpenIn(bed_->host(0), {.port = kPort}));
  }

  std::unique_ptr<Testbed> bed_;
  std::optional<MulticastSocket> socket_;
};

TEST_F(OneHostSocketTest, JoinWithSeveralIncludedSourcesReadsBackAll) {
  const Host& a = bed_->host(0);
  MulticastSocket& s = *socket_;
  const Ipv6Address g = TestGroup(2);
  std::vector<Ipv6Address> sources = {*Ipv6Address::Parse("fe80::1"),
                                      *Ipv6Address::Parse("fe80::2"),
                                      *Ipv6Address::Parse("fe80::3")};
  ASSERT_TRUE(s.Join(g, a.ifindex(), SourceFilter::Include(sources)).ok());
  auto f = s.GetSourceFilter(g, a.ifindex());
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->mode, SourceFilter::Mode::kInclude);
  std::set<Ipv6Address> got(f->sources.begin(), f->sources.end());
  EXPECT_EQ(got, std::set<Ipv6Address>(sources.begin(), sources.end()));
  ASSERT_TRUE(s.Leave(g, 0).ok());
  EXPECT_EQ(s.GetSourceFilter(g, a.ifindex()).status().code(), EADDRNOTAVAIL);
}

TEST_F(OneHostSocketTest, MembershipErrorsAreExplained) {
  const Host& a = bed_->host(0);
  MulticastSocket& s = *socket_;
  const Ipv6Address g = TestGroup(3);
  Status st = s.Join(*Ipv6Address::Parse("fe80::1"), a.ifindex());
  EXPECT_EQ(st.code(), EINVAL);
  EXPECT_NE(st.message().find("not a multicast address"), std::string::npos) << st.ToString();
  st = s.Join(g, a.ifindex(), SourceFilter::Include({}));
  EXPECT_EQ(st.code(), EINVAL);
  // Filters on a group never joined: the kernel's EADDRNOTAVAIL, explained.
  st = s.SetSourceFilter(g, a.ifindex(), SourceFilter::Exclude({*Ipv6Address::Parse("fe80::9")}));
  EXPECT_EQ(st.code(), EADDRNOTAVAIL) << st.ToString();
  EXPECT_NE(st.message().find("not joined"), std::string::npos) << st.ToString();
  auto f = s.GetSourceFilter(g, a.ifindex());
  EXPECT_EQ(f.status().code(), EADDRNOTAVAIL);
  // A multicast source is no source.
  ASSERT_TRUE(s.Join(g, a.ifindex()).ok());
  st = s.SetSourceFilter(g, a.ifindex(), SourceFilter::Include({TestGroup(4)}));
  EXPECT_EQ(st.code(), EINVAL);
  EXPECT_NE(st.message().find("not a unicast address"), std::string::npos) << st.ToString();
  st = s.Join(g, 424242);
  EXPECT_NE(st.code(), 0);
  EXPECT_NE(st.message().find("424242"), std::string::npos) << st.ToString();
  EXPECT_EQ(s.Leave(TestGroup(9), 0).code(), EADDRNOTAVAIL);
}

// lcfs packets in batches: sendmmsg on A, recvmmsg on B (joined on every
// interface), and a GSO burst; every datagram parses and names its group.
TEST(MulticastSocket, BatchesOfPacketsCrossTheLan) {
  LCFS_REQUIRE_TESTBED();
  auto created = Testbed::Create({.hosts = 2});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  Host &a = (*created)->host(0), &b = (*created)->host(1);
  const Ipv6Address g = TestGroup(5);
  MulticastSocket rx = OpenIn(b, {.port = kPort});
  {
    // Interface 0: every multicast interface of the caller's namespace.
    auto guard = b.Enter();
    ASSERT_TRUE(guard.ok());
    Status j = rx.Join(g, 0);
    ASSERT_TRUE(j.ok()) << j.ToString();
  }
  MulticastSocket tx = SenderIn(a);
  tx.set_destination_port(kPort);

  constexpr size_t kCount = 100, kT = 1024;
  PacketHeader h;
  h.oti[6] = kT >> 8;
  h.oti[7] = kT & 0xff;
  std::vector<std::vector<uint8_t>> packets;
  for (size_t i = 0; i < kCount; ++i) {
    h.payload_id[3] = static_cast<uint8_t>(i);
    std::vector<uint8_t> symbol(kT, static_cast<uint8_t>(i));
    packets.push_back(*EncodePacket(h, symbol));
  }
  std::vector<OutgoingDatagram> out;
  for (const auto& p : packets) out.push_back({g, p});
  size_t sent = 0;
  for (int tries = 0; sent < kCount && tries < 100; ++tries) {
    auto n = tx.Send(std::span(out).subspan(sent));
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    sent += *n;
  }
  ASSERT_EQ(sent, kCount);
  // And one GSO burst of 16 equal segments.
  std::vector<uint8_t> burst;
  for (int i = 0; i < 16; ++i) burst.insert(burst.end(), packets[i].begin(), packets[i].end());
  auto gso = tx.SendSegments(g, burst, packets[0].size());
  ASSERT_TRUE(gso.ok()) << gso.status().ToString();
  ASSERT_EQ(*gso, burst.size());
  EXPECT_TRUE(tx.gso_available()) << "this kernel refused UDP GSO";

  std::vector<std::vector<uint8_t>> bufs(32, std::vector<uint8_t>(2048));
  std::vector<IncomingDatagram> in;
  for (auto& buf : bufs) in.push_back({std::span(buf)});
  size_t got = 0, batches = 0;
  std::set<uint8_t> esis;
  PacketCounters counters;
  while (got < kCount + 16) {
    pollfd p{rx.fd(), POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) break;
    auto n = rx.Receive(in);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    ++batches;
    for (size_t i = 0; i < *n; ++i) {
      EXPECT_EQ(in[i].destination, g);
      EXPECT_EQ(in[i].ifindex, b.ifindex());
      EXPECT_EQ(in[i].source, Ipv6Address::FromIn6(a.link_local()));
      EXPECT_FALSE(in[i].truncated);
      PacketView v;
      const PacketDrop r = ParsePacket(in[i].buffer.first(in[i].length), &v);
      counters.Count(r);
      if (r == PacketDrop::kNone) esis.insert(v.header.payload_id[3]);
    }
    got += *n;
  }
  EXPECT_EQ(got, kCount + 16);
  EXPECT_EQ(counters.accepted, kCount + 16);
  EXPECT_EQ(esis.size(), kCount);
  EXPECT_LT(batches, got) << "recvmmsg never returned more than one datagram";
}

}  // namespace
}  // namespace lcfs::net
