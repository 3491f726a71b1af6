// The share engine: serves the objects of a published index to
// whoever asks for them, as MLD shows.
//
//   auto handle = share::Share(index, /*ifindex=*/0, &stats, share::kShareLoopback);
//   ...
//   share::Unshare(std::move(*handle));
//
// A thread runs one epoll loop over the MLD snooper (join and leave events,
// querier timers), the senders and the kernel's link events: a link that
// goes down pauses its interface (send errors back off, never spin), one
// that goes away is dropped with its groups, and one that comes back or
// appears (matching the interfaces asked for by name, or any) is served
// again after a General Query. A join of a group that maps to an object
// of the index (GroupMap) activates that object on that interface: its
// packets go out on its group, source symbols first, then repair symbols,
// until the MLD leave. Once every listener has been sent enough to decode
// without loss, the object holds for their leaves before each round of
// repair (docs/protocol.md section 9). Active objects take turns (a few
// packets per turn) by stride scheduling under one global token bucket:
// each listening host has one share of the rate and gives it to the group
// it asked for first, so a reader's chunks go out in order and readers of
// one file share each chunk's stream from its start. Packets of a turn
// leave in one system call (UDP GSO).
// Encoders are loaded when an object starts and freed when it goes idle; a
// cap on their total memory makes the largest-served objects yield their
// encoder (keeping their place in the stream) to waiting ones.
//
// Serve() swaps in a new index; objects of the previous one stay served
// for a grace period so readers of the old root are not cut off. An object
// whose bytes no longer match its hash (a file changed behind the exporter's
// back) is never sent: it is dropped, counted, and reported to on_stale.
//
// Threads: Share, Unshare and the ShareEngine destructor are called from the
// owning thread; Serve, SetStandby, interfaces() and stats() from any thread (Serve hands
// the index to the engine thread under a lock). Everything else, and the
// on_stale and log callbacks, runs on the engine's own thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/index/indexer.h"
#include "lcfs/net/group.h"
#include "lcfs/net/mld_timers.h"
#include "lcfs/status.h"

