// Replicator: lets several exporters of one tree on one link act as
// replicas (docs/protocol.md section 14). Each says hello on the link's
// replica group every interval; of those serving the same root, one is
// active and sends, the others stand by (snooping MLD, sending nothing but
// hellos) and the best of them takes over when the active one's hellos
// stop for its hold time, or at once when it says goodbye.
//
//   ReplicaOptions o;
//   o.interfaces = [&] { return engine->interfaces(); };
//   o.on_change = [&](bool active) { engine->SetStandby(!active); };
//   auto r = Replicator::Start(root, o);   // starts in standby
//   ...
//   (*r)->SetRoot(new_root);
//
// A thread sends and receives the hellos; SetRoot, active() and stats() may
// be called from any thread. The destructor says goodbye (a hello with hold
// time 0), so a standby takes over at once after a clean stop.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/net/address.h"
#include "lcfs/status.h"

namespace lcfs::replica {

inline constexpr std::chrono::milliseconds kDefaultHelloInterval{200};

struct ReplicaOptions {
  // Between hellos. Peers count us gone 3.5 intervals after our last one;
  // a new exporter listens 1.5 intervals before it sends.
  std::chrono::milliseconds interval = kDefaultHelloInterval;
  // If not empty, hellos from other sources are ignored (counted): only
  // these replicas can make this exporter stand by.
  std::vector<net::Ipv6Address> peers;
  uint16_t port = 7707;   // UDP port of the lcfs groups
  bool loopback = false;  // also hear replicas on this host (tests)
  // The interfaces served (ifindexes), asked at every interval: hellos go
  // out and are heard on these. Required.
  std::function<std::vector<int>()> interfaces;
  // Called on the replicator's thread when this exporter becomes active
  // (true) or stands by (false). It starts in standby, so the first call, if
  // any, says active. Must not block. Required.
  std::function<void(bool active)> on_change;
  // Elections won and lost, peers appearing and going; may be empty.
  std::function<void(const std::string& line)> log;
};

struct ReplicaStats {
  std::atomic<uint64_t> hellos_sent{0};
  std::atomic<uint64_t> hellos_received{0};  // accepted: parsed, from an allowed source
  std::atomic<uint64_t> malformed{0};        // datagrams on the group that are not hellos
  std::atomic<uint64_t> refused{0};          // hellos from sources not in `peers`
  std::atomic<uint64_t> takeovers{0};        // became active
  std::atomic<uint64_t> standbys{0};         // stood by for a peer
  std::atomic<uint64_t> live_peers{0};       // replicas heard now (any root)
};

class Replicator {
 public:
  // Starts in standby (on_change(true) follows when no active peer is heard).
  static Result<std::unique_ptr<Replicator>> Start(const Hash& root, ReplicaOptions options);
  ~Replicator();
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // The root served from now on (after a re-index); hellos name it at once.
  void SetRoot(const Hash& root);
  bool active() const;
  const ReplicaStats& stats() const;

  struct Impl;  // private to replicator.cc
  explicit Replicator(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace lcfs::replica
