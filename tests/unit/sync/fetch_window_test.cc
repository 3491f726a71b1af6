// FetchWindow: the rules that decide which fetches hold the joined groups.
#include "sync/fetch_window.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace lcfs::sync {
namespace {

using Id = FetchWindow::Id;

Id IdOf(int n) {
  Id id{};
  id[0] = static_cast<uint8_t>(n);
  id[1] = static_cast<uint8_t>(n >> 8);
  return id;
}

struct Step {
  std::vector<Id> leave, join;
};

Step Schedule(FetchWindow& w) {
  Step s;
  w.Schedule(&s.leave, &s.join);
  return s;
}

bool Has(const std::vector<Id>& v, int n) { return std::count(v.begin(), v.end(), IdOf(n)) == 1; }

TEST(FetchWindow, JoinsAtMostTheWindowAndQueuesTheRest) {
  FetchWindow w(4, 0, 0);
  for (int i = 0; i < 6; ++i) w.Add(IdOf(i), FetchPriority::kBlocking);
  Step s = Schedule(w);
  EXPECT_TRUE(s.leave.empty());
  ASSERT_EQ(s.join.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(Has(s.join, i)) << i;  // in arrival order
  EXPECT_EQ(w.joined_count(), 4u);
  EXPECT_TRUE(Schedule(w).join.empty());
  w.Remove(IdOf(1));
  s = Schedule(w);
  ASSERT_EQ(s.join.size(), 1u);
  EXPECT_TRUE(Has(s.join, 4));
}

TEST(FetchWindow, PrefetchLeavesTheReservesFree) {
  FetchWindow w(8, 2, 1);
  EXPECT_EQ(w.Limit(FetchPriority::kBlocking), 8u);
  EXPECT_EQ(w.Limit(FetchPriority::kMetadata), 6u);
  EXPECT_EQ(w.Limit(FetchPriority::kPrefetch), 5u);
  for (int i = 0; i < 20; ++i) w.Add(IdOf(i), FetchPriority::kPrefetch);
  EXPECT_EQ(Schedule(w).join.size(), 5u);
  for (int i = 20; i < 30; ++i) w.Add(IdOf(i), FetchPriority::kMetadata);
  Step s = Schedule(w);
  EXPECT_EQ(s.join.size(), 1u);  // up to the metadata limit
  EXPECT_TRUE(Has(s.join, 20));
  w.Add(IdOf(100), FetchPriority::kBlocking);
  w.Add(IdOf(101), FetchPriority::kBlocking);
  s = Schedule(w);
  EXPECT_TRUE(s.leave.empty());  // the reserve was free: nothing preempted
  EXPECT_TRUE(Has(s.join, 100));
  EXPECT_TRUE(Has(s.join, 101));
  EXPECT_EQ(w.joined_count(), 8u);
}

TEST(FetchWindow, ABlockedRequestNeverWaitsBehindPrefetch) {
  FetchWindow w(4, 0, 0);  // no reserve: only preemption can make room
  for (int i = 0; i < 4; ++i) w.Add(IdOf(i), FetchPriority::kPrefetch);
  ASSERT_EQ(Schedule(w).join.size(), 4u);
  w.Add(IdOf(50), FetchPriority::kMetadata);
  EXPECT_TRUE(Schedule(w).join.empty());  // metadata waits; it does not preempt
  w.Add(IdOf(100), FetchPriority::kBlocking);
  Step s = Schedule(w);
  ASSERT_EQ(s.join.size(), 1u);
  EXPECT_TRUE(Has(s.join, 100));
  ASSERT_EQ(s.leave.size(), 1u);
  EXPECT_TRUE(Has(s.leave, 3));  // the prefetch that joined last gives way
  EXPECT_FALSE(w.joined(IdOf(3)));
  EXPECT_TRUE(w.contains(IdOf(3)));  // still queued
  EXPECT_EQ(w.joined_count(), 4u);
  // Once the blocked one is done, the metadata fetch comes before the
  // preempted prefetch, which then rejoins first among prefetches.
  w.Remove(IdOf(100));
  s = Schedule(w);
  ASSERT_EQ(s.join.size(), 1u);
  EXPECT_TRUE(Has(s.join, 50));
  w.Remove(IdOf(50));
  w.Add(IdOf(7), FetchPriority::kPrefetch);
  s = Schedule(w);
  ASSERT_EQ(s.join.size(), 1u);
  EXPECT_TRUE(Has(s.join, 3));
}

TEST(FetchWindow, BlockedRequestsDoNotPreemptEachOther) {
  FetchWindow w(2, 0, 0);
  w.Add(IdOf(1), FetchPriority::kBlocking);
  w.Add(IdOf(2), FetchPriority::kBlocking);
  w.Add(IdOf(3), FetchPriority::kBlocking);
  Step s = Schedule(w);
  EXPECT_EQ(s.join.size(), 2u);
  EXPECT_TRUE(Schedule(w).join.empty());
  EXPECT_FALSE(w.joined(IdOf(3)));
}

TEST(FetchWindow, PromotionMovesAQueuedPrefetchAhead) {
  FetchWindow w(2, 0, 0);
  for (int i = 0; i < 10; ++i) w.Add(IdOf(i), FetchPriority::kPrefetch);
  ASSERT_EQ(Schedule(w).join.size(), 2u);  // 0 and 1
  w.SetPriority(IdOf(9), FetchPriority::kBlocking);
  Step s = Schedule(w);
  ASSERT_EQ(s.join.size(), 1u);
  EXPECT_TRUE(Has(s.join, 9));
  EXPECT_EQ(w.priority(IdOf(9)), FetchPriority::kBlocking);
  // Its stale place in the prefetch queue does not join it twice.
  w.Remove(IdOf(0));
  w.Remove(IdOf(1));
  s = Schedule(w);
  EXPECT_EQ(s.join.size(), 1u);
  EXPECT_FALSE(Has(s.join, 9));
  EXPECT_EQ(w.joined_count(), 2u);
}

TEST(FetchWindow, DemotedFetchStaysJoinedAndCanBePreempted) {
  FetchWindow w(1, 0, 0);
  w.Add(IdOf(1), FetchPriority::kBlocking);
  ASSERT_EQ(Schedule(w).join.size(), 1u);
  w.SetPriority(IdOf(1), FetchPriority::kPrefetch);  // the blocked reader gave up
  EXPECT_TRUE(w.joined(IdOf(1)));
  w.Add(IdOf(2), FetchPriority::kBlocking);
  Step s = Schedule(w);
  EXPECT_TRUE(Has(s.leave, 1));
  EXPECT_TRUE(Has(s.join, 2));
}

}  // namespace
}  // namespace lcfs::sync
