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
// With a cache (RelayOptions::cache_dir), the relay also decodes what it
// forwards (ObjectCollector), stores each object that verifies against the
// id and group it came with (cache::ChunkCache, the mount's format), and
// serves a downstream join of a group it holds from the cache
// (CachedStream) instead of joining upstream; a relayed group whose object
// verifies is left upstream and its listeners' repair comes from the cache
// from then on, after a hold (RepairHold): they had every symbol the relay
// decoded from. A listener that arrives where its group has listeners
// already (no join event, and invisible upstream) is owed a whole set from
// where it came, from the cache once the object verifies. Sources whose
// object failed verification on a group are no longer forwarded on it.
//
// Two relays between the same links elect one to serve (RelayOptions::
// election, replica::Replicator on the downstream links, as exporter replicas
// do): the other stands by, joined upstream, decoding and caching as the
// active one does but sending nothing downstream, and takes over when the
// active one's hellos stop.
//
// Threads: a Relay is not thread-safe; Run() is its loop, on the caller's
// thread (the election's thread only sets a flag and wakes it).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lcfs/cache/chunk_cache.h"
#include "lcfs/net/group.h"
#include "lcfs/net/membership_event.h"
#include "lcfs/net/mld_snooper.h"
#include "lcfs/net/mld_timers.h"
#include "lcfs/net/multicast_socket.h"
#include "lcfs/net/packet.h"
#include "lcfs/replica/replicator.h"
#include "lcfs/status.h"
#include "lcfs/unique_fd.h"
#include "object_collector.h"
#include "repair_hold.h"

namespace lcfs::relay {

struct RelayOptions {
  int upstream = 0;             // ifindex the groups are joined on
  std::vector<int> downstream;  // ifindexes served (MLD snooped, packets sent)
  net::GroupScheme scheme;      // which groups are lcfs groups, and the port
  net::MldTimers timers;        // of the downstream querier
  // Cap on what is sent on each downstream link, bits/s of Ethernet frames
  // (UDP payload + 62 bytes); datagrams over it are dropped. 0: no cap.
  uint64_t rate = 0;
  // Cache directory (empty: forward only) and its size bound (0: none).
  std::string cache_dir;
  uint64_t cache_size = 0;
  // Objects served from the cache go out at this rate in all (bits/s of
  // frames); 0: --rate if set, else the exporter's default.
  uint64_t serve_rate = 0;
  // Bounds of the pause of a cached stream once its listeners were sent
  // what they are owed, before each round of repair (RepairHold; section
  // 9's holds, the exporter's bounds).
  std::chrono::milliseconds min_hold{5};
  std::chrono::milliseconds max_hold{1000};
  // What the collector may hold while decoding, and the largest object.
  uint64_t decode_memory = 256u << 20;
  uint64_t max_object = 64u << 20;
  // Elect one of the relays of the downstream links (docs/protocol.md
  // section 15, "Standby"); false: always serve.
  bool election = true;
  std::chrono::milliseconds hello_interval{200};
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
  uint64_t verified = 0;         // objects decoded and verified (cached unless the write failed)
  uint64_t forged = 0;           // objects decoded that did not verify: never cached nor served
  uint64_t forged_dropped = 0;   // packets not forwarded: their source sent a forged object
  uint64_t decode_refused = 0;   // symbols not decoded (odd OTI, too large, memory spent)
  uint64_t cache_errors = 0;     // objects that verified but could not be stored
  uint64_t served_objects = 0;   // groups started from the cache
  uint64_t served_packets = 0;   // packets of those, one per link
  uint64_t standby_dropped = 0;  // packets not forwarded while standing by
  uint64_t takeovers = 0;        // became the serving relay
  uint64_t taken_over = 0;       // relayed groups served from the cache once their object verified
  uint64_t newcomers = 0;        // listeners that joined a group relayed or served already
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
  // Whether this relay sends downstream (not standing by).
  bool active() const { return active_.load(std::memory_order_acquire); }

 private:
  struct Downstream;
  // A source and an object it sent forged on a group.
  struct Forged {
    net::Ipv6Address source;
    net::ObjectId id;
    bool operator==(const Forged&) const = default;
  };
  struct Wanted {
    std::vector<int> links;      // downstream ifindexes with listeners
    std::vector<Forged> forged;  // not forwarded any more (at most 16)
    uint64_t arrivals = 0;       // the snooper's ListenerArrivals, summed over links
    uint64_t passed_on = 0;      // symbols passed on downstream
    uint64_t position = 0;       // past the highest stream position passed on
    // A listener arrived after the group was joined upstream, when
    // `passed_on` was this: the exporter cannot see it (it hears the relay
    // only), so once the object verifies the relay owes it the rest of a set.
    std::optional<uint64_t> newcomer_at;
  };
  struct Served;
  struct CachedName {
    Hash name;
    ObjectKind kind;
  };
  Status IndexCache();
  // Starts serving `group` on `ifindex` from the cache; false if not cached.
  bool ServeFromCache(const net::Ipv6Address& group, int ifindex);
  // Sends what cached streams may send now; returns when to call again.
  std::optional<std::chrono::steady_clock::time_point> SendCached();
  // Decodes the symbol; true if its group is served from the cache from now
  // on (it left wanted_: the caller must not use `wanted` any more).
  bool Collect(const net::IncomingDatagram& dg, const net::PacketView& view, Wanted* wanted);
  // A symbol of the group is passed on downstream.
  static void NotePassedOn(const net::PacketView& view, Wanted* wanted);
  // Serves a relayed group whose object just verified from the cache, and
  // leaves it upstream; false (still relayed) over the memory bound.
  bool TakeOver(const net::Ipv6Address& group, const Hash& name, ObjectKind kind,
                std::vector<uint8_t> bytes);
  // The election changed our state (on the loop's thread).
  void OnElection();
  // Listeners that arrived on a group that already had some (no join event):
  // a served group owes them a whole set, a relayed one notes them.
  void RefreshListeners();
  uint64_t Arrivals(const net::Ipv6Address& group, const std::vector<int>& links) const;
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
  std::unordered_map<net::Ipv6Address, Wanted> wanted_;
  // With a cache: what it holds, by group (one object per group: a second
  // object of a colliding group is simply not served from the cache).
  std::unique_ptr<cache::ChunkCache> cache_;
  std::unique_ptr<ObjectCollector> collector_;
  std::unordered_map<net::Ipv6Address, CachedName> cached_;
  // Groups served from the cache now (never also in wanted_).
  std::unordered_map<net::Ipv6Address, std::unique_ptr<Served>> served_;
  uint64_t served_memory_ = 0;
  size_t serve_next_ = 0;        // where SendCached's round robin starts
  uint64_t listeners_seen_ = 0;  // snooper_->listeners_generation() last looked at
  RepairHold repair_hold_{std::chrono::milliseconds(5), std::chrono::seconds(1)};  // of options_
  double serve_tokens_ = 0;
  std::chrono::steady_clock::time_point serve_refilled_{};
  // Set by the election's thread, which then writes election_fd_.
  std::atomic<bool> active_{true};
  bool was_active_ = true;
  UniqueFd election_fd_;
  std::unique_ptr<replica::Replicator> replicator_;  // last: stopped first
  RelayCounters counters_;
  net::PacketCounters packets_;
};

}  // namespace lcfs::relay
