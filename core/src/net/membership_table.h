// MembershipTable: who listens to which group on which interface, fed by
// the snooper: the state of an MLDv2 router (RFC 3810 section 7) and, beside
// it, explicit tracking of each listening host.
//
// One record per (interface, group) with a listener. It keeps the router
// state (filter mode, group timer, source records with their timers, updated
// by the rules of RFC 3810 7.4 and expired by ProcessTimers()) and the hosts
// heard listening: MLDv2 hosts do not suppress reports, so the source address
// of each report names one listener and each record of it states that
// host's own filter (the Linux bridge's explicit host tracking works the
// same way). A record lives while
//
//   - a tracked host is listening (its last report said so, less than the
//     Multicast Address Listening Interval ago), or
//   - tracking cannot be trusted for it and the router state still has a
//     listener: an MLDv1 host was heard (v1 hosts suppress reports, so hosts
//     go unseen) within the Older Version Host Present Timeout; more hosts
//     than the tracking caps (bounded memory) were heard since the record
//     began; a report without a source was applied; or the querier of the
//     interface changed and no General Query has been answered since (hosts
//     reporting to another querier may be unknown to us).
//
// So the record of a group whose tracked listeners have all left ends at
// once, on the report that says so, without the Last Listener Query Time;
// and a leave or query for a group with another tracked listener (forged by
// a third host, say) cannot end that listener's stream. Emits a join event
// when a group gets its first listener on an interface and a leave event when
// its record ends. Lookup is a hash map (O(1)); timers sit in a heap that is
// compacted so memory stays proportional to live records.
//
// Not thread-safe: one thread (the snooper's) owns it. Events go to the sink
// synchronously from Apply, LowerTimers, ProcessTimers and the interface
// calls; the sink must not call back into the table.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "lcfs/net/address.h"
#include "lcfs/net/listener_tracking.h"
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

// Who sent a report: its link-local source, and whether it was MLDv1.
struct Reporter {
  Ipv6Address address;
  bool v1 = false;
  // The report's place among those heard (grows with each message): a host
  // that starts listening in an earlier report asked for that group first.
  uint64_t report = 0;
};

