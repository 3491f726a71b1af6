// Fetcher: gets objects by hash from the LAN, many at a time, on one thread.
//
// One socket and one receive thread serve every fetch. A fetch joins the
// object's multicast group (with an optional RFC 3678 INCLUDE source filter),
// hands each packet for that object to an ObjectAssembler (which decodes and
// verifies), and leaves the group the moment the object verifies or nothing
// waits for it any more (every requester cancelled or timed out). Requests
// for an object already being fetched share that fetch.
//
// Window and priorities. At most `window` groups are joined at once; further
// requests queue, most urgent first (FetchPriority). A blocked request never
// waits behind prefetch: `blocking_reserve` slots are kept for blocking
// requests and `metadata_reserve` more from data prefetch, and when the
// window is full a blocking request takes the slot of a joined prefetch
// (which leaves its group, keeps its symbols and queues again). A request
// for an object already queued with a lower priority promotes it.
//
// Deadlines. A joined fetch ends with ETIMEDOUT once `timeout` has passed
// without progress (no symbol accepted since the request or since the join,
// whichever is later); any request ends at 10 x `timeout` after it was made,
// joined or not: never an endless wait.
//
// Interfaces come and go (rtnetlink, net::LinkMonitor). Groups are joined
// on the configured interface, found by name (a re-created one has another
// ifindex), or on every usable one when none was named. When an interface
// goes down or away, its memberships are dropped; when it (or a new one that
// matches) is up again, every group still waited for is joined on it. A
// fetch whose interface is gone waits, and its deadline runs as usual.
// Receive errors back off (10 ms to 1 s) instead of spinning; each episode is
// told once through `notice`.
//
// Threads: every public method may be called from any thread. Callbacks run
// on the receive thread with no lock held: keep them short (hand the bytes
// off); they may call FetchAsync and Cancel.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "lcfs/buffer_pool.h"
#include "lcfs/hash.h"
#include "lcfs/net/address.h"
#include "lcfs/net/group.h"
#include "lcfs/net/packet.h"
#include "lcfs/object.h"
#include "lcfs/status.h"

