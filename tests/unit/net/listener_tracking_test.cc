// Explicit listener tracking in the membership table: a group ends on the
// report of its last tracked listener; RFC timers decide where tracking
// cannot (MLDv1, caps, querier change); strangers cannot end others' groups.
#include <gtest/gtest.h>

#include <string>

#include "table_test_util.h"

namespace lcfs::net {
namespace {

using Kind = MembershipEvent::Kind;

const Ipv6Address kG = A("ff1e::77");
const Ipv6Address kHostA = A("fe80::a"), kHostB = A("fe80::b"), kStranger = A("fe80::666");
const Ipv6Address kS1 = A("fe80::1"), kS2 = A("fe80::2");
constexpr int kIf = 3;

class ListenerTrackingTest : public TableTest {
 protected:
  explicit ListenerTrackingTest(TrackingLimits limits = {}) : TableTest(limits) {}

  void V2(const Ipv6Address& host, RecordType t, std::vector<Ipv6Address> sources = {},
          const Ipv6Address& group = kG) {
    table_.Apply(kIf, MldRecord{t, group, std::move(sources)}, now_, &queries_, Reporter{host});
  }
  void V1Report(const Ipv6Address& host) {
    table_.Apply(kIf, MldRecord{RecordType::kModeIsExclude, kG, {}}, now_, &queries_,
                 Reporter{host, true});
  }
  void V1Done(const Ipv6Address& host) {
    table_.Apply(kIf, MldRecord{RecordType::kChangeToInclude, kG, {}}, now_, &queries_,
                 Reporter{host, true});
  }
  size_t Leaves() const {
    size_t n = 0;
    for (const auto& e : events_) n += e.kind == Kind::kLeave;
    return n;
  }
};

TEST_F(ListenerTrackingTest, LastTrackedListenerLeavingEndsTheGroupAtOnce) {
  V2(kHostA, RecordType::kChangeToExclude);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].kind, Kind::kJoin);
  EXPECT_EQ(table_.tracked_hosts(), 1u);
  V2(kHostA, RecordType::kChangeToInclude);  // TO_IN {}
  ASSERT_EQ(events_.size(), 2u) << "the leave must not wait for the Last Listener Query Time";
  EXPECT_EQ(events_[1].kind, Kind::kLeave);
  EXPECT_TRUE(queries_.empty()) << "tracking knows nobody is left: nothing to ask";
  EXPECT_EQ(table_.tracking().fast_leaves, 1u);
  EXPECT_EQ(table_.tracked_hosts(), 0u);
  EXPECT_EQ(table_.size(), 0u);
}

TEST_F(ListenerTrackingTest, EmptyIsIncludeAndBlockOfTheLastSourceEndTheGroup) {
  V2(kHostA, RecordType::kModeIsExclude);
  V2(kHostA, RecordType::kModeIsInclude);  // IS_IN {}
  EXPECT_EQ(Leaves(), 1u);

  V2(kHostA, RecordType::kAllowNewSources, {kS1, kS2});  // INCLUDE {S1, S2}
  ASSERT_TRUE(table_.HasListeners(kIf, kG));
  V2(kHostA, RecordType::kBlockOldSources, {kS1});
  EXPECT_TRUE(table_.HasListeners(kIf, kG)) << "S2 is still wanted";
  V2(kHostA, RecordType::kBlockOldSources, {kS2});
  EXPECT_FALSE(table_.HasListeners(kIf, kG));
  EXPECT_EQ(Leaves(), 2u);
  EXPECT_EQ(table_.tracking().fast_leaves, 2u);
}

TEST_F(ListenerTrackingTest, GroupGoesOnWhileASecondHostListens) {
  V2(kHostA, RecordType::kChangeToExclude);
  V2(kHostB, RecordType::kChangeToExclude, {kS1});  // EXCLUDE {S1}: still listening
  EXPECT_EQ(table_.tracked_hosts(), 2u);
  V2(kHostA, RecordType::kChangeToInclude);
  EXPECT_EQ(Leaves(), 0u);
  EXPECT_TRUE(queries_.empty());
  Advance(Millis(1000));
  EXPECT_TRUE(table_.HasListeners(kIf, kG));
  V2(kHostB, RecordType::kChangeToInclude);
  EXPECT_EQ(Leaves(), 1u);
}

