// Fetcher: gets objects by hash from the LAN, many at a time.
//
// One socket and one receive thread serve every fetch. A fetch joins the
// object's multicast group (with an optional RFC 3678 INCLUDE source filter),
// hands each packet for that object to an ObjectAssembler (which decodes and
// verifies), and leaves the group as soon as the object verifies or its last
// requester gives up. At most `window` groups are joined at once; further
// requests queue. Requests for an object already being fetched share that
// fetch. Every request has a deadline: ETIMEDOUT once `timeout` has passed
// without progress (no symbol accepted for the object since the request, or
// since its group was joined), and in any case 10 x `timeout` after the
// request: never an endless wait.
//
// Callbacks run on the receive thread: keep them short (hand the bytes off).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/net/address.h"
#include "lcfs/net/group.h"
#include "lcfs/net/packet.h"
#include "lcfs/object.h"
#include "lcfs/status.h"

namespace lcfs::sync {

struct FetcherOptions {
  // Interface to join on; 0 = every multicast-capable interface.
  int ifindex = 0;
  // Exporters to accept (INCLUDE filter, enforced by the kernel and checked
  // again here); empty = any source.
  std::vector<net::Ipv6Address> sources;
  net::GroupScheme scheme;  // group prefix and UDP port
  // Groups joined at once; more requests wait their turn.
  size_t window = 64;
  // SO_RCVBUF: room for bursts while the thread decodes a completed block.
  int receive_buffer = 32 << 20;
};

// Statistics since Start(), readable while fetches run.
struct FetcherStats {
  uint64_t requests = 0;           // Fetch calls
  uint64_t shared = 0;             // of which joined a fetch already under way
  uint64_t completed = 0;          // objects verified
  uint64_t timed_out = 0;          // requests that ended with ETIMEDOUT
  uint64_t bytes = 0;              // verified object bytes
  uint64_t symbols = 0;            // symbols decoded (given to a decoder)
  uint64_t symbols_needed = 0;     // source symbols of the verified objects
  uint64_t late_symbols = 0;       // packets for objects just completed (leave in progress)
  uint64_t discarded_symbols = 0;  // symbols that did not verify or came from other senders
  uint64_t verify_failures = 0;    // decodes whose bytes did not match the hash
  uint64_t rejected_packets = 0;   // well-formed packets refused (bad OTI, size, source)
  uint64_t foreign_packets = 0;    // for objects we are not fetching
  net::PacketCounters packets;     // parse outcomes of every datagram (drops by reason)
  size_t joined = 0;               // groups joined now
  size_t queued = 0;               // fetches waiting for a window slot
};

class Fetcher {
 public:
  using Callback = std::function<void(Result<std::vector<uint8_t>>)>;

  // Opens the socket (port options.scheme.port) and starts the receive thread.
  static Result<std::unique_ptr<Fetcher>> Start(const FetcherOptions& options);
  // Fails every pending request with ECANCELED, leaves all groups, stops.
  ~Fetcher();
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  // Fetches request.hash of request.kind. A packet announcing a length
  // other than request.expected_size (when not 0) is refused. `done` is
  // called exactly once, on the receive thread, with the verified bytes or an
  // error (ETIMEDOUT, see above; ECANCELED on shutdown). request.cancel is
  // honoured by Fetch only.
  void FetchAsync(const FetchRequest& request, Callback done);
  std::future<Result<std::vector<uint8_t>>> FetchFuture(const FetchRequest& request);
  // Blocking form; ECANCELED soon after *request.cancel becomes true.
  Result<std::vector<uint8_t>> Fetch(const FetchRequest& request);

  FetcherStats stats() const;

 private:
  class Loop;
  std::unique_ptr<Loop> loop_;

 public:
  explicit Fetcher(std::unique_ptr<Loop> loop);  // use Start()
};

}  // namespace lcfs::sync