namespace lcfs::sync {

struct FetcherOptions {
  // Interface to join on, by name ("eth0"), or by index when `iface` is
  // empty; neither = every interface that is up, multicast-capable and not
  // loopback, as they come and go.
  std::string iface;
  int ifindex = 0;
  // Exporters to accept (INCLUDE filter, enforced by the kernel and checked
  // again here); empty = any source.
  std::vector<net::Ipv6Address> sources;
  net::GroupScheme scheme;  // group prefix and UDP port
  // Groups joined at once; more requests wait their turn.
  size_t window = 64;
  // Of the window, slots only blocking requests use, and slots data prefetch
  // does not use (SIZE_MAX: window / 4 and window / 8).
  size_t blocking_reserve = SIZE_MAX;
  size_t metadata_reserve = SIZE_MAX;
  // SO_RCVBUF: room for bursts while the thread decodes a completed block.
  int receive_buffer = 32 << 20;
  // Decoder memory a hostile host can make us hold, over every fetch: second
  // and further decoders of an object (other senders), decoders of objects of
  // unknown size (a root directory), symbol pools kept against forged
  // sources. The first decoder of an object of known size is not counted:
  // the window and the sizes requested bound those.
  uint64_t decoder_budget = uint64_t{128} << 20;
  // Where decoders get their object buffers (lcfs/buffer_pool.h), shared
  // with whoever stores the objects and gives the buffers back; null = the
  // heap. With a pool, `window` should not exceed its capacity: the window
  // bounds the decoders, and so the buffers in use.
  std::shared_ptr<BufferPool> buffers;
  // Report each join to the link at once (net/prompt_reporter.h) instead of
  // waiting for the kernel's report, when CAP_NET_RAW allows.
  bool prompt_reports = true;
  // Where interface changes and receive errors are told, one line each
  // (once per episode); empty = stderr, as "lcfs: MESSAGE".
  std::function<void(const std::string&)> notice;
};

// Statistics since Start(), readable while fetches run.
struct FetcherStats {
  uint64_t requests = 0;             // FetchAsync calls
  uint64_t shared = 0;               // of which joined a fetch already under way
  uint64_t promoted = 0;             // of which raised the priority of a queued fetch
  uint64_t completed = 0;            // objects verified
  uint64_t timed_out = 0;            // requests that ended with ETIMEDOUT
  uint64_t cancelled = 0;            // requests cancelled by their caller
  uint64_t abandoned = 0;            // fetches ended unfinished because nobody waited
  uint64_t preempted = 0;            // prefetches that gave their slot to a blocked request
  uint64_t bytes = 0;                // verified object bytes
  uint64_t symbols = 0;              // symbols decoded (given to a decoder)
  uint64_t symbols_needed = 0;       // source symbols of the verified objects
  uint64_t late_symbols = 0;         // packets for objects just completed (leave in progress)
  uint64_t discarded_symbols = 0;    // symbols that did not verify or came from other senders
  uint64_t verify_failures = 0;      // decodes whose bytes did not match the hash
  uint64_t rejected_packets = 0;     // well-formed packets refused (bad OTI, size, source)
  uint64_t wrong_oti_packets = 0;    // of which announced an OTI the known size excludes
  uint64_t no_decoder_packets = 0;   // of which found every decoder slot or the budget taken
  uint64_t evicted_decoders = 0;     // decoders given up for another sender's
  uint64_t conflicting_symbols = 0;  // a second payload for a position (forgery)
  uint64_t retried_decodes = 0;      // decodes retried from a pool subset
  uint64_t recovered_decodes = 0;    // of which verified
  uint64_t decoder_memory_peak = 0;  // high-water mark of decoder_budget use
  uint64_t foreign_packets = 0;      // for objects we are not fetching
  uint64_t prompt_reports = 0;       // MLD reports of joins sent ahead of the kernel's
  net::PacketCounters packets;       // parse outcomes of every datagram (drops by reason)
  uint64_t interface_changes = 0;    // interfaces that went down, away, up or appeared
  uint64_t receive_errors = 0;       // failed receive calls (each backs off)
  size_t joined = 0;                 // groups joined now
  size_t interfaces = 0;             // interfaces the groups are joined on now
  size_t queued = 0;                 // fetches waiting for a window slot
};

class Fetcher {
 public:
  using Callback = FetchCallback;

  // Opens the socket (port options.scheme.port) and starts the receive thread.
  static Result<std::unique_ptr<Fetcher>> Start(const FetcherOptions& options);
  // Fails every pending request with ECANCELED, leaves all groups, stops.
  ~Fetcher();
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  // Fetches request.hash of request.kind at request.priority. Packets
  // announcing a length other than request.expected_size (when not 0) are
  // refused. `done` is called exactly once, on the receive thread, with the
  // verified bytes or an error: ETIMEDOUT (see above), ECANCELED (Cancel, or
  // shutdown). request.cancel is not polled here (see Fetch). The ticket
  // names the request for Cancel.
  FetchTicket FetchAsync(const FetchRequest& request, Callback done);
  // Gives up one request: its callback gets ECANCELED unless it already ran.
  // When nothing else waits for the object its group is left at once.
  // Unknown or finished tickets are ignored.
  void Cancel(FetchTicket ticket);

  std::future<Result<std::vector<uint8_t>>> FetchFuture(const FetchRequest& request);
  // Blocking form; gives up with ECANCELED within about 100 ms of
  // *request.cancel becoming true.
  Result<std::vector<uint8_t>> Fetch(const FetchRequest& request);

  FetcherStats stats() const;

 private:
  class Loop;
  explicit Fetcher(std::unique_ptr<Loop> loop);
  std::unique_ptr<Loop> loop_;
};

}  // namespace lcfs::sync