namespace lcfs::share {

// 100 Mbit/s: a tenth of a gigabit LAN, so an exporter left running never
// crowds out other traffic, and fast enough that a 1 MiB chunk takes ~85 ms.
inline constexpr uint64_t kDefaultRate = 100'000'000;
// Encoders of active objects may hold this much memory in total.
inline constexpr size_t kDefaultEncoderMemory = 256u << 20;
inline constexpr std::chrono::milliseconds kDefaultGrace{60'000};
// What the rate limit counts per packet besides the UDP payload: the IPv6
// (40) and UDP (8) headers and the Ethernet header (14), so --rate is the
// rate seen on the wire (interface tx_bytes).
inline constexpr size_t kPacketOverhead = 40 + 8 + 14;

// Statistics, updated by the engine thread, readable at any time.
struct ShareStats {
  std::atomic<uint64_t> published_objects{0};  // objects in the current index
  std::atomic<uint64_t> objects_served{0};     // activations: an object started sending
  std::atomic<uint64_t> active_objects{0};     // objects sending now
  std::atomic<uint64_t> active_groups{0};      // (group, interface) pairs with listeners served
  std::atomic<uint64_t> symbols_sent{0};       // packets, each copy on each interface
  std::atomic<uint64_t> bytes_sent{0};         // UDP payload bytes of those packets
  std::atomic<uint64_t> joins{0};              // MLD join events seen (any group)
  std::atomic<uint64_t> leaves{0};             // MLD leave events seen (any group)
  std::atomic<uint64_t> unknown_groups{0};     // joins of lcfs groups that map to no object
  std::atomic<uint64_t> stale_objects{0};      // refused: bytes no longer match the hash
  std::atomic<uint64_t> encoder_loads{0};      // encoders built (re-loads after eviction included)
  std::atomic<uint64_t> encoder_bytes{0};      // memory held by encoders now
  std::atomic<uint64_t> send_errors{0};        // failed sends (socket errors, full buffers)
  // Every listener known had been sent enough to decode without loss: the
  // group waited for leaves (a hold), then sent a round of repair symbols.
  std::atomic<uint64_t> holds{0};
  std::atomic<uint64_t> round_symbols{0};  // packets of those rounds (lossy or slow listeners)
  // Per activation, the symbols already sent when its last listener
  // arrived (which that listener then needs again): the cost of listeners
  // joining a stream under way rather than together.
  std::atomic<uint64_t> newcomer_symbols{0};
  // Weighings in which a group that had not started waited for a host
  // behind it in the same file to join it (docs/protocol.md section 9).
  std::atomic<uint64_t> start_delays{0};
  // Explicit listener tracking (docs/protocol.md section 8).
  std::atomic<uint64_t> tracked_hosts{0};   // (host, group) pairs tracked now
  std::atomic<uint64_t> fast_leaves{0};     // groups stopped on their last listener's report
  std::atomic<uint64_t> refused_leaves{0};  // leaves from hosts not listening: ignored
  std::atomic<uint64_t> hosts_refused{0};   // hosts over the tracking caps: not tracked
  std::atomic<uint64_t> rfc_fallbacks{0};   // groups on RFC timers (caps, MLDv1)
  // Report records for groups that name nothing served: no state is kept
  // for them, so a flood of them costs no memory.
  std::atomic<uint64_t> ignored_records{0};
  std::atomic<uint64_t> records_refused{0};  // new groups refused: membership cap reached
  // Times tracking was suspended on an interface until a General Query is
  // answered: the start, a link back, another querier taking over.
  std::atomic<uint64_t> querier_changes{0};
};

enum ShareFlags : unsigned {
  // IPV6_MULTICAST_LOOP: also deliver the packets to listeners on this host.
  kShareLoopback = 1u << 0,
};

struct ShareOptions {
  // Several interfaces (ifindexes) for one engine, instead of Share()'s
  // single `ifindex` (which must then be 0). One engine per host: it is the
  // namespace's only multicast-routing socket, which sees MLDv1 reports.
  std::vector<int> interfaces;
  uint64_t rate_bps = kDefaultRate;  // global limit, bits per second on the wire
  net::GroupScheme scheme;
  // IPV6_MULTICAST_HOPS of the data packets: 1 keeps them on the link; more
  // lets multicast routers forward them (docs/protocol.md section 16).
  int hop_limit = 1;
  net::MldTimers mld_timers;  // RFC 3810 defaults; tests shorten them
  bool querier = true;        // also act as MLD querier (needed without a router)
  size_t encoder_memory = kDefaultEncoderMemory;
  std::chrono::milliseconds grace = kDefaultGrace;
  // When every listener of an object has been sent enough symbols to decode
  // it without loss, the object waits this long for their leaves before it
  // sends a round of repair symbols (twice the delay recently seen between
  // that moment and the leave, within these bounds). Tests lengthen them.
  // A hold costs no rate (other groups send meanwhile), and a hold shorter
  // than a busy receiver's decode and leave sends it repair it does not
  // need: hence up to a second.
  std::chrono::milliseconds min_hold{5};
  std::chrono::milliseconds max_hold{1000};
  // Called on the engine thread when an object is found changed (EIO), so the
  // owner can re-index. Must not block or call back into the engine.
  std::function<void(const Hash& object, const Status& why)> on_stale;
  // Called on the engine thread when a listener joins a group with the lcfs
  // prefix that names no published object (each state-change report of the
  // join, so usually twice: robustness): a channel's group (lcfs-export
  // --sign announces at once, so a new reader need not wait for the
  // periodic announcement). Must not block or call back into the engine.
  std::function<void(const net::Ipv6Address& group, int ifindex)> on_unknown_join;
  // Start in standby (ShareEngine::SetStandby).
  bool standby = false;
  // Diagnostic lines (joins, leaves, epochs), on the engine thread; may be empty.
  std::function<void(const std::string& line)> log;
  // Lines an operator should see (a link down or back, an interface gone
  // or new, send errors: once per episode), on the engine thread; may be empty.
  std::function<void(const std::string& line)> notice;
};

class ShareEngine;
using ShareHandle = std::unique_ptr<ShareEngine>;

// Starts serving `index` on `ifindex` (0: every multicast-capable,
// non-loopback interface). `stats` may be null; it must outlive the handle.
// Errors: ENOTSUP when MLD cannot work here (IPv6 disabled, no multicast-
// capable interface), EACCES when the raw MLD socket is not permitted (needs
// CAP_NET_RAW), ENOMEM, ENODEV for an ifindex that is not multicast-capable,
// EINVAL for bad options.
Result<ShareHandle> Share(const index::IndexResult& index, int ifindex, ShareStats* stats,
                          unsigned flags = 0, ShareOptions options = {});
// Stops sending, closes every socket and frees everything.
void Unshare(ShareHandle handle);

class ShareEngine {
 public:
  ~ShareEngine();  // stops the thread, closes everything
  ShareEngine(const ShareEngine&) = delete;
  ShareEngine& operator=(const ShareEngine&) = delete;

  // Serves `index` from now on; the previous index stays served for the
  // grace period (objects in both keep sending without a break).
  Status Serve(const index::IndexResult& index);

  // Replicas (docs/protocol.md section 14): in standby the engine keeps
  // snooping MLD, querying and tracking listeners, but sends no packet of
  // any object. Leaving standby sends every group that has listeners a whole
  // set from where its stream is, as to a newcomer. Any thread.
  void SetStandby(bool standby);

  // The interfaces served (ifindex).
  std::vector<int> interfaces() const;
  const ShareStats& stats() const { return *stats_; }

 private:
  friend Result<ShareHandle> Share(const index::IndexResult&, int, ShareStats*, unsigned,
                                   ShareOptions);
  struct Loop;
  ShareEngine() = default;

  std::unique_ptr<Loop> loop_;
  ShareStats own_stats_;
  ShareStats* stats_ = &own_stats_;
};

}  // namespace lcfs::share
