#include "lcfs/net/mld_timers.h"

namespace lcfs::net {

Status MldTimers::Validate() const {
  if (robustness < 1 || robustness > 7) return Status::Error(EINVAL, "MLD robustness must be 1..7");
  if (query_interval.count() <= 0 || query_response_interval.count() <= 0 ||
      last_listener_query_interval.count() <= 0 || startup_query_interval.count() <= 0 ||
      startup_query_response_interval.count() <= 0)
    return Status::Error(EINVAL, "MLD intervals must be positive");
  if (last_listener_query_count < 1 || startup_query_count < 1)
    return Status::Error(EINVAL, "MLD query counts must be at least 1");
  if (query_response_interval >= query_interval)
    return Status::Error(EINVAL, "MLD query response interval must be below the query interval");
  if (startup_query_response_interval > query_response_interval)
    return Status::Error(EINVAL,
                         "MLD start-up query response interval must not exceed the query response "
                         "interval");
  return Status::Ok();
}

MldTimers MldTimers::Fast(Millis qi) {
  MldTimers t;
  t.query_interval = qi;
  t.query_response_interval = qi / 4;
  t.last_listener_query_interval = qi / 8;
  t.startup_query_interval = qi / 4;
  t.startup_query_response_interval = qi / 8;
  return t;
}

}  // namespace lcfs::net
