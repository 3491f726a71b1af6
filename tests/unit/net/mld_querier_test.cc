#include "net/mld_querier.h"

#include <gtest/gtest.h>

#include "lcfs/net/mld_snooper.h"
#include "net/membership_table.h"

namespace lcfs::net {
namespace {

Ipv6Address A(const std::string& s) { return *Ipv6Address::Parse(s); }

struct Sent {
  int ifindex;
  Ipv6Address source, destination;
  MldQuery query;
  MldTime when;
};

class QuerierTest : public ::testing::Test {
 protected:
  MldQuerier::SendFunction Recorder() {
    return [this](int ifindex, const Ipv6Address& src, const Ipv6Address& dst,
                  std::span<const uint8_t> msg) {
      auto m = ParseMldMessage(msg);
      EXPECT_TRUE(m.ok()) << m.status().ToString();
      if (m.ok()) sent_.push_back({ifindex, src, dst, m->query, now_});
      return Status::Ok();
    };
  }
  // Runs the querier's timers until `until`, as an event loop would.
  void RunUntil(MldQuerier& q, MldTime until) {
    while (auto next = q.NextDeadline()) {
      if (*next > until) break;
      now_ = std::max(now_, *next);
      q.ProcessTimers(now_);
    }
    now_ = until;
  }

