// MembershipTable: who listens to which group on which interface, as an MLDv2
// router keeps it (RFC 3810 section 7), fed by the snooper.
//
// One record per (interface, group) with a listener: filter mode, group
// timer and source records with their timers, updated by the rules of RFC
// 3810 7.4 for each report record and expired by ProcessTimers(). Emits a
// join event when a group gets its first listener on an interface and a
// leave event when its record ends (timers ran out, or a queried leave got
// no answer). Lookup is a hash map (O(1)); timers sit in a heap that is
// compacted so memory stays proportional to live records.
//
// Not thread-safe: one thread (the snooper's) owns it. Events go to the sink
// synchronously from Apply, LowerTimers and ProcessTimers; the sink must not
// call back into the table.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "lcfs/net/address.h"
#include "lcfs/net/membership_event.h"
#include "lcfs/net/mld_timers.h"
#include "net/mld_message.h"

namespace lcfs::net {

struct MembershipKey {
  int ifindex = 0;
  Ipv6Address group;
  bool operator==(const MembershipKey&) const = default;
};

struct MembershipKeyHash {
  size_t operator()(const MembershipKey& k) const noexcept {
    return std::hash<Ipv6Address>()(k.group) ^ static_cast<size_t>(k.ifindex) * 0x9e3779b1u;
  }
};

// A query the table asks for (RFC 3810 7.4 "Send Q(G)", "Send Q(G,S)"):
// empty `sources` is a Multicast Address Specific Query.
struct QueryRequest {
  int ifindex = 0;
  Ipv6Address group;
  std::vector<Ipv6Address> sources;
};

class MembershipTable {
 public:
  enum class FilterMode : uint8_t { kInclude, kExclude };
  struct Source {
    Ipv6Address address;
    // INCLUDE mode: listened to until then. EXCLUDE mode: requested (X) while
    // in the future, excluded (Y) once past.
    MldTime timer;
  };
  struct Record {
    FilterMode mode = FilterMode::kInclude;
    MldTime group_timer{};  // EXCLUDE mode only
    std::vector<Source> sources;
    MldTime deadline{};  // earliest timer that changes the record
  };
  using EventSink = std::function<void(const MembershipEvent&)>;

  explicit MembershipTable(const MldTimers& timers, EventSink sink = {});

  // Applies one report record heard on `ifindex`; appends the queries the
  // querier should send (it lowers timers with LowerTimers when it does).
  void Apply(int ifindex, const MldRecord& record, MldTime now,
             std::vector<QueryRequest>* queries = nullptr);
  // A specific query for `q` was sent or heard: timers of the group (or of
  // the listed sources) drop to the Last Listener Query Time (RFC 3810 7.6).
  void LowerTimers(const QueryRequest& q, MldTime now);

  // The earliest time ProcessTimers has something to do.
  std::optional<MldTime> NextDeadline() const;
  // Expires what is due at `now`: mode changes, leave events.
  void ProcessTimers(MldTime now);

  const Record* Find(int ifindex, const Ipv6Address& group) const;
  bool HasListeners(int ifindex, const Ipv6Address& group) const {
    return Find(ifindex, group) != nullptr;
  }
  // True if some listener wants traffic from `source` (the exporter asks
  // with its own address): INCLUDE lists it, or EXCLUDE does not exclude it.
  bool WantsSource(int ifindex, const Ipv6Address& group, const Ipv6Address& source,
                   MldTime now) const;
  size_t size() const { return records_.size(); }
  // Heap entries, for the memory test: stays within a small multiple of size().
  size_t timer_entries() const { return heap_.size(); }

 private:
  struct HeapEntry {
    MldTime when;
    MembershipKey key;
    bool operator>(const HeapEntry& o) const { return when > o.when; }
  };
  using Heap = std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<HeapEntry>>;

  // Recomputes the record's deadline, ends it if nothing is left; returns
  // false if the record was erased.
  bool Settle(Record& r, MldTime now);
  void Schedule(const MembershipKey& key, Record& r);
  void Emit(MembershipEvent::Kind kind, const MembershipKey& key);
  void MaybeCompact();

  MldTimers timers_;
  EventSink sink_;
  std::unordered_map<MembershipKey, Record, MembershipKeyHash> records_;
  Heap heap_;
};

}  // namespace lcfs::net
