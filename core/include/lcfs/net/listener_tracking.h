// Explicit listener tracking: its bounds and what it counted
// (core/src/net/membership_table.h has the rules, docs/protocol.md section 8).
#pragma once

#include <cstddef>
#include <cstdint>

namespace lcfs::net {

// Bounds on the hosts tracked (memory: about 80 bytes a host, plus its
// sources). Above them a group falls back to the RFC timers, counted.
struct TrackingLimits {
  size_t hosts_per_group = 64;
  size_t hosts_total = 16384;
  size_t sources_per_host = 8;  // more: the host counts as listening until it leaves
  // Hard cap on (interface, group) records: reports creating more are
  // refused and counted. The exporter keeps records only for groups it
  // serves, so this bounds a flood, not a legitimate load.
  size_t records_total = 131072;
};

struct TrackingCounters {
  uint64_t fast_leaves = 0;      // groups ended at once: their last tracked host left
  uint64_t fallbacks = 0;        // records put on RFC timers: over a cap, or anonymous
  uint64_t v1_fallbacks = 0;     // records put on RFC timers by an MLDv1 report
  uint64_t refused_leaves = 0;   // leaves from untracked hosts of a tracked group: ignored
  uint64_t hosts_refused = 0;    // hosts not tracked: a cap was reached
  uint64_t querier_changes = 0;  // times tracking was suspended on an interface
  uint64_t queries_lowered = 0;  // specific queries that lowered a router timer
  uint64_t records_refused = 0;  // new records refused: records_total reached
};

}  // namespace lcfs::net
