#include "replica/election.h"

#include <gtest/gtest.h>

namespace lcfs::replica {
namespace {

using namespace std::chrono_literals;
using Clock = Election::Clock;

net::Ipv6Address Addr(uint8_t last) {
  net::Ipv6Address a;
  a.bytes[0] = 0xfe;
  a.bytes[1] = 0x80;
  a.bytes[15] = last;
  return a;
}

Hash Root(uint8_t b) {
  Hash h;
  h.bytes[0] = b;
  return h;
}

Hello From(uint64_t instance, bool active, const Hash& root, uint16_t hold_ms = 700) {
  Hello h;
  h.instance = instance;
  h.active = active;
  h.root = root;
  h.hold_ms = hold_ms;
  return h;
}

class ElectionTest : public ::testing::Test {
 protected:
  // We are fe80::10 on interface 1, serving Root(1).
  Election Make() {
    Election e(100, Root(1), ElectionOptions{}, t0_);
    e.SetInterfaces({{1, Addr(0x10)}});
    return e;
  }
  const Clock::time_point t0_ = Clock::now();
};

TEST_F(ElectionTest, AloneItListensThroughTheStartupThenServes) {
  Election e = Make();
  EXPECT_FALSE(e.Update(t0_ + 299ms));
  EXPECT_FALSE(e.active());
  ASSERT_TRUE(e.NextDeadline(t0_ + 299ms).has_value());
  EXPECT_EQ(*e.NextDeadline(t0_ + 299ms), t0_ + 300ms);
  EXPECT_TRUE(e.Update(t0_ + 300ms));
  EXPECT_TRUE(e.active());
  EXPECT_FALSE(e.NextDeadline(t0_ + 300ms).has_value());
}

TEST_F(ElectionTest, NewcomerDefersToAnActivePeerEvenOneWithAHigherAddress) {
  Election e = Make();
  EXPECT_TRUE(e.OnHello(1, Addr(0x20), From(7, true, Root(1)), t0_ + 10ms));  // new peer
  EXPECT_FALSE(e.OnHello(1, Addr(0x20), From(7, true, Root(1)), t0_ + 200ms));
  EXPECT_FALSE(e.Update(t0_ + 400ms));
  EXPECT_FALSE(e.active());  // no preemption: the active one knows the listeners
}

TEST_F(ElectionTest, StandbyTakesOverWhenTheActivePeersHoldRunsOut) {
  Election e = Make();
  e.OnHello(1, Addr(0x20), From(7, true, Root(1)), t0_ + 100ms);
  e.Update(t0_ + 400ms);
  ASSERT_FALSE(e.active());
  ASSERT_EQ(*e.NextDeadline(t0_ + 400ms), t0_ + 800ms);
  EXPECT_FALSE(e.Update(t0_ + 799ms));
  EXPECT_TRUE(e.Update(t0_ + 800ms));
  EXPECT_TRUE(e.active());
  EXPECT_EQ(e.live_peers(), 0u);
}

TEST_F(ElectionTest, AGoodbyeHandsOverAtOnce) {
  Election e = Make();
  e.OnHello(1, Addr(0x20), From(7, true, Root(1)), t0_ + 100ms);
  e.Update(t0_ + 400ms);
  e.OnHello(1, Addr(0x20), From(7, true, Root(1), /*hold_ms=*/0), t0_ + 410ms);
  EXPECT_TRUE(e.Update(t0_ + 410ms));
  EXPECT_TRUE(e.active());
}

TEST_F(ElectionTest, OfTwoActivesTheHigherAddressYields) {
  Election e = Make();
  e.Update(t0_ + 300ms);
  ASSERT_TRUE(e.active());
  e.OnHello(1, Addr(0x20), From(7, true, Root(1)), t0_ + 310ms);  // higher: we stay
  EXPECT_FALSE(e.Update(t0_ + 310ms));
  EXPECT_TRUE(e.active());
  e.OnHello(1, Addr(0x05), From(8, true, Root(1)), t0_ + 320ms);  // lower: we yield
  EXPECT_TRUE(e.Update(t0_ + 320ms));
  EXPECT_FALSE(e.active());
}

TEST_F(ElectionTest, OnlyTheBestStandbyTakesOver) {
  // Active fe80::1 dies; standbys fe80::5 and us (fe80::10): fe80::5 serves.
  Election e = Make();
  e.OnHello(1, Addr(0x01), From(1, true, Root(1)), t0_ + 100ms);
  e.OnHello(1, Addr(0x05), From(5, false, Root(1)), t0_ + 100ms);
  e.Update(t0_ + 400ms);
  e.OnHello(1, Addr(0x05), From(5, false, Root(1)), t0_ + 700ms);
  EXPECT_FALSE(e.Update(t0_ + 800ms));  // fe80::1 gone, fe80::5 ranks first
  EXPECT_FALSE(e.active());
  e.OnHello(1, Addr(0x05), From(5, true, Root(1)), t0_ + 810ms);  // it took over
  EXPECT_FALSE(e.Update(t0_ + 1500ms));
  EXPECT_FALSE(e.active());
  EXPECT_TRUE(e.Update(t0_ + 1510ms));  // and then it died too
  EXPECT_TRUE(e.active());
}

TEST_F(ElectionTest, SameAddressIsRankedByInstance) {
  // Two exporters behind one address (one host): the lower instance ranks first.
  Election e = Make();
  e.OnHello(1, Addr(0x10), From(99, false, Root(1)), t0_ + 100ms);
  e.Update(t0_ + 300ms);
  EXPECT_FALSE(e.active());
  e.OnHello(1, Addr(0x10), From(101, false, Root(1)), t0_ + 900ms);  // the first one gone
  e.Update(t0_ + 900ms);
  EXPECT_TRUE(e.active());
}

TEST_F(ElectionTest, OwnHellosAndOtherRootsAndOtherInterfacesDoNotCount) {
  Election e = Make();
  EXPECT_FALSE(e.OnHello(1, Addr(0x10), From(100, true, Root(1)), t0_ + 10ms));  // our own
  e.OnHello(1, Addr(0x01), From(1, true, Root(2)), t0_ + 10ms);                  // another tree
  e.OnHello(2, Addr(0x01), From(2, true, Root(1)), t0_ + 10ms);  // a link we do not serve
  EXPECT_EQ(e.live_peers(), 1u);                                 // the other root, remembered
  EXPECT_TRUE(e.Update(t0_ + 300ms));
  EXPECT_TRUE(e.active());
  // Once we re-index to that root, its exporter is our replica.
  e.SetRoot(Root(2));
  e.OnHello(1, Addr(0x01), From(1, true, Root(2)), t0_ + 310ms);
  EXPECT_TRUE(e.Update(t0_ + 310ms));
  EXPECT_FALSE(e.active());
}

TEST_F(ElectionTest, ItServesAnInterfaceWhereNoReplicaIsHeard) {
  Election e(100, Root(1), ElectionOptions{}, t0_);
  e.SetInterfaces({{1, Addr(0x10)}, {2, Addr(0x11)}});
  e.OnHello(1, Addr(0x01), From(1, true, Root(1)), t0_ + 10ms);
  EXPECT_TRUE(e.Update(t0_ + 300ms));
  EXPECT_TRUE(e.active());  // interface 2 has nobody else
  e.OnHello(2, Addr(0x02), From(1, true, Root(1)), t0_ + 310ms);
  EXPECT_TRUE(e.Update(t0_ + 310ms));
  EXPECT_FALSE(e.active());
  // Dropping interface 1 forgets its peers; interface 2 still has one.
  e.SetInterfaces({{2, Addr(0x11)}});
  EXPECT_EQ(e.live_peers(), 1u);
}

TEST_F(ElectionTest, ForgedHoldTimesAreCappedAndPeersAreBounded) {
  ElectionOptions o;
  o.max_peers = 3;
  Election e(100, Root(1), o, t0_);
  e.SetInterfaces({{1, Addr(0x10)}});
  e.OnHello(1, Addr(0x01), From(1, true, Root(1), /*hold_ms=*/65535), t0_);
  e.Update(t0_ + 300ms);
  EXPECT_FALSE(e.active());
  EXPECT_TRUE(e.Update(t0_ + o.max_hold_factor * o.hold));  // not 65 s
  for (uint8_t i = 0; i < 10; ++i) e.OnHello(1, Addr(0x20 + i), From(i, false, Root(1)), t0_);
  EXPECT_EQ(e.live_peers(), 3u);
  EXPECT_EQ(e.ignored_peers(), 7u);
}

TEST_F(ElectionTest, HellosCarryStateHoldRootAndARisingSequence) {
  Election e = Make();
  const Hello a = e.MakeHello(false);
  EXPECT_FALSE(a.active);
  EXPECT_EQ(a.hold_ms, 700);
  EXPECT_EQ(a.instance, 100u);
  EXPECT_EQ(a.root, Root(1));
  e.Update(t0_ + 300ms);
  const Hello b = e.MakeHello(true);
  EXPECT_TRUE(b.active);
  EXPECT_EQ(b.hold_ms, 0);
  EXPECT_EQ(b.sequence, a.sequence + 1);
}

}  // namespace
}  // namespace lcfs::replica