TEST_F(ListenerTrackingTest, ForgedLeaveFromAStrangerIsRefusedAndCounted) {
  V2(kHostA, RecordType::kChangeToExclude);
  V2(kStranger, RecordType::kChangeToInclude);
  V2(kStranger, RecordType::kModeIsInclude);
  V2(kStranger, RecordType::kBlockOldSources, {kS1});
  EXPECT_EQ(Leaves(), 0u);
  EXPECT_TRUE(queries_.empty()) << "no query: tracked listener A is known to listen";
  EXPECT_EQ(table_.tracking().refused_leaves, 3u);
  // Nor does a specific query from another host end it (A is tracked).
  table_.LowerTimers({kIf, kG, {}}, now_, Millis(1));
  Advance(Millis(1000));
  EXPECT_TRUE(table_.HasListeners(kIf, kG));
}

TEST_F(ListenerTrackingTest, SilentHostExpiresAfterTheListeningInterval) {
  V2(kHostA, RecordType::kChangeToExclude);
  Advance(Millis(2000));
  V2(kHostA, RecordType::kModeIsExclude);  // answers a General Query
  Advance(Millis(2000));
  EXPECT_TRUE(table_.HasListeners(kIf, kG));
  Advance(Millis(250));
  EXPECT_FALSE(table_.HasListeners(kIf, kG));
  EXPECT_EQ(table_.tracked_hosts(), 0u);
}

TEST_F(ListenerTrackingTest, MldV1HostIsServedAndEndedByRfcTimers) {
  V1Report(kHostA);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(table_.tracking().v1_fallbacks, 1u);
  V1Done(kHostA);
  EXPECT_EQ(Leaves(), 0u) << "v1 hosts suppress reports: another may listen unseen";
  ASSERT_EQ(queries_.size(), 1u);  // the querier asks
  table_.LowerTimers(queries_[0], now_);
  Advance(timers_.last_listener_query_time() - Millis(10));
  EXPECT_EQ(Leaves(), 0u);
  Advance(Millis(10));
  EXPECT_EQ(Leaves(), 1u);
  EXPECT_EQ(table_.tracking().fast_leaves, 0u);
}

TEST_F(ListenerTrackingTest, MixedV1AndV2HostsFallBackUntilTheV1HostIsGone) {
  V2(kHostA, RecordType::kChangeToExclude);
  V1Report(kHostB);
  V2(kHostA, RecordType::kChangeToInclude);
  EXPECT_EQ(Leaves(), 0u);
  EXPECT_EQ(queries_.size(), 1u) << "the v1 host must be asked";
  // No v1 report again: once the Older Version Host Present time is over,
  // nothing is left and the group ends.
  Advance(timers_.listening_interval());
  EXPECT_EQ(Leaves(), 1u);
}

TEST_F(ListenerTrackingTest, QuerierChangeSuspendsTrackingUntilAGeneralQueryIsAnswered) {
  table_.SuspendTracking(kIf, now_);
  V2(kHostA, RecordType::kChangeToExclude);
  V2(kHostA, RecordType::kChangeToInclude);
  EXPECT_EQ(Leaves(), 0u) << "hosts that reported to the other querier may be unknown";
  ASSERT_EQ(queries_.size(), 1u);
  V2(kHostA, RecordType::kChangeToExclude);
  table_.OnGeneralQuery(kIf, now_, Millis(250));
  V2(kHostA, RecordType::kChangeToInclude);
  EXPECT_EQ(Leaves(), 0u) << "answers to the query are still on their way";
  Advance(Millis(250));
  EXPECT_EQ(Leaves(), 1u) << "once they are in, tracking decides";
  V2(kHostA, RecordType::kChangeToExclude);
  V2(kHostA, RecordType::kChangeToInclude);
  EXPECT_EQ(Leaves(), 2u);
  EXPECT_EQ(table_.tracking().querier_changes, 1u);
}

