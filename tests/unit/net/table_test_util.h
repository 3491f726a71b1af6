// A MembershipTable driven by hand for the table and tracking unit tests:
// fast timers, a clock the test advances, the events it emitted and the
// queries it asked for.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "net/membership_table.h"

namespace lcfs::net {

inline Ipv6Address A(const std::string& s) { return *Ipv6Address::Parse(s); }

// `base` with its last 32 bits replaced by i: the i-th of many groups or hosts.
inline Ipv6Address Numbered(const Ipv6Address& base, int i) {
  Ipv6Address a = base;
  a.bytes[12] = static_cast<uint8_t>(i >> 24);
  a.bytes[13] = static_cast<uint8_t>(i >> 16);
  a.bytes[14] = static_cast<uint8_t>(i >> 8);
  a.bytes[15] = static_cast<uint8_t>(i);
  return a;
}

class TableTest : public ::testing::Test {
 protected:
  explicit TableTest(TrackingLimits limits = {})
      : table_(
            timers_, [this](const MembershipEvent& e) { events_.push_back(e); }, limits) {}

  // Moves the clock on and runs the table's timers.
  void Advance(Millis d) {
    now_ += d;
    table_.ProcessTimers(now_);
  }

  MldTimers timers_ = MldTimers::Fast(Millis(1000));  // MALI 2250 ms, LLQT 250 ms
  MldTime now_ = MldTime{} + std::chrono::hours(1);
  std::vector<MembershipEvent> events_;
  std::vector<QueryRequest> queries_;
  MembershipTable table_;
};

}  // namespace lcfs::net
