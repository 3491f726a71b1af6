#include "net/membership_table.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "table_test_util.h"

namespace lcfs::net {
namespace {

using Kind = MembershipEvent::Kind;
using Mode = MembershipTable::FilterMode;

const Ipv6Address kG = A("ff1e::77");
const Ipv6Address kS1 = A("fe80::1"), kS2 = A("fe80::2"), kS3 = A("fe80::3");
constexpr int kIf = 3;

class MembershipTableTest : public TableTest {
 protected:
  void Apply(RecordType t, std::vector<Ipv6Address> sources = {}, int ifindex = kIf,
             const Ipv6Address& group = kG) {
    table_.Apply(ifindex, MldRecord{t, group, std::move(sources)}, now_, &queries_);
  }
  // The filter mode of kG on kIf; nullopt without a record.
  std::optional<Mode> ModeOf() const {
    const auto* r = table_.Find(kIf, kG);
    if (r == nullptr) return std::nullopt;
    return r->mode;
  }
  // Whether kG on kIf wants data from `source` now.
  bool Wants(const Ipv6Address& source) const { return table_.WantsSource(kIf, kG, source, now_); }
  // Advances in 10 ms steps until an event arrives; returns the time taken.
  Millis TimeToNextEvent(Millis limit) {
    const size_t before = events_.size();
    Millis waited{0};
    while (events_.size() == before && waited < limit) {
      Advance(Millis(10));
      waited += Millis(10);
    }
    return waited;
  }
};

TEST_F(MembershipTableTest, ReportJoinsAndListeningIntervalEndsIt) {
  ASSERT_EQ(timers_.listening_interval(), Millis(2250));
  Apply(RecordType::kModeIsExclude);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].kind, Kind::kJoin);
  EXPECT_EQ(events_[0].ifindex, kIf);
  EXPECT_EQ(events_[0].group, kG);
  EXPECT_TRUE(table_.HasListeners(kIf, kG));
  // Refreshed by a report within the interval: lives on.
  Advance(Millis(2000));
  Apply(RecordType::kModeIsExclude);
  EXPECT_EQ(events_.size(), 1u);
  Advance(Millis(2000));
  EXPECT_EQ(events_.size(), 1u);
  EXPECT_EQ(TimeToNextEvent(Millis(5000)), Millis(250));
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[1].kind, Kind::kLeave);
  EXPECT_FALSE(table_.HasListeners(kIf, kG));
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(table_.timer_entries(), 0u);
}

TEST_F(MembershipTableTest, LeaveAsksForGroupQueryAndEndsWithinLastListenerQueryTime) {
  Apply(RecordType::kChangeToExclude);
  ASSERT_EQ(events_.size(), 1u);
  queries_.clear();
  Apply(RecordType::kChangeToInclude);  // TO_IN {}: a listener left
  ASSERT_EQ(queries_.size(), 1u);
  EXPECT_TRUE(queries_[0].sources.empty());
  EXPECT_EQ(queries_[0].group, kG);
  EXPECT_EQ(events_.size(), 1u) << "a leave alone must not end the group";
  table_.LowerTimers(queries_[0], now_);
  EXPECT_EQ(TimeToNextEvent(Millis(5000)), timers_.last_listener_query_time());
  EXPECT_EQ(events_.back().kind, Kind::kLeave);
}

TEST_F(MembershipTableTest, RemainingListenerAnsweringTheQueryKeepsTheGroup) {
  Apply(RecordType::kChangeToExclude);
  queries_.clear();
  Apply(RecordType::kChangeToInclude);
  table_.LowerTimers(queries_.at(0), now_);
  Advance(Millis(100));
  Apply(RecordType::kModeIsExclude);  // the other listener answers
  Advance(Millis(2000));
  EXPECT_EQ(events_.size(), 1u);
  EXPECT_TRUE(table_.HasListeners(kIf, kG));
}

TEST_F(MembershipTableTest, IncludeModeTracksSourcesAndBlockQueriesThem) {
  Apply(RecordType::kAllowNewSources, {kS1, kS2});
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(ModeOf(), Mode::kInclude);
  EXPECT_TRUE(Wants(kS1));
  EXPECT_TRUE(Wants(kS2));
  EXPECT_FALSE(Wants(kS3));
  queries_.clear();
  Apply(RecordType::kBlockOldSources, {kS1, kS3});
  ASSERT_EQ(queries_.size(), 1u);
  EXPECT_EQ(queries_[0].sources, std::vector<Ipv6Address>{kS1});  // A*B
  table_.LowerTimers(queries_[0], now_);
  Advance(timers_.last_listener_query_time());
  EXPECT_FALSE(Wants(kS1));
  EXPECT_TRUE(Wants(kS2));
  EXPECT_EQ(events_.size(), 1u);
  EXPECT_GT(TimeToNextEvent(Millis(5000)), Millis(1000));
  EXPECT_EQ(events_.back().kind, Kind::kLeave);
}

