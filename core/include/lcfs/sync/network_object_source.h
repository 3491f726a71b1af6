// NetworkObjectSource: the ObjectSource that fetches objects from exporters on
// the LAN (a Fetcher behind the ObjectSource interface). This is what the FUSE
// frontend and lcfs-sync read through.
//
//   NetworkSourceOptions o;
//   o.iface = "eth0";                      // or "" for every multicast interface
//   o.sources = {exporter_address};        // optional: accept only these exporters
//   auto src = NetworkObjectSource::Create(o);
//   auto bytes = (*src)->Fetch({.hash = root, .kind = ObjectKind::kDirectory});
//
// Fetch is thread-safe and may be called from many threads at once: calls run
// concurrently (up to `window` groups joined), and calls for the same object
// share one network fetch. FetchAsync keeps any number of requests in flight
// without a thread each: the mount's single fetch pipeline.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lcfs/net/address.h"
#include "lcfs/object.h"
#include "lcfs/status.h"
#include "lcfs/sync/fetcher.h"

namespace lcfs::sync {

struct NetworkSourceOptions {
  // Interface name ("eth0") or index ("3"); empty = every multicast-capable one.
  std::string iface;
  // Accept symbols only from these exporters (RFC 3678 INCLUDE); empty = any.
  std::vector<net::Ipv6Address> sources;
  uint16_t port = net::kDefaultPort;
  // Objects fetched at once (groups joined).
  size_t window = 64;
  // Object buffers of the decoders (FetcherOptions::buffers); null = the heap.
  std::shared_ptr<BufferPool> buffers;
  // Interface changes and receive errors, one line each (FetcherOptions).
  std::function<void(const std::string&)> notice;
};

// The ifindex for an interface name or number; 0 for "". ENODEV if unknown.
Result<int> ResolveInterface(const std::string& iface);

class NetworkObjectSource : public ObjectSource {
 public:
  static Result<std::unique_ptr<NetworkObjectSource>> Create(const NetworkSourceOptions& options);

  // Verified bytes, ETIMEDOUT after the request's timeout without progress.
  Result<std::vector<uint8_t>> Fetch(const FetchRequest& request) override;
  // Queued in the fetcher's window by priority; `done` runs on its receive
  // thread (see fetcher.h).
  FetchTicket FetchAsync(const FetchRequest& request, FetchCallback done) override;
  void Cancel(FetchTicket ticket) override;

  // The fetcher underneath: asynchronous fetches, known sizes, statistics.
  Fetcher& fetcher() { return *fetcher_; }

  explicit NetworkObjectSource(std::unique_ptr<Fetcher> fetcher) : fetcher_(std::move(fetcher)) {}

 private:
  std::unique_ptr<Fetcher> fetcher_;
};

}  // namespace lcfs::sync
