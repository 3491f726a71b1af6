// MldSnooper: how the exporter learns who listens. It reads MLD messages from
// an MldSocket, feeds report records to a MembershipTable (which emits join
// and leave events) and runs an MldQuerier on the same interfaces.
//
// Made for the caller's event loop: register fd() for EPOLLIN, call
// HandleReadable() when readable, and ProcessTimers(now) at NextDeadline().
// MldSnooperThread runs that loop on a thread for callers without one.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "lcfs/net/membership_table.h"
#include "lcfs/net/mld_querier.h"
#include "lcfs/net/mld_socket.h"
#include "lcfs/net/mld_timers.h"
#include "lcfs/status.h"
#include "lcfs/unique_fd.h"

namespace lcfs::net {

struct MldSnooperOptions {
  std::vector<int> interfaces;  // empty: every multicast-capable interface
  MldTimers timers;
  bool querier = true;  // also act as MLDv2 querier
};

struct MldCounters {
  uint64_t messages = 0;        // MLD messages read
  uint64_t malformed = 0;       // failed to parse: counted, ignored
  uint64_t not_link_local = 0;  // hop limit not 1 or source not link-local: ignored
  uint64_t v1_reports = 0, v1_dones = 0, v2_reports = 0, queries = 0;
  uint64_t records = 0;  // report records applied
};

class MldSnooper {
 public:
  using EventSink = MembershipTable::EventSink;

  // Opens the raw socket (needs CAP_NET_RAW) and starts on the interfaces.
  static Result<std::unique_ptr<MldSnooper>> Open(const MldSnooperOptions& options, EventSink sink,
                                                  MldTime now = MldClock::now());
  // No socket: messages come through HandleMessage and queries go to `send`
  // (unit tests, fuzzing). Interfaces are given with their own address.
  static std::unique_ptr<MldSnooper> WithoutSocket(
      const MldSnooperOptions& options, EventSink sink, MldQuerier::SendFunction send,
      const std::vector<std::pair<int, Ipv6Address>>& interfaces, MldTime now);

  int fd() const { return socket_ ? socket_->fd() : -1; }
  // Drains the socket. Errors are those of the socket, never of a message.
  Status HandleReadable(MldTime now = MldClock::now());
  // One received message, already read.
  void HandleMessage(int ifindex, const Ipv6Address& source, int hop_limit,
                     std::span<const uint8_t> message, MldTime now);

  std::optional<MldTime> NextDeadline() const;
  void ProcessTimers(MldTime now = MldClock::now());

  const MembershipTable& table() const { return table_; }
  const MldQuerier* querier() const { return querier_ ? &*querier_ : nullptr; }
  const MldCounters& counters() const { return counters_; }
  bool receives_mldv1_reports() const { return socket_ && socket_->receives_mldv1_reports(); }

 private:
  MldSnooper(const MldSnooperOptions& options, EventSink sink);

  MldTimers timers_;
  std::optional<MldSocket> socket_;
  MembershipTable table_;
  std::optional<MldQuerier> querier_;
  MldCounters counters_;
  std::vector<QueryRequest> queries_;  // scratch
};

// Runs a snooper's loop on a thread until destroyed. Events are delivered on
// that thread.
class MldSnooperThread {
 public:
  static Result<std::unique_ptr<MldSnooperThread>> Start(std::unique_ptr<MldSnooper> snooper);
  ~MldSnooperThread();
  // The snooper is only safe to inspect from the event callback or once
  // stopped.
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
