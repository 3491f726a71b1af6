// MLD timer parameters (RFC 3810 section 9) and the clock they run on.
//
// Everything MLD does is driven by these few values and the derived
// intervals below. They are configurable so tests can run them in
// milliseconds; the defaults are the RFC's.
#pragma once

#include <chrono>

#include "lcfs/status.h"

namespace lcfs::net {

// Every MLD component takes `now` as a parameter instead of reading a clock,
// so unit tests drive time by hand.
using MldClock = std::chrono::steady_clock;
using MldTime = MldClock::time_point;
using Millis = std::chrono::milliseconds;

struct MldTimers {
  int robustness = 2;                          // Robustness Variable
  Millis query_interval{125'000};              // between General Queries
  Millis query_response_interval{10'000};      // Max Response Delay of General Queries
  Millis last_listener_query_interval{1'000};  // Max Response Delay of specific queries
  int last_listener_query_count = 2;           // specific queries sent after a leave
  // General Queries sent at start-up (and when a link comes back), this far
  // apart, with this Maximum Response Delay. Listeners from before the
  // start are learnt only from their answers, so a restarted exporter
  // resumes their streams within about a second, not the query response
  // interval (RFC 3810 suggests a quarter of the query interval apart and
  // the usual delay; hosts answer any delay the same way).
  int startup_query_count = 2;
  Millis startup_query_interval{1'000};
  Millis startup_query_response_interval{1'000};

  // Multicast Address Listening Interval: a listener's report keeps its
  // group alive this long.
  Millis listening_interval() const {
    return robustness * query_interval + query_response_interval;
  }
  // Last Listener Query Time: a group queried after a leave ends this long
  // after the query if no listener answers.
  Millis last_listener_query_time() const {
    return last_listener_query_interval * last_listener_query_count;
  }
  // Other Querier Present Interval: how long a lower-addressed querier
  // silences us after its last query.
  Millis other_querier_present_interval() const {
    return robustness * query_interval + query_response_interval / 2;
  }
  // EINVAL unless every value is positive and the response interval is
  // shorter than the query interval.
  Status Validate() const;
  // Timers scaled for tests: query interval `qi`, the rest derived from it.
  static MldTimers Fast(Millis qi);
};

}  // namespace lcfs::net