class MembershipTable {
 public:
  enum class FilterMode : uint8_t { kInclude, kExclude };
  // A tracked listener: what its own last report said.
  struct Host {
    Ipv6Address address;
    MldTime expires;  // its last report + MALI
    FilterMode mode = FilterMode::kExclude;
    bool pinned = false;  // INCLUDE with more sources than tracked: listening until it leaves
    uint64_t since = 0;   // Reporter::report of the report in which it began listening
    std::vector<Ipv6Address> sources;
  };
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
    MldTime deadline{};       // earliest timer that changes the record
    std::vector<Host> hosts;  // tracked listeners
    bool untracked = false;   // over a cap, or an anonymous report: RFC timers until it ends
    MldTime v1_until{};       // an MLDv1 host was heard: RFC timers until then
    // Listeners that began listening since the record began: each tracked
    // host once per start; every listening report where hosts cannot be
    // told apart (untracked, MLDv1, anonymous). The exporter restarts its
    // count of symbols a newcomer needs when this grows.
    uint64_t arrivals = 0;
  };
  using EventSink = std::function<void(const MembershipEvent&)>;

  explicit MembershipTable(const MldTimers& timers, EventSink sink = {},
                           const TrackingLimits& limits = {});

  // Applies one report record heard on `ifindex` from `from`; appends the
  // queries the querier should send (it lowers timers with LowerTimers when
  // it does). Queries are asked for only where tracking cannot decide.
  void Apply(int ifindex, const MldRecord& record, MldTime now, std::vector<QueryRequest>* queries,
             const Reporter& from);
  // The same without a known reporter: the record falls back to RFC timers.
  void Apply(int ifindex, const MldRecord& record, MldTime now,
             std::vector<QueryRequest>* queries = nullptr);
  // A specific query for `q` was sent or heard with Maximum Response Delay
  // `max_response`: router timers of the group (or of the listed sources)
  // drop to max_response x Last Listener Query Count (RFC 3810 7.6.1; the
  // Linux bridge's rule), never rise. Tracked hosts are not affected.
  void LowerTimers(const QueryRequest& q, MldTime now, Millis max_response);
  void LowerTimers(const QueryRequest& q, MldTime now) {
    LowerTimers(q, now, timers_.last_listener_query_interval);
  }

  // `ifindex` went away: every record there ends (leave events).
  void DropInterface(int ifindex);

  // The querier of `ifindex` changed (or we started on it): tracking there
  // is suspended until the next General Query has been answered.
  void SuspendTracking(int ifindex, MldTime now);
  // A General Query with Maximum Response Delay `max_response` was sent or
  // heard on `ifindex`: a suspension ends once hosts had time to answer it.
  void OnGeneralQuery(int ifindex, MldTime now, Millis max_response);
  // True if tracking decides for `r` on `ifindex` now.
  bool Trusted(int ifindex, const Record& r, MldTime now) const;

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
  size_t tracked_hosts() const { return hosts_total_; }
  // Groups the tracked host `address` listens to on `ifindex` (0 if none).
  size_t GroupsOf(int ifindex, const Ipv6Address& address) const;
  // The group's part of its listeners' attention: the sum, over its tracked
  // hosts, of 1 / GroupsOf(host). 0 without a record or tracked host. The
  // exporter divides its rate by it, so each host gets one share however
  // many groups it joins.
  double ListenerShare(int ifindex, const Ipv6Address& group) const;
  // Changes whenever a listener arrives (Record::arrivals) or a tracked host
  // starts or stops listening to a group (so any ListenerShare may have).
  uint64_t generation() const { return generation_; }
  const TrackingCounters& tracking() const { return tracking_; }
  // Heap entries, for the memory test: stays within a small multiple of size().
  size_t timer_entries() const { return heap_.size(); }

 private:
  struct HeapEntry {
    MldTime when;
    MembershipKey key;
    bool operator>(const HeapEntry& o) const { return when > o.when; }
  };
  using Heap = std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<HeapEntry>>;

  void ApplyRecord(int ifindex, const MldRecord& record, MldTime now,
                   std::vector<QueryRequest>* queries, const Reporter* from);
  struct Suspension {
    bool awaiting_query = true;  // no General Query since the change
    MldTime until{};             // then: its answers are in by this time
  };

  // Updates the tracked host `from` for `rec`. True if `from` is not a
  // tracked host and the record says it does not listen (a leave from a
  // stranger).
  // Sets *arrived if `from` starts listening.
  bool Track(int ifindex, Record& r, const MldRecord& rec, const Reporter& from, MldTime now,
             bool* arrived);
  // Every change of a record's hosts goes through these (counts per host).
  void AddHost(int ifindex, Record& r, Host h);
  void ForgetHost(int ifindex, const Ipv6Address& address);
  // Recomputes the record's deadline; false if nothing keeps it alive.
  bool Settle(const MembershipKey& key, Record& r, MldTime now);
  void Schedule(const MembershipKey& key, Record& r);
  // Ends the record: frees its hosts, emits the leave.
  void End(std::unordered_map<MembershipKey, Record, MembershipKeyHash>::iterator it);
  void Emit(MembershipEvent::Kind kind, const MembershipKey& key);
  void MaybeCompact();
  std::optional<MldTime> SuspendedUntil(int ifindex, MldTime now) const;

  MldTimers timers_;
  EventSink sink_;
  TrackingLimits limits_;
  std::unordered_map<MembershipKey, Record, MembershipKeyHash> records_;
  Heap heap_;
  std::unordered_map<int, Suspension> suspended_;
  size_t hosts_total_ = 0;
  // Groups each tracked host listens to (bounded by hosts_total).
  std::unordered_map<MembershipKey, uint32_t, MembershipKeyHash> host_groups_;
  uint64_t generation_ = 0;
  TrackingCounters tracking_;
};

}  // namespace lcfs::net
