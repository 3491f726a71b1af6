// Election: which of the exporters serving one root on a link sends
// (docs/protocol.md section 14). Pure logic over hellos and a clock, so the
// rules are tested without sockets; the Replicator feeds it.
//
// Rules, per served interface, among the live replicas of our root there
// (a peer lives until its last hello's hold time runs out; a hello with hold
// time 0 ends it at once), ranked by (link-local address, instance), lowest
// first:
//  - an active exporter stays active unless an active peer ranks above it
//    (two actives: the lower one yields);
//  - a standby exporter becomes active when no active peer lives and no
//    standby peer ranks above it (the best standby takes over), but never
//    within its start-up period: a new exporter listens first, so it does
//    not take the place of an active peer that knows the listeners already.
// The exporter sends if it should serve any of its interfaces.
//
// Not thread-safe: one owner (the Replicator's thread).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/net/address.h"
#include "replica/hello.h"

namespace lcfs::replica {

struct ElectionOptions {
  std::chrono::milliseconds interval{200};  // between our hellos
  std::chrono::milliseconds hold{700};      // what our hellos ask peers to wait
  std::chrono::milliseconds startup{300};   // listen this long before serving
  // A peer's hold time above this many times our own counts as that much,
  // so one forged hello cannot silence us for a minute.
  int max_hold_factor = 4;
  // Peers remembered per interface; hellos of further ones are ignored.
  size_t max_peers = 64;
};

// One of our interfaces and our address on it.
struct OwnInterface {
  int ifindex = 0;
  net::Ipv6Address address;
};

class Election {
 public:
  using Clock = std::chrono::steady_clock;

  Election(uint64_t instance, const Hash& root, ElectionOptions options, Clock::time_point now);

  // Our current root; peers of another root are remembered but not counted.
  void SetRoot(const Hash& root) { root_ = root; }
  const Hash& root() const { return root_; }
  // The interfaces we serve; peers heard on others are forgotten.
  void SetInterfaces(std::vector<OwnInterface> interfaces);
  // A hello from `source` on `ifindex`. Our own (same instance) are ignored.
  // True if it came from a peer not known until now (answer it at once).
  bool OnHello(int ifindex, const net::Ipv6Address& source, const Hello& hello,
               Clock::time_point now);
  // Forgets peers whose hold ran out and decides; true if active() changed.
  bool Update(Clock::time_point now);

  bool active() const { return active_; }
  // Still listening before it may serve.
  bool starting(Clock::time_point now) const { return now < startup_end_; }
  // Our next hello (each call takes the next sequence number); hold time 0
  // when `leaving`.
  Hello MakeHello(bool leaving);
  // When Update may next change something (a peer's hold ends, the start-up
  // period ends); nullopt if nothing is pending.
  std::optional<Clock::time_point> NextDeadline(Clock::time_point now) const;
  size_t live_peers() const { return peers_.size(); }
  uint64_t ignored_peers() const { return ignored_peers_; }

 private:
  struct Key {
    int ifindex;
    net::Ipv6Address address;
    uint64_t instance;
    auto operator<=>(const Key&) const = default;
  };
  struct Peer {
    Hash root;
    bool active = false;
    Clock::time_point expires;
  };
  bool ShouldServe(const OwnInterface& own) const;

  const uint64_t instance_;
  Hash root_;
  const ElectionOptions options_;
  const Clock::time_point startup_end_;
  std::vector<OwnInterface> interfaces_;
  std::map<Key, Peer> peers_;
  bool active_ = false;
  uint32_t sequence_ = 0;
  uint64_t ignored_peers_ = 0;
};

}  // namespace lcfs::replica