TEST_F(ListenerTrackingTest, GeneralQueryWithAHugeDelayCannotSuspendTrackingForLong) {
  table_.SuspendTracking(kIf, now_);
  table_.OnGeneralQuery(kIf, now_, Millis(3'600'000));
  Advance(timers_.query_response_interval);
  V2(kHostA, RecordType::kChangeToExclude);
  V2(kHostA, RecordType::kChangeToInclude);
  EXPECT_EQ(Leaves(), 1u);
}

TEST_F(ListenerTrackingTest, SpecificQueryLowersOnlyWithinItsOwnResponseDelay) {
  table_.Apply(kIf, MldRecord{RecordType::kModeIsExclude, kG, {}}, now_);  // no reporter: RFC
  // A query whose listeners may take an hour to answer lowers nothing.
  table_.LowerTimers({kIf, kG, {}}, now_, Millis(3'600'000));
  Advance(Millis(2000));
  EXPECT_TRUE(table_.HasListeners(kIf, kG));
  EXPECT_EQ(table_.tracking().queries_lowered, 0u);
  // One with 100 ms lowers to 2 x 100 ms (Last Listener Query Count 2).
  table_.LowerTimers({kIf, kG, {}}, now_, Millis(100));
  Advance(Millis(190));
  EXPECT_TRUE(table_.HasListeners(kIf, kG));
  Advance(Millis(10));
  EXPECT_FALSE(table_.HasListeners(kIf, kG));
}

class ListenerTrackingCapsTest : public ListenerTrackingTest {
 protected:
  ListenerTrackingCapsTest()
      : ListenerTrackingTest({.hosts_per_group = 4, .hosts_total = 10, .records_total = 20}) {}
};

TEST_F(ListenerTrackingCapsTest, AboveTheGroupCapTheGroupFallsBackToRfcTimers) {
  for (int i = 0; i < 5; ++i) V2(Numbered(kHostA, i), RecordType::kChangeToExclude);
  EXPECT_EQ(table_.tracked_hosts(), 4u);
  EXPECT_EQ(table_.tracking().hosts_refused, 1u);
  EXPECT_EQ(table_.tracking().fallbacks, 1u);
  for (int i = 0; i < 4; ++i) V2(Numbered(kHostA, i), RecordType::kChangeToInclude);
  EXPECT_EQ(Leaves(), 0u) << "the fifth host is not tracked";
  EXPECT_FALSE(queries_.empty());
  for (const auto& q : queries_) table_.LowerTimers(q, now_);
  Advance(timers_.last_listener_query_time());
  EXPECT_EQ(Leaves(), 1u) << "nobody answered: RFC timers end it";
}

TEST_F(ListenerTrackingCapsTest, ForgedFloodStaysWithinTheTotalCap) {
  // 1000 forged hosts, each joining 10 groups.
  for (int h = 0; h < 1000; ++h)
    for (int g = 0; g < 10; ++g)
      V2(Numbered(kStranger, h), RecordType::kChangeToExclude, {}, Numbered(kG, g));
  EXPECT_LE(table_.tracked_hosts(), 10u);
  EXPECT_EQ(table_.size(), 10u);
  EXPECT_GT(table_.tracking().hosts_refused, 9000u);
  // A forged leave for a group with a tracked listener still ends nothing.
  V2(Numbered(kHostA, 1), RecordType::kChangeToInclude, {}, Numbered(kG, 0));
  EXPECT_EQ(Leaves(), 0u);
  // Everything is forgotten once the flood stops.
  Advance(timers_.listening_interval());
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(table_.tracked_hosts(), 0u);
  EXPECT_EQ(table_.timer_entries(), 0u);
}

