// MldSnooper: how the exporter learns who listens. It reads MLD messages from
// a raw ICMPv6 socket, feeds report records to a membership table (which
// emits join and leave events) and runs an MLDv2 querier on the same
// interfaces (docs/protocol.md section 8).
//
// Made for the caller's event loop: register fd() for EPOLLIN, call
// HandleReadable() when readable, and ProcessTimers(now) at NextDeadline().
// MldSnooperThread runs that loop on a thread for callers without one.
//
// Threads: an MldSnooper is not thread-safe. One thread at a time calls
// everything, and events reach the sink on that thread, synchronously from
// HandleReadable, HandleMessage and ProcessTimers; the sink must not call
// back into the snooper (queue the events, as the share engine does).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "lcfs/net/address.h"
#include "lcfs/net/listener_tracking.h"
#include "lcfs/net/membership_event.h"
#include "lcfs/net/mld_timers.h"
#include "lcfs/status.h"
#include "lcfs/unique_fd.h"

namespace lcfs::net {

// Internals (core/src/net/): tests reach them through table() and querier().
class MembershipTable;
class MldQuerier;
class MldSocket;

// Sends one ICMPv6 MLD message on `ifindex` from `source` to `destination`.
using MldSendFunction =
    std::function<Status(int ifindex, const Ipv6Address& source, const Ipv6Address& destination,
                         std::span<const uint8_t> message)>;

struct MldSnooperOptions {
  std::vector<int> interfaces;  // empty: every multicast-capable interface
  MldTimers timers;
  bool querier = true;  // also act as MLDv2 querier
  TrackingLimits tracking;
  // Groups worth keeping state for: a record for a group without state yet
  // is applied only if this says yes. Others are counted in
  // MldCounters::ignored_records and cost nothing, so a flood of reports for
  // groups nobody serves cannot grow memory. Empty: every group.
  std::function<bool(const Ipv6Address& group)> group_filter;
  // Called for each refused record that says its host listens, with
  // `joining` true when it starts to (a state-change record, or an MLDv1
  // Report): the exporter answers a channel's join at once and asks again
  // after publishing a new index. May be empty; must not call back into
  // the snooper.
  std::function<void(int ifindex, const Ipv6Address& group, bool joining)> on_ignored;
};

struct MldCounters {
  uint64_t messages = 0;        // MLD messages read
  uint64_t malformed = 0;       // failed to parse: counted, ignored
  uint64_t not_link_local = 0;  // hop limit not 1 or source not link-local: ignored
  uint64_t v1_reports = 0, v1_dones = 0, v2_reports = 0, queries = 0;
  uint64_t records = 0;          // report records applied
  uint64_t ignored_records = 0;  // records of groups the filter refused
};

class MldSnooper {
 public:
  using EventSink = std::function<void(const MembershipEvent&)>;

  // Opens the raw socket (needs CAP_NET_RAW) and starts on the interfaces.
  static Result<std::unique_ptr<MldSnooper>> Open(const MldSnooperOptions& options, EventSink sink,
                                                  MldTime now = MldClock::now());
  // No socket: messages come through HandleMessage and queries go to `send`
  // (unit tests, fuzzing). Interfaces are given with their own address.
  static std::unique_ptr<MldSnooper> WithoutSocket(
      const MldSnooperOptions& options, EventSink sink, MldSendFunction send,
      const std::vector<std::pair<int, Ipv6Address>>& interfaces, MldTime now);
  ~MldSnooper();
  MldSnooper(const MldSnooper&) = delete;
  MldSnooper& operator=(const MldSnooper&) = delete;

  int fd() const;
  // Drains the socket. Errors are those of the socket, never of a message.
  Status HandleReadable(MldTime now = MldClock::now());
  // One received message, already read.
  void HandleMessage(int ifindex, const Ipv6Address& source, int hop_limit,
                     std::span<const uint8_t> message, MldTime now);

  std::optional<MldTime> NextDeadline() const;
  void ProcessTimers(MldTime now = MldClock::now());

  // Asks the listeners of `group` on `ifindex` to report now (a Multicast
  // Address Specific Query), if we are querier there: for a group whose
  // reports the filter refused and that it now accepts.
  void QueryGroup(int ifindex, const Ipv6Address& group, MldTime now = MldClock::now());

  // An interface appeared, or its link came back (possibly with a new
  // link-local address `own`): listens there and, as querier, starts over
  // with start-up General Queries to relearn its listeners; tracking there
  // waits for their answers.
  Status AddInterface(int ifindex, const Ipv6Address& own, MldTime now = MldClock::now());
  // `ifindex` went away: its groups leave (events) and its querier stops.
  void RemoveInterface(int ifindex);

  // True while `group` has listeners on `ifindex` (between its join and
  // leave events).
  bool HasListeners(int ifindex, const Ipv6Address& group) const;
  // Listeners that began listening to `group` on `ifindex` since it joined
  // (grows with each newcomer; 0 without listeners). See MembershipTable.
  uint64_t ListenerArrivals(int ifindex, const Ipv6Address& group) const;
  // Calls fn(host, since) for each tracked host listening to `group` on
  // `ifindex`; `since` orders when each began listening (the report that
  // said so: smaller is earlier, equal is the same report). Returns true if
  // the group also has listeners tracking does not know (MLDv1 hosts, more
  // hosts than the caps), or no tracked host at all.
  bool ForEachListener(
      int ifindex, const Ipv6Address& group, MldTime now,
      const std::function<void(const Ipv6Address& host, uint64_t since)>& fn) const;
  // Changes whenever a listener arrives or a tracked host starts or stops
  // listening to a group.
  uint64_t listeners_generation() const;
  const MembershipTable& table() const { return *table_; }
  const MldQuerier* querier() const { return querier_.get(); }
  const MldCounters& counters() const { return counters_; }
  const TrackingCounters& tracking() const;
  size_t tracked_hosts() const;
  bool receives_mldv1_reports() const;

 private:
  MldSnooper(const MldSnooperOptions& options, EventSink sink);

  MldTimers timers_;
  std::function<bool(const Ipv6Address&)> group_filter_;
  std::function<void(int, const Ipv6Address&, bool)> on_ignored_;
  std::unique_ptr<MldSocket> socket_;
  std::unique_ptr<MembershipTable> table_;
  std::unique_ptr<MldQuerier> querier_;
  MldCounters counters_;
  uint64_t reports_heard_ = 0;  // Reporter::report of the next report
};

// Runs a snooper's loop on a thread until destroyed. Events are delivered on
// that thread. Start, Stop and the destructor are called from the owning
// thread; the snooper may be inspected from the event callback (on the loop
// thread) or, from other threads, only once Stop() has returned.
class MldSnooperThread {
 public:
  static Result<std::unique_ptr<MldSnooperThread>> Start(std::unique_ptr<MldSnooper> snooper);
  ~MldSnooperThread();
  MldSnooper& snooper() { return *snooper_; }
  void Stop();

 private:
  MldSnooperThread() = default;
  void Run();
  std::unique_ptr<MldSnooper> snooper_;
  UniqueFd wake_;  // eventfd
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace lcfs::net
