// Relay: the forwarding core of lcfs-relay (docs/protocol.md, "Relays").
//
// Downstream, on each of its links, the relay is what an exporter is to its
// readers: an MLD snooper and querier (net::MldSnooper). Upstream it is an
// ordinary receiver: for each lcfs group with listeners on some downstream
// link it joins the same group on the upstream interface, so the exporter
// (or the next relay) sees an ordinary join from the relay, and it leaves
// upstream when the last downstream link loses its last listener. Every
// datagram that arrives upstream on such a group, parses as an lcfs packet
// (net::ParsePacket) or a channel record (channel::ParseRecord, unverified:
// readers check signatures) and is within --rate is sent as it is, at once,
// to the downstream links that want the group, with hop limit 1 from the
// relay's own link-local address. Anything else is dropped and counted.
//
// Threads: a Relay is not thread-safe; Run() is its loop, on the caller's
// thread. It forwards symbols only: it neither decodes nor caches.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lcfs/net/group.h"
#include "lcfs/net/membership_event.h"
#include "lcfs/net/mld_snooper.h"
#include "lcfs/net/mld_timers.h"
#include "lcfs/net/multicast_socket.h"
#include "lcfs/net/packet.h"
#include "lcfs/status.h"

namespace lcfs::relay {

struct RelayOptions {
  int upstream = 0;             // ifindex the groups are joined on
  std::vector<int> downstream;  // ifindexes served (MLD snooped, packets sent)
  net::GroupScheme scheme;      // which groups are lcfs groups, and the port
  net::MldTimers timers;        // of the downstream querier
  // Cap on what is sent on each downstream link, bits/s of Ethernet frames
  // (UDP payload + 62 bytes); datagrams over it are dropped. 0: no cap.
  uint64_t rate = 0;
};

struct RelayCounters {
  uint64_t received = 0;         // datagrams read from the upstream socket
  uint64_t forwarded = 0;        // datagrams sent downstream (one per link)
  uint64_t malformed = 0;        // neither a symbol nor a channel record (packets())
  uint64_t records = 0;          // channel records forwarded (section 11)
  uint64_t truncated = 0;        // larger than any lcfs packet
  uint64_t wrong_interface = 0;  // arrived on another interface than upstream
  uint64_t unwanted = 0;         // for a group no downstream link listens to
  uint64_t over_rate = 0;        // dropped by --rate
  uint64_t send_dropped = 0;     // the socket buffer was full, or a send failed
  uint64_t upstream_joins = 0;   // groups joined upstream
  uint64_t upstream_leaves = 0;  // groups left upstream
  uint64_t join_failures = 0;    // joins the kernel refused (logged)
};

class Relay {
 public:
  // Opens the snooper (CAP_NET_RAW) and the sockets; every interface must be
  // up, multicast-capable and have its link-local address. `log` receives
  // one line per notable event (may be empty).
  static Result<std::unique_ptr<Relay>> Open(const RelayOptions& options,
                                             std::function<void(const std::string&)> log = {});
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Runs until `stop_fd` becomes readable (a signalfd or an eventfd; it is
  // not read). Errors are those of epoll or of the sockets, never of a packet.
  Status Run(int stop_fd);

  const RelayCounters& counters() const { return counters_; }
  const net::PacketCounters& packets() const { return packets_; }
  // Groups joined upstream now.
  size_t joined_groups() const { return wanted_.size(); }

 private:
  struct Downstream;
  Relay() = default;
  void DrainEvents();
  void OnEvent(const net::MembershipEvent& e);
  Status HandleUpstream();
  Downstream* FindDownstream(int ifindex);

  RelayOptions options_;
  std::function<void(const std::string&)> log_;
  std::unique_ptr<net::MldSnooper> snooper_;
  std::vector<net::MembershipEvent> events_;  // queued by the snooper's sink
  std::optional<net::MulticastSocket> upstream_;
  std::vector<std::unique_ptr<Downstream>> downstream_;
  // Group -> the downstream ifindexes with listeners; a group is here
  // exactly while it is joined upstream.
  std::unordered_map<net::Ipv6Address, std::vector<int>> wanted_;
  RelayCounters counters_;
  net::PacketCounters packets_;
};

}  // namespace lcfs::relay