TEST_F(MembershipTableTest, ToIncludeInIncludeModeQueriesSourcesNoLongerListed) {
  Apply(RecordType::kModeIsInclude, {kS1, kS2});
  queries_.clear();
  Apply(RecordType::kChangeToInclude, {kS2, kS3});
  ASSERT_EQ(queries_.size(), 1u);
  EXPECT_EQ(queries_[0].sources, std::vector<Ipv6Address>{kS1});  // A-B
  EXPECT_TRUE(Wants(kS3));
}

TEST_F(MembershipTableTest, ExcludeModeRefusesExcludedSources) {
  Apply(RecordType::kModeIsExclude, {kS1});
  EXPECT_EQ(ModeOf(), Mode::kExclude);
  EXPECT_FALSE(Wants(kS1));
  EXPECT_TRUE(Wants(kS2));
  // ALLOW moves S1 from the exclude list to the requested list.
  Apply(RecordType::kAllowNewSources, {kS1});
  EXPECT_TRUE(Wants(kS1));
  // BLOCK in EXCLUDE mode queries A-Y.
  queries_.clear();
  Apply(RecordType::kBlockOldSources, {kS1, kS2});
  ASSERT_EQ(queries_.size(), 1u);
  EXPECT_EQ(queries_[0].sources.size(), 2u);
}

TEST_F(MembershipTableTest, ToExcludeFromIncludeQueriesCommonSources) {
  Apply(RecordType::kAllowNewSources, {kS1, kS2});
  queries_.clear();
  Apply(RecordType::kChangeToExclude, {kS2, kS3});
  ASSERT_EQ(queries_.size(), 1u);
  EXPECT_EQ(queries_[0].sources, std::vector<Ipv6Address>{kS2});
  EXPECT_EQ(ModeOf(), Mode::kExclude);
  EXPECT_TRUE(Wants(kS2));   // A*B keeps its timer
  EXPECT_FALSE(Wants(kS3));  // B-A excluded
  EXPECT_TRUE(Wants(kS1));   // deleted: EXCLUDE lets it through
}

TEST_F(MembershipTableTest, GroupTimerExpiryFallsBackToRequestedSources) {
  Apply(RecordType::kModeIsExclude);
  Advance(Millis(1000));
  Apply(RecordType::kModeIsInclude, {kS1});  // X = {S1}, timer runs 1 s past the group timer
  Advance(Millis(1300));                     // group timer expired
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(ModeOf(), Mode::kInclude);
  EXPECT_TRUE(Wants(kS1));
  EXPECT_FALSE(Wants(kS2));
  EXPECT_EQ(TimeToNextEvent(Millis(5000)), Millis(1000) - Millis(50));
  EXPECT_EQ(events_.back().kind, Kind::kLeave);
}

TEST_F(MembershipTableTest, InterfacesAreSeparate) {
  Apply(RecordType::kModeIsExclude, {}, 1);
  Apply(RecordType::kModeIsExclude, {}, 2);
  EXPECT_EQ(events_.size(), 2u);
  queries_.clear();
  Apply(RecordType::kChangeToInclude, {}, 1);
  table_.LowerTimers(queries_.at(0), now_);
  Advance(timers_.last_listener_query_time());
  EXPECT_FALSE(table_.HasListeners(1, kG));
  EXPECT_TRUE(table_.HasListeners(2, kG));
}

TEST_F(MembershipTableTest, EmptyIncludeOrBlockCreatesNothing) {
  Apply(RecordType::kModeIsInclude);
  Apply(RecordType::kChangeToInclude);
  Apply(RecordType::kBlockOldSources, {kS1});
  EXPECT_TRUE(events_.empty());
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_FALSE(table_.NextDeadline().has_value());
}

TEST_F(MembershipTableTest, HundredThousandGroupsStayProportional) {
  constexpr int kGroups = 100'000;
  for (int i = 0; i < kGroups; ++i) Apply(RecordType::kModeIsExclude, {}, kIf, Numbered(kG, i));
  EXPECT_EQ(table_.size(), static_cast<size_t>(kGroups));
  EXPECT_EQ(events_.size(), static_cast<size_t>(kGroups));
  // Many refresh rounds: stale timer entries must not pile up.
  for (int round = 0; round < 3; ++round) {
    Advance(Millis(1000));
    for (int i = 0; i < kGroups; ++i) Apply(RecordType::kModeIsExclude, {}, kIf, Numbered(kG, i));
    EXPECT_LE(table_.timer_entries(), 2 * table_.size() + 1024);
  }
  for (int i = 0; i < kGroups; i += 997) EXPECT_TRUE(table_.HasListeners(kIf, Numbered(kG, i)));
  EXPECT_FALSE(table_.HasListeners(kIf, Numbered(kG, kGroups)));
  EXPECT_EQ(events_.size(), static_cast<size_t>(kGroups));
  Advance(timers_.listening_interval());
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(events_.size(), static_cast<size_t>(2 * kGroups));
  EXPECT_EQ(table_.timer_entries(), 0u);
}

}  // namespace
}  // namespace lcfs::net