  MldTimers timers_ = MldTimers::Fast(Millis(1000));
  MldTime start_ = MldTime{} + std::chrono::hours(1);
  MldTime now_ = start_;
  std::vector<Sent> sent_;
  const Ipv6Address own_ = A("fe80::5");
};

TEST_F(QuerierTest, SendsStartupThenPeriodicGeneralQueries) {
  MldQuerier q(timers_, Recorder());
  q.AddInterface(7, own_, now_);
  RunUntil(q, start_ + Millis(3100));
  // Start-up: at 0 and 250 ms (startup interval), then every second.
  ASSERT_EQ(sent_.size(), 4u);
  EXPECT_EQ(sent_[0].when, start_);
  EXPECT_EQ(sent_[1].when, start_ + Millis(250));
  EXPECT_EQ(sent_[2].when, start_ + Millis(1250));
  EXPECT_EQ(sent_[3].when, start_ + Millis(2250));
  for (size_t n = 0; n < sent_.size(); ++n) {
    const Sent& s = sent_[n];
    EXPECT_EQ(s.ifindex, 7);
    EXPECT_EQ(s.source, own_);
    EXPECT_EQ(s.destination, A("ff02::1"));
    EXPECT_EQ(s.query.version, 2);
    EXPECT_TRUE(s.query.group.IsUnspecified());
    // The start-up queries ask for quick answers: listeners from before
    // the start are learnt only from them.
    EXPECT_EQ(s.query.max_response_delay,
              n < 2 ? timers_.startup_query_response_interval : timers_.query_response_interval)
        << "query " << n;
    EXPECT_EQ(s.query.robustness, 2);
  }
  EXPECT_EQ(q.counters().general_queries, 4u);
}

TEST_F(QuerierTest, ByDefaultStartupQueriesAskForAnswersWithinASecondASecondApart) {
  // A restarted exporter learns the listeners of before only from these
  // answers: the stall of their streams is about a second, not the 10 s
  // query response interval.
  const MldTimers defaults;
  MldQuerier q(defaults, Recorder());
  q.AddInterface(7, own_, now_);
  RunUntil(q, start_ + Millis(127'000));
  ASSERT_EQ(sent_.size(), 3u);
  EXPECT_EQ(sent_[0].when, start_);
  EXPECT_EQ(sent_[0].query.max_response_delay, Millis(1000));
  EXPECT_EQ(sent_[1].when, start_ + Millis(1000));
  EXPECT_EQ(sent_[1].query.max_response_delay, Millis(1000));
  EXPECT_EQ(sent_[2].when, start_ + Millis(126'000));
  EXPECT_EQ(sent_[2].query.max_response_delay, Millis(10'000));
}

TEST_F(QuerierTest, SnooperResumesTrackingOnceTheStartupQueryHadItsShortDelay) {
  std::vector<MembershipEvent> events;
  MldSnooperOptions options;  // default timers
  auto snooper = MldSnooper::WithoutSocket(
      options, [&](const MembershipEvent& e) { events.push_back(e); }, Recorder(), {{7, own_}},
      now_);
  snooper->ProcessTimers(now_);  // the first start-up query
  ASSERT_EQ(sent_.size(), 1u);
  const Ipv6Address host = A("fe80::9"), group = A("ff3e::1234");
  const auto report =
      EncodeMldv2Report(std::vector<MldRecord>{{RecordType::kModeIsExclude, group, {}}});
  snooper->HandleMessage(7, host, 1, report, now_ + Millis(400));
  ASSERT_TRUE(snooper->HasListeners(7, group));
  // Tracking trusts its hosts again 1 s after the query, so the host's
  // leave ends the group at once (under the 10 s delay it would wait).
  const auto leave =
      EncodeMldv2Report(std::vector<MldRecord>{{RecordType::kChangeToInclude, group, {}}});
  snooper->ProcessTimers(now_ + Millis(1001));
  snooper->HandleMessage(7, host, 1, leave, now_ + Millis(1001));
  EXPECT_FALSE(snooper->HasListeners(7, group));
  EXPECT_EQ(snooper->tracking().fast_leaves, 1u);
}

TEST_F(QuerierTest, LowerAddressedQuerierSilencesUsUntilItGoesQuiet) {
  MldQuerier q(timers_, Recorder());
  q.AddInterface(7, own_, now_);
  q.ProcessTimers(now_);
  ASSERT_EQ(sent_.size(), 1u);
  q.OnQueryHeard(7, A("fe80::9"), now_);  // higher address: we stay querier
  EXPECT_TRUE(q.IsQuerier(7, now_));
  q.OnQueryHeard(7, A("fe80::1"), now_);  // lower address wins
  EXPECT_FALSE(q.IsQuerier(7, now_));
  EXPECT_FALSE(q.StartSpecificQuery({7, A("ff1e::1"), {}}, now_));
  const MldTime silenced_until = now_ + timers_.other_querier_present_interval();
  RunUntil(q, silenced_until - Millis(1));
  EXPECT_EQ(sent_.size(), 1u);
  RunUntil(q, silenced_until);
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].when, silenced_until);
  EXPECT_TRUE(q.IsQuerier(7, now_));
}

TEST_F(QuerierTest, SpecificQueriesAreRepeatedLastListenerQueryCountTimes) {
  MldQuerier q(timers_, Recorder());
  q.AddInterface(7, own_, now_);
  q.ProcessTimers(now_);
  sent_.clear();
  const QueryRequest req{7, A("ff1e::42"), {A("fe80::3")}};
  ASSERT_TRUE(q.StartSpecificQuery(req, now_));
  EXPECT_TRUE(q.StartSpecificQuery(req, now_));  // a repeat adds no sequence
  RunUntil(q, now_ + Millis(240));
  std::vector<Sent> specific;
  for (const auto& s : sent_)
    if (!s.query.group.IsUnspecified()) specific.push_back(s);
  ASSERT_EQ(specific.size(), 2u);
  EXPECT_EQ(specific[1].when - specific[0].when, timers_.last_listener_query_interval);
  EXPECT_EQ(specific[0].destination, A("ff1e::42"));
  EXPECT_EQ(specific[0].query.group, A("ff1e::42"));
  EXPECT_EQ(specific[0].query.sources, req.sources);
  EXPECT_EQ(specific[0].query.max_response_delay, timers_.last_listener_query_interval);
  EXPECT_FALSE(q.StartSpecificQuery({8, A("ff1e::42"), {}}, now_));  // unknown interface
}

TEST_F(QuerierTest, SendErrorsAreCounted) {
  MldQuerier q(timers_, [](int, const Ipv6Address&, const Ipv6Address&, std::span<const uint8_t>) {
    return Status::Error(ENETDOWN, "link down");
  });
  q.AddInterface(7, own_, now_);
  q.ProcessTimers(now_);
  EXPECT_EQ(q.counters().send_errors, 1u);
  EXPECT_EQ(q.counters().general_queries, 0u);
  EXPECT_NE(q.counters().last_error.find("link down"), std::string::npos);
}

// The snooper's glue: reports feed the table, leaves make the querier query
// and lower the timers, so the last leave ends the group within LLQT.
TEST_F(QuerierTest, SnooperEndsGroupWithinLastListenerQueryTimeAfterLastLeave) {
  std::vector<MembershipEvent> events;
  MldSnooperOptions opts;
  opts.timers = timers_;
  auto snooper = MldSnooper::WithoutSocket(
      opts, [&](const MembershipEvent& e) { events.push_back(e); }, Recorder(), {{7, own_}}, now_);
  const Ipv6Address g = A("ff1e::99"), b = A("fe80::b"), c = A("fe80::c");
  const MldRecord join{RecordType::kChangeToExclude, g, {}};
  const MldRecord leave{RecordType::kChangeToInclude, g, {}};
  snooper->HandleMessage(7, b, 1, EncodeMldv2Report(std::vector{join}), now_);
  snooper->HandleMessage(7, c, 1, EncodeMldv1(MldType::kV1Report, g), now_);
  ASSERT_EQ(events.size(), 1u);
  // B leaves; C answers the group query: the group stays.
  snooper->HandleMessage(7, b, 1, EncodeMldv2Report(std::vector{leave}), now_);
  ASSERT_FALSE(sent_.empty());
  EXPECT_EQ(sent_.back().query.group, g);
  now_ += Millis(50);
  snooper->HandleMessage(7, c, 1, EncodeMldv1(MldType::kV1Report, g), now_);
  const MldTime check = now_ + Millis(1000);
  while (now_ < check) {
    now_ += Millis(10);
    snooper->ProcessTimers(now_);
  }
  EXPECT_EQ(events.size(), 1u);
  // C leaves (MLDv1 Done): nobody answers, the group ends within LLQT.
  snooper->HandleMessage(7, c, 1, EncodeMldv1(MldType::kV1Done, g), now_);
  const MldTime left = now_;
  while (events.size() == 1 && now_ < left + Millis(5000)) {
    now_ += Millis(10);
    snooper->ProcessTimers(now_);
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].kind, MembershipEvent::Kind::kLeave);
  EXPECT_LE(now_ - left, timers_.last_listener_query_time());
  EXPECT_EQ(snooper->counters().v1_reports, 2u);
  EXPECT_EQ(snooper->counters().v1_dones, 1u);
  EXPECT_EQ(snooper->counters().v2_reports, 2u);
}

TEST_F(QuerierTest, SnooperCountsAndIgnoresMalformedAndOffLinkMessages) {
  std::vector<MembershipEvent> events;
  MldSnooperOptions opts;
  opts.timers = timers_;
  opts.querier = false;
  auto snooper = MldSnooper::WithoutSocket(
      opts, [&](const MembershipEvent& e) { events.push_back(e); }, {}, {}, now_);
  const auto report = EncodeMldv1(MldType::kV1Report, A("ff1e::1"));
  snooper->HandleMessage(7, A("fe80::b"), 1, std::span(report.data(), 10), now_);
  snooper->HandleMessage(7, A("fe80::b"), 2, report, now_);      // routed: hop limit 2
  snooper->HandleMessage(7, A("2001:db8::1"), 1, report, now_);  // not link-local
  snooper->HandleMessage(7, Ipv6Address{}, 1, report, now_);     // unspecified (DAD)
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(snooper->counters().malformed, 1u);
  EXPECT_EQ(snooper->counters().not_link_local, 3u);
  EXPECT_EQ(snooper->querier(), nullptr);
}

}  // namespace
}  // namespace lcfs::net