TEST_F(ListenerTrackingCapsTest, RecordsHaveAHardCapAndMemoryReturnsAfterAFlood) {
  for (int g = 0; g < 1000; ++g)
    V2(Numbered(kStranger, g), RecordType::kChangeToExclude, {}, Numbered(kG, g));
  EXPECT_EQ(table_.size(), 20u);
  EXPECT_EQ(table_.tracking().records_refused, 980u);
  Advance(timers_.listening_interval());
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(table_.tracked_hosts(), 0u);
  EXPECT_EQ(table_.timer_entries(), 0u);
  // And a legitimate listener gets its group again.
  V2(kHostA, RecordType::kChangeToExclude);
  EXPECT_TRUE(table_.HasListeners(kIf, kG));
}

// What the exporter reads to know who needs what (docs/protocol.md 9).
TEST_F(ListenerTrackingTest, ArrivalsCountNewcomersNotRefreshes) {
  V2(kHostA, RecordType::kChangeToExclude);
  ASSERT_NE(table_.Find(kIf, kG), nullptr);
  EXPECT_EQ(table_.Find(kIf, kG)->arrivals, 1u);
  const uint64_t g = table_.generation();
  V2(kHostA, RecordType::kModeIsExclude);  // its answer to a query: nobody new
  EXPECT_EQ(table_.Find(kIf, kG)->arrivals, 1u);
  EXPECT_EQ(table_.generation(), g);
  V2(kHostB, RecordType::kChangeToExclude);
  EXPECT_EQ(table_.Find(kIf, kG)->arrivals, 2u);
  EXPECT_NE(table_.generation(), g);
  V2(kHostB, RecordType::kChangeToInclude);  // B leaves and joins again: it needs symbols again
  V2(kHostB, RecordType::kChangeToExclude);
  EXPECT_EQ(table_.Find(kIf, kG)->arrivals, 3u);
  V2(kStranger, RecordType::kChangeToInclude);  // a stranger's leave is no arrival
  EXPECT_EQ(table_.Find(kIf, kG)->arrivals, 3u);
}

TEST_F(ListenerTrackingTest, UntrackedListenersArriveWithEveryListeningReport) {
  V1Report(kHostA);
  ASSERT_NE(table_.Find(kIf, kG), nullptr);
  EXPECT_EQ(table_.Find(kIf, kG)->arrivals, 1u);
  V1Report(kHostB);  // v1 hosts cannot be told apart from refreshes
  EXPECT_EQ(table_.Find(kIf, kG)->arrivals, 2u);
}

TEST_F(ListenerTrackingTest, EachHostHasOneShareSplitBetweenItsGroups) {
  const Ipv6Address g2 = A("ff1e::78"), g3 = A("ff1e::79");
  V2(kHostA, RecordType::kChangeToExclude, {}, kG);
  V2(kHostB, RecordType::kChangeToExclude, {}, kG);
  for (const auto& g : {g2, g3}) V2(kHostB, RecordType::kChangeToExclude, {}, g);
  EXPECT_EQ(table_.GroupsOf(kIf, kHostA), 1u);
  EXPECT_EQ(table_.GroupsOf(kIf, kHostB), 3u);
  EXPECT_DOUBLE_EQ(table_.ListenerShare(kIf, kG), 1.0 + 1.0 / 3);
  EXPECT_DOUBLE_EQ(table_.ListenerShare(kIf, g2), 1.0 / 3);
  EXPECT_DOUBLE_EQ(table_.ListenerShare(kIf, A("ff1e::1")), 0.0);
  V2(kHostB, RecordType::kChangeToInclude, {}, g3);  // leaves one: its share spreads over two
  EXPECT_DOUBLE_EQ(table_.ListenerShare(kIf, g2), 0.5);
  Advance(timers_.listening_interval() + Millis(1));  // everyone expires
  EXPECT_EQ(table_.GroupsOf(kIf, kHostB), 0u);
  EXPECT_EQ(table_.tracked_hosts(), 0u);
}

}  // namespace
}  // namespace lcfs::net
