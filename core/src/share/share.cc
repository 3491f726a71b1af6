#include "lcfs/share/share.h"

#include <net/if.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <limits>
#include <new>
#include <optional>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "lcfs/mutex.h"
#include "lcfs/net/interfaces.h"
#include "lcfs/net/link_monitor.h"
#include "lcfs/net/mld_snooper.h"
#include "lcfs/net/multicast_socket.h"
#include "lcfs/thread_annotations.h"
#include "lcfs/unique_fd.h"
#include "share/group_map.h"
#include "share/object_stream.h"
#include "share/token_bucket.h"

namespace lcfs::share {
namespace {

using Clock = std::chrono::steady_clock;
static_assert(std::is_same_v<Clock, net::MldClock>, "MLD timers and the send loop share a clock");

// Packets one object sends per round-robin turn: enough for one GSO call to
// pay off, few enough that a turn of a large object is a short wait (32
// packets are ~47 KB, 3.7 ms at 100 Mbit/s) for the small ones behind it.
constexpr size_t kPacketsPerTurn = 32;
constexpr size_t kMaxPacket = net::kPacketHeaderSize + kShareSymbolSize;
// Turns taken between two looks at the MLD socket while sending flat out.
constexpr int kTurnsPerPoll = 64;
// Groups heard wanted that name nothing servable, remembered for the next
// Serve: their listeners are then asked to report again. Bounded, so a
// flood of reports for random groups costs at most this many entries.
constexpr size_t kMaxUnresolved = 4096;
// After a socket said its buffer is full, sending waits for EPOLLOUT on it,
// or this long at most.
constexpr auto kBlockedRetry = std::chrono::milliseconds(20);
// Once every listener of a group has been sent enough symbols to decode it
// without loss, the group waits for their leaves before it sends repair
// symbols: twice the recent delay between that moment and the leave (the
// receivers' queue, decoding, hashing and the report), within
// ShareOptions::min_hold..max_hold; this much before any was seen.
constexpr auto kInitialHold = std::chrono::milliseconds(50);
// Repair symbols then go out in rounds with a hold after each: the first a
// sixteenth of the object (5% loss needs about that), each next one twice
// the last, up to a whole set, then without end: so a lossy listener waits a
// few holds at most, and a listener that left unseen costs one round.
constexpr uint64_t kFirstRoundDivisor = 16;
// Readers of one file are rarely in step: a busy host reports later, and a
// reader's window of chunks grows from one. A group nothing was sent of yet
// waits while another host listens to a group a little earlier in the walk
// (at most kNearWalk objects: the same file) that is still sending its
// first set, or just sent it, but not to this one: that host is behind and
// would join midway (a whole set more), or after the group ended (all of
// it again). The waiting group's hosts lend their shares to that host's
// group, so it catches up. Bounded: a group waits kStartDelay at most, and
// a host that stays on one group is not behind.
constexpr auto kStartDelay = std::chrono::milliseconds(200);
constexpr uint32_t kNearWalk = 32;
// Waiting groups looked at per weighing: bounds the work with many hosts.
constexpr size_t kMaxWaiting = 16;

// An address on an interface: a group there, or a tracked host.
struct LinkAddress {
  int ifindex = 0;
  net::Ipv6Address address;
  bool operator==(const LinkAddress&) const = default;
};
struct LinkAddressHash {
  size_t operator()(const LinkAddress& k) const noexcept {
    return std::hash<net::Ipv6Address>()(k.address) ^ static_cast<size_t>(k.ifindex) * 0x9e3779b1u;
  }
};

// One published index.
struct Epoch {
  uint64_t id = 0;  // publication order, for logs
  Hash root;
  std::shared_ptr<const index::Mdex> mdex;
  GroupMap map;
  std::optional<Clock::time_point> expires;  // set once superseded
  // Objects of this index whose bytes no longer match (files changed since
  // it was made): never sent from it. A newer index is made from the files
  // as they are now and starts with none.
  std::unordered_set<Hash> stale;
};

// Send errors that say the interface cannot send now (link down, gone,
// address gone, out of buffers): back off instead of retrying at once.
bool IsLinkError(int code) {
  switch (code) {
    case ENETDOWN:
    case ENODEV:
    case ENXIO:
    case EADDRNOTAVAIL:
    case ENETUNREACH:
    case ENOBUFS:
      return true;
    default:
      return false;
  }
}
constexpr auto kFirstBackoff = std::chrono::milliseconds(10);
constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);

// The socket sending on one interface. A slot whose interface went away has
// ifindex 0 and no socket; a new interface may take it.
struct Sender {
  int ifindex = 0;
  std::string name;
  std::optional<net::MulticastSocket> socket;
  bool link_up = true;        // up and running, as the kernel last said
  bool need_address = false;  // up again, waiting for a link-local address to query from
  // An episode of send errors: no sends before `paused_until`; the back-off
  // doubles while it lasts. Logged when it starts and when it ends.
  Clock::time_point paused_until{};
  Clock::duration backoff{};
  uint64_t errors = 0;
  Clock::time_point episode_start{};

  bool Usable(Clock::time_point now) const {
    return ifindex != 0 && link_up && now >= paused_until;
  }
};

// An object being sent, on the interfaces where its group has listeners.
struct Active {
  Active(const Hash& hash, ObjectKind kind) : stream(hash, kind) {}
  ObjectStream stream;
  std::shared_ptr<Epoch> epoch;  // the index its bytes come from (keeps the mdex alive)
  std::vector<size_t> senders;   // indices into Loop::senders
  uint64_t sent_since_load = 0;  // packets produced since the encoder was loaded
  size_t memory = 0;             // encoder memory last accounted

  // What its listeners still need. Each newcomer needs a full set of
  // symbols from where the stream is when it arrives (the listener arrivals
  // the snooper counted, summed over `senders`); past `enough`, every
  // listener known has been sent that, and the group holds until
  // `held_until` for their leaves, then sends a round of repair symbols.
  uint64_t arrivals = 0;
  bool renew = true;         // `enough` to be set from the next position (once loaded)
  uint64_t enough = 0;       // stream position
  uint64_t round = 0;        // symbols of the next repair round (0: none yet)
  uint64_t newcomer_at = 0;  // position when the last newcomer arrived (statistics)
  Clock::time_point held_until{};
  Clock::time_point satisfied{};      // when the first hold began (for the leave delay)
  net::Ipv6Address group;             // its key in Loop::active
  Clock::time_point waiting_since{};  // first found waiting for a host behind (kStartDelay)

  // Stride scheduling: the group with the lowest pass among those with a
  // weight sends next, and a turn of n packets adds n / weight. Each
  // listening host has one share of the rate and gives it to one group at
  // a time, the first it asked for (UpdateWeights).
  uint32_t walk = 0;  // GroupMap::Entry::walk: a file's chunks in file order
  double pass = 0;
  double weight = 0;
  bool anonymous = false;  // has listeners tracking does not know
};

Status MapOpenError(const Status& s) {
  switch (s.code()) {
    case EPERM:
    case EACCES:
      return Status::Error(EACCES, "share: " + s.message() +
                                       (s.message().find("CAP_NET_RAW") == std::string::npos
                                            ? " (the raw MLD socket needs CAP_NET_RAW)"
                                            : ""));
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
    case ENOPROTOOPT:
      return Status::Error(ENOTSUP,
                           "share: no MLD support here (is IPv6 disabled?): " + s.message());
    default:
      return s.WithContext("share");
  }
}

timespec ToTimespec(Clock::time_point t) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch());
  timespec ts;
  ts.tv_sec = static_cast<time_t>(ns.count() / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(ns.count() % 1'000'000'000);
  return ts;
}

}  // namespace

struct ShareEngine::Loop {
  ShareStats* stats = nullptr;
  ShareOptions options;
  std::vector<Sender> senders;
  std::unique_ptr<net::MldSnooper> snooper;
  // Link and address events; absent if rtnetlink could not be opened (send
  // errors still back off).
  std::optional<net::LinkMonitor> links;
  std::vector<std::string> wanted;  // interface names to serve; empty: any that can
  bool loopback = false;
  UniqueFd epoll_fd, wake_fd, timer_fd;
  std::optional<TokenBucket> bucket;
  // Tokens to wait for before sending again: 5 ms of the rate, between one
  // packet and a full turn, so each wake-up sends a batch, not one packet.
  uint64_t wake_bytes = 0;
  std::thread thread;

  // Shared with callers of Serve and the destructor.
  Mutex mu;
  std::vector<std::shared_ptr<Epoch>> incoming GUARDED_BY(mu);
  std::vector<int> served GUARDED_BY(mu);  // ifindexes of `senders`, for interfaces()
  bool stop GUARDED_BY(mu) = false;
  bool standby_wanted GUARDED_BY(mu) = false;  // SetStandby
  uint64_t next_epoch_id GUARDED_BY(mu) = 1;

  // Engine thread only.
  std::deque<std::shared_ptr<Epoch>> epochs;  // front: the current index
  bool standby = false;  // sends nothing (PickNext); standby_wanted as last taken
  std::unordered_map<net::Ipv6Address, Active> active;
  double vtime = 0;                   // the pass of the last group that sent (stride scheduling)
  uint64_t listeners_seen = 0;        // snooper->listeners_generation() last looked at
  bool weights_stale = true;          // listeners or active groups changed since UpdateWeights
  Clock::time_point weights_until{};  // a hold or a pause that UpdateWeights saw ends then
  // Scratch of UpdateWeights: the group each tracked host gives its share to.
  struct Pick {
    Active* active = nullptr;
    std::tuple<bool, uint64_t, uint32_t> order;  // (streaming without end, since, walk)
  };
  std::unordered_map<LinkAddress, Pick, LinkAddressHash> picks;  // by host
  std::vector<LinkAddress> scratch_hosts;                        // of WaitForLaggards
  // Recent delay from a group's satisfaction to its leave (EWMA) and the
  // hold it gives.
  std::chrono::microseconds leave_delay{kInitialHold / 2};
  std::vector<net::MembershipEvent> events;
  std::unordered_set<LinkAddress, LinkAddressHash> unresolved;  // groups
  size_t encoder_bytes = 0;
  std::vector<uint8_t> batch;
  Clock::time_point blocked_until{};

  void Log(const std::string& line) const {
    if (options.log) options.log(line);
  }
  void Notice(const std::string& line) const {
    if (options.notice) options.notice(line);
    Log(line);
  }
  void Wake() const {
    // An eventfd write fails only when the counter would overflow, and then
    // the loop is woken already.
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(wake_fd.get(), &one, sizeof one);
  }
  bool Stopping() EXCLUDES(mu) {
    MutexLock lock(&mu);
    return stop;
  }

  void Run();
  void TakeIncoming(Clock::time_point now);
  // Enters or leaves standby as SetStandby asked; leaving it, every group
  // with listeners owes them a whole set.
  void TakeStandby() EXCLUDES(mu);
  void ExpireEpochs(Clock::time_point now);
  void HandleEvents();
  void OnJoin(int ifindex, const net::Ipv6Address& group);
  // True if `group` may name an object of a served index (the snooper keeps
  // state only for those).
  bool MayServe(const net::Ipv6Address& group) const;
  // A report the snooper refused (MayServe was false) said a host listens.
  void OnIgnored(int ifindex, const net::Ipv6Address& group, bool joining);
  // Adds to `unresolved`, evicting an entry when full.
  void Remember(const LinkAddress& key);
  void OnLeave(int ifindex, const net::Ipv6Address& group);
  void Deactivate(const net::Ipv6Address& group, bool remember_listeners);
  std::optional<size_t> SenderIndex(int ifindex) const;
  // Sends one turn of the next object. EAGAIN when nothing could be sent
  // (no object, or no encoder memory free yet); another error when the
  // object was dropped (its bytes no longer load).
  Status SendTurn(Clock::time_point now);
  // The group to send next: the lowest pass among groups not held that
  // have a weight.
  std::optional<net::Ipv6Address> PickNext(Clock::time_point now);
  // Looks for listeners that arrived since last seen (a held group then
  // sends again at once).
  void RefreshListeners(Clock::time_point now);
  void RefreshListeners(const net::Ipv6Address& group, Active& a, Clock::time_point now);
  // Gives each active group its weight. Every tracked host has one share of
  // the rate whatever it joins, and gives it whole to one group that can
  // send now: the first it asked for (earliest report; within one report,
  // walk order), groups streaming without end last. So the chunks a reader
  // prefetched go out one after another, in file order, and other readers
  // of the file join them before they start rather than midway. Groups with
  // listeners tracking does not know (MLDv1, over the caps) share one more
  // host's share. Others get weight 0 and wait.
  void UpdateWeights(Clock::time_point now);
  // Part of UpdateWeights: a group that has not started waits (its hosts
  // lending their shares) while a host behind in the same file has not
  // joined it yet, kStartDelay at most.
  void WaitForLaggards(Clock::time_point now);
  void RefreshWeights(Clock::time_point now) {
    if (weights_stale || now >= weights_until) UpdateWeights(now);
  }
  // Follows the kernel's link and address events: pauses an interface whose
  // link is down, drops one that went away, (re)starts one that came back
  // or appeared (sending a General Query to relearn its listeners).
  void HandleLinkEvents();
  void LinkChanged(int ifindex, const std::string& name, unsigned flags);
  void AddressChanged(int ifindex);
  void Rescan();
  // Starts serving `ifindex` if it has a link-local address; false if not yet.
  bool StartInterface(int ifindex, const std::string& name);
  // Its link is usable again: query from its (possibly new) address.
  void Resume(Sender& s);
  void DropInterface(size_t slot);
  bool Wanted(const std::string& name) const;
  // A send on `s` failed with a link error: pause it (doubling back-off).
  void PauseSender(Sender& s, const Status& error, Clock::time_point now);
  std::optional<Clock::time_point> NextUnpause(Clock::time_point now) const;
  void PublishServed() EXCLUDES(mu) {
    MutexLock lock(&mu);
    served.clear();
    for (const Sender& s : senders)
      if (s.ifindex != 0) served.push_back(s.ifindex);
  }
  bool HasUsableSender(const Active& a, Clock::time_point now) const {
    return std::any_of(a.senders.begin(), a.senders.end(),
                       [&](size_t s) { return senders[s].Usable(now); });
  }
  // Reads MLD without waiting: leaves must stop groups between turns.
  void PollMld(Clock::time_point now);
  Clock::duration Hold() const;
  // The earliest hold still running (one that ended but cannot send, its
  // interfaces paused, must not wake the loop).
  std::optional<Clock::time_point> NextHoldEnd(Clock::time_point now) const;
  // Builds a's encoder, taking another object's when over the memory cap.
  // EAGAIN while no encoder can be freed; another error when a cannot be
  // loaded (it is then deactivated).
  Status LoadStream(const net::Ipv6Address& group, Active& a);
  // Asks epoll to report when `fd` can take more packets.
  void WatchWritable(int fd);
  void ArmTimer(Clock::time_point when, Clock::time_point now);
  void AccountMemory(Active& a);
  bool Sendable(Clock::time_point now) { return PickNext(now).has_value(); }
};

std::optional<size_t> ShareEngine::Loop::SenderIndex(int ifindex) const {
  for (size_t i = 0; i < senders.size(); ++i) {
    if (senders[i].ifindex == ifindex) return i;
  }
  return std::nullopt;
}

void ShareEngine::Loop::AccountMemory(Active& a) {
  const size_t now = a.stream.MemoryUsage();
  encoder_bytes = encoder_bytes - a.memory + now;
  a.memory = now;
  stats->encoder_bytes.store(encoder_bytes, std::memory_order_relaxed);
}

void ShareEngine::Loop::TakeIncoming(Clock::time_point now) {
  std::vector<std::shared_ptr<Epoch>> fresh;
  {
    MutexLock lock(&mu);
    fresh.swap(incoming);
  }
  for (auto& epoch : fresh) {
    if (!epochs.empty()) epochs.front()->expires = now + options.grace;
    epochs.push_front(epoch);
    stats->published_objects.store(epoch->map.size(), std::memory_order_relaxed);
    // Objects being sent that the new index also has now come from it, so
    // they outlive the old one.
    for (auto& [group, a] : active) {
      if (a.epoch != epoch && epoch->mdex->Contains(a.stream.hash())) a.epoch = epoch;
    }
    Log("published index #" + std::to_string(epoch->id) + " " + epoch->root.ToHex() + " (" +
        std::to_string(epoch->map.size()) + " objects)");
    // Listeners already waiting on groups unknown until now: those the
    // snooper kept start at once, the others are asked to report again.
    std::vector<LinkAddress> waiting(unresolved.begin(), unresolved.end());
    unresolved.clear();
    for (const auto& key : waiting) {
      if (snooper->HasListeners(key.ifindex, key.address)) {
        OnJoin(key.ifindex, key.address);
      } else if (epoch->map.MayContain(key.address)) {
        snooper->QueryGroup(key.ifindex, key.address, now);
      }
    }
  }
}

void ShareEngine::Loop::TakeStandby() {
  bool wanted;
  {
    MutexLock lock(&mu);
    wanted = standby_wanted;
  }
  if (wanted == standby) return;
  standby = wanted;
  if (!standby) {
    for (auto& [group, a] : active) {
      a.renew = true;
      a.held_until = {};
      a.pass = vtime;
    }
    weights_stale = true;
  }
  Notice(standby ? "standby: sending nothing while a replica serves"
                 : "active: sending the " + std::to_string(active.size()) +
                       " objects that have listeners");
}

void ShareEngine::Loop::ExpireEpochs(Clock::time_point now) {
  while (epochs.size() > 1 && epochs.back()->expires && *epochs.back()->expires <= now) {
    std::shared_ptr<Epoch> old = epochs.back();
    epochs.pop_back();
    std::vector<net::Ipv6Address> cut;
    for (const auto& [group, a] : active) {
      if (a.epoch == old) cut.push_back(group);
    }
    for (const auto& group : cut) Deactivate(group, /*remember_listeners=*/true);
    Log("grace period over for index " + old->root.ToHex() + ": " + std::to_string(cut.size()) +
        " objects stopped");
  }
}

void ShareEngine::Loop::OnJoin(int ifindex, const net::Ipv6Address& group) {
  const auto sender = SenderIndex(ifindex);
  if (!sender) return;
  if (auto it = active.find(group); it != active.end()) {
    auto& s = it->second.senders;
    if (std::find(s.begin(), s.end(), *sender) == s.end()) {
      s.push_back(*sender);
      stats->active_groups.fetch_add(1, std::memory_order_relaxed);
      RefreshListeners(group, it->second, Clock::now());
      weights_stale = true;
    }
    return;
  }
  std::shared_ptr<Epoch> from;
  GroupMap::Entry entry;
  bool known = false;
  if (net::HasGroupPrefix(group, options.scheme)) {
    for (const auto& epoch : epochs) {  // newest first
      auto e = epoch->map.Lookup(group);
      if (!e) continue;
      known = true;
      if (epoch->stale.count(e->hash)) continue;
      from = epoch;
      entry = *e;
      break;
    }
  }
  if (!from) {
    if (!known) {
      stats->unknown_groups.fetch_add(1, std::memory_order_relaxed);
      if (options.on_unknown_join) options.on_unknown_join(group, ifindex);
    }
    Remember({ifindex, group});
    return;
  }
  const Hash& hash = entry.hash;
  const auto loc = from->mdex->Get(hash);
  if (!loc) return;
  auto [it, inserted] = active.try_emplace(group, hash, loc->kind);
  it->second.epoch = std::move(from);
  it->second.walk = entry.walk;
  it->second.senders.push_back(*sender);
  it->second.pass = vtime;
  it->second.group = group;
  it->second.arrivals = snooper->ListenerArrivals(ifindex, group);
  weights_stale = true;
  stats->objects_served.fetch_add(1, std::memory_order_relaxed);
  stats->active_objects.store(active.size(), std::memory_order_relaxed);
  stats->active_groups.fetch_add(1, std::memory_order_relaxed);
  Log("join " + group.ToString() + " on " + std::to_string(ifindex) + ": sending object " +
      hash.ToHex());
}

bool ShareEngine::Loop::MayServe(const net::Ipv6Address& group) const {
  if (!net::HasGroupPrefix(group, options.scheme)) return false;
  return std::any_of(epochs.begin(), epochs.end(),
                     [&](const auto& epoch) { return epoch->map.MayContain(group); });
}

void ShareEngine::Loop::OnIgnored(int ifindex, const net::Ipv6Address& group, bool joining) {
  if (!net::HasGroupPrefix(group, options.scheme)) return;  // solicited-node groups and such
  Remember({ifindex, group});
  if (!joining) return;
  stats->unknown_groups.fetch_add(1, std::memory_order_relaxed);
  if (options.on_unknown_join) options.on_unknown_join(group, ifindex);
}

void ShareEngine::Loop::Remember(const LinkAddress& key) {
  if (unresolved.size() >= kMaxUnresolved && !unresolved.count(key))
    unresolved.erase(unresolved.begin());
  unresolved.insert(key);
}

void ShareEngine::Loop::OnLeave(int ifindex, const net::Ipv6Address& group) {
  unresolved.erase({ifindex, group});
  const auto sender = SenderIndex(ifindex);
  auto it = active.find(group);
  if (!sender || it == active.end()) return;
  auto& s = it->second.senders;
  auto pos = std::find(s.begin(), s.end(), *sender);
  if (pos == s.end()) return;
  s.erase(pos);
  weights_stale = true;
  stats->active_groups.fetch_sub(1, std::memory_order_relaxed);
  if (s.empty()) {
    Active& a = it->second;
    if (a.satisfied != Clock::time_point{}) {
      // EWMA (1/8) of the delay from satisfaction to leave, capped so one
      // slow listener cannot stretch the hold of all.
      const auto d = std::min<Clock::duration>(Clock::now() - a.satisfied, 2 * options.max_hold);
      leave_delay += (std::chrono::duration_cast<std::chrono::microseconds>(d) - leave_delay) / 8;
    }
    Log("leave " + group.ToString() + ": object " + a.stream.hash().ToHex() + " idle after " +
        std::to_string(a.stream.position()) + " symbols (last newcomer at " +
        std::to_string(a.newcomer_at) + ", walk " + std::to_string(a.walk) + ")");
    Deactivate(group, /*remember_listeners=*/false);
  }
}

void ShareEngine::Loop::Deactivate(const net::Ipv6Address& group, bool remember_listeners) {
  auto it = active.find(group);
  if (it == active.end()) return;
  Active& a = it->second;
  for (size_t s : a.senders) {
    if (remember_listeners) Remember({senders[s].ifindex, group});
  }
  stats->active_groups.fetch_sub(a.senders.size(), std::memory_order_relaxed);
  stats->newcomer_symbols.fetch_add(a.newcomer_at, std::memory_order_relaxed);
  weights_stale = true;
  a.stream.Unload();
  AccountMemory(a);
  active.erase(it);
  stats->active_objects.store(active.size(), std::memory_order_relaxed);
}

void ShareEngine::Loop::HandleEvents() {
  const net::TrackingCounters& t = snooper->tracking();
  stats->tracked_hosts.store(snooper->tracked_hosts(), std::memory_order_relaxed);
  stats->fast_leaves.store(t.fast_leaves, std::memory_order_relaxed);
  stats->refused_leaves.store(t.refused_leaves, std::memory_order_relaxed);
  stats->hosts_refused.store(t.hosts_refused, std::memory_order_relaxed);
  stats->rfc_fallbacks.store(t.fallbacks + t.v1_fallbacks, std::memory_order_relaxed);
  stats->ignored_records.store(snooper->counters().ignored_records, std::memory_order_relaxed);
  stats->records_refused.store(t.records_refused, std::memory_order_relaxed);
  stats->querier_changes.store(t.querier_changes, std::memory_order_relaxed);
  // Handling may not re-enter the snooper, so events were queued.
  for (size_t i = 0; i < events.size(); ++i) {
    const net::MembershipEvent e = events[i];
    if (e.kind == net::MembershipEvent::Kind::kJoin) {
      stats->joins.fetch_add(1, std::memory_order_relaxed);
      OnJoin(e.ifindex, e.group);
    } else {
      stats->leaves.fetch_add(1, std::memory_order_relaxed);
      OnLeave(e.ifindex, e.group);
    }
  }
  events.clear();
  RefreshListeners(Clock::now());
}

Status ShareEngine::Loop::LoadStream(const net::Ipv6Address& group, Active& a) {
  // Over the memory cap: take the encoder of the loaded object that has sent
  // the most since it was loaded (at least all its source symbols, so no
  // load is wasted); if none qualifies, wait for memory to free up.
  if (encoder_bytes >= options.encoder_memory) {
    Active* victim = nullptr;
    for (auto& [g, other] : active) {
      if (&other == &a || !other.stream.loaded()) continue;
      if (other.sent_since_load < other.stream.source_symbols()) continue;
      if (!victim || other.sent_since_load > victim->sent_since_load) victim = &other;
    }
    if (!victim) return Status::Error(EAGAIN, "encoder memory full");
    victim->stream.Unload();
    AccountMemory(*victim);
  }
  Status s = a.stream.Load(*a.epoch->mdex);
  if (!s.ok()) {
    const Hash hash = a.stream.hash();
    if (s.code() == EIO) {
      stats->stale_objects.fetch_add(1, std::memory_order_relaxed);
      a.epoch->stale.insert(hash);
      Log("object " + hash.ToHex() + " changed since indexing, not sent: " + s.message());
      if (options.on_stale) options.on_stale(hash, s);
    } else {
      Log("object " + hash.ToHex() + " cannot be sent: " + s.ToString());
    }
    Deactivate(group, /*remember_listeners=*/true);
    return s;
  }
  stats->encoder_loads.fetch_add(1, std::memory_order_relaxed);
  a.sent_since_load = 0;
  AccountMemory(a);
  return Status::Ok();
}

void ShareEngine::Loop::WatchWritable(int fd) {
  epoll_event ev{};
  ev.events = EPOLLOUT | EPOLLONESHOT;
  ev.data.fd = fd;
  // Cannot fail for a registered fd; if it did, blocked_until still ends
  // the wait after kBlockedRetry.
  if (epoll_ctl(epoll_fd.get(), EPOLL_CTL_MOD, fd, &ev) != 0)
    Log("epoll_ctl(EPOLLOUT): " + Status::FromErrno(errno, "").ToString());
}

void ShareEngine::Loop::ArmTimer(Clock::time_point when, Clock::time_point now) {
  itimerspec spec{};
  spec.it_value = ToTimespec(std::max(when, now + std::chrono::microseconds(1)));
  // Cannot fail with a valid absolute time; if it did, the loop would sleep
  // until the next MLD message or Serve, so say so.
  if (timerfd_settime(timer_fd.get(), TFD_TIMER_ABSTIME, &spec, nullptr) != 0)
    Log("timerfd_settime: " + Status::FromErrno(errno, "").ToString());
}

std::optional<net::Ipv6Address> ShareEngine::Loop::PickNext(Clock::time_point now) {
  if (standby) return std::nullopt;
  RefreshWeights(now);
  const std::pair<const net::Ipv6Address, Active>* best = nullptr;
  for (const auto& entry : active) {
    if (entry.second.weight == 0 || entry.second.held_until > now ||
        !HasUsableSender(entry.second, now))
      continue;
    if (!best || entry.second.pass < best->second.pass) best = &entry;
  }
  if (!best) return std::nullopt;
  return best->first;
}

Clock::duration ShareEngine::Loop::Hold() const {
  return std::clamp<Clock::duration>(2 * leave_delay, options.min_hold, options.max_hold);
}

std::optional<Clock::time_point> ShareEngine::Loop::NextHoldEnd(Clock::time_point now) const {
  std::optional<Clock::time_point> next;
  for (const auto& [group, a] : active) {
    if (a.held_until > now && (!next || a.held_until < *next)) next = a.held_until;
  }
  return next;
}

void ShareEngine::Loop::RefreshListeners(const net::Ipv6Address& group, Active& a,
                                         Clock::time_point now) {
  uint64_t arrivals = 0;
  for (size_t s : a.senders) arrivals += snooper->ListenerArrivals(senders[s].ifindex, group);
  if (arrivals == a.arrivals) return;
  a.arrivals = arrivals;
  a.renew = true;
  if (a.held_until > now) weights_stale = true;
  a.held_until = {};
}

void ShareEngine::Loop::UpdateWeights(Clock::time_point now) {
  weights_stale = false;
  weights_until = Clock::time_point::max();
  picks.clear();
  size_t anonymous = 0;
  for (auto& entry : active) {
    const net::Ipv6Address& group = entry.first;
    Active& a = entry.second;  // not a structured binding: the lambda below uses it
    a.weight = 0;
    a.anonymous = false;
    if (a.held_until > now) {
      weights_until = std::min(weights_until, a.held_until);
      continue;
    }
    const bool endless = !a.renew && a.enough == std::numeric_limits<uint64_t>::max();
    for (size_t s : a.senders) {
      const Sender& sender = senders[s];
      if (!sender.Usable(now)) {
        if (sender.paused_until > now) weights_until = std::min(weights_until, sender.paused_until);
        continue;
      }
      a.anonymous |= snooper->ForEachListener(
          sender.ifindex, group, now, [&](const net::Ipv6Address& host, uint64_t since) {
            Pick& p = picks[{sender.ifindex, host}];
            const auto order = std::make_tuple(endless, since, a.walk);
            if (!p.active || order < p.order) p = {&a, order};
          });
    }
    if (a.anonymous) ++anonymous;
  }
  WaitForLaggards(now);
  for (const auto& [host, p] : picks) {
    if (p.active) p.active->weight += 1;
  }
  for (auto& [group, a] : active) {
    if (a.anonymous) a.weight += 1.0 / static_cast<double>(anonymous);
  }
}

void ShareEngine::Loop::WaitForLaggards(Clock::time_point now) {
  size_t looked = 0;
  for (auto& [host, p] : picks) {
    if (!p.active) continue;
    Active& x = *p.active;
    if (x.stream.position() != 0 || x.walk == 0) continue;
    if (x.waiting_since != Clock::time_point{} && x.waiting_since + kStartDelay <= now) continue;
    if (++looked > kMaxWaiting) return;
    // Who listens to x, then whether a host of an earlier group nearby does not.
    std::vector<LinkAddress>& with_x = scratch_hosts;
    with_x.clear();
    for (size_t s : x.senders) {
      const int ifindex = senders[s].ifindex;
      snooper->ForEachListener(ifindex, x.group, now, [&](const net::Ipv6Address& h, uint64_t) {
        with_x.push_back({ifindex, h});
      });
    }
    std::optional<LinkAddress> laggard;
    for (auto& [group, y] : active) {
      if (y.epoch != x.epoch || y.walk >= x.walk || x.walk - y.walk > kNearWalk) continue;
      // Its listeners move on soon: it is still sending its first set, or
      // just sent it. (A host that stays on one group is not behind.)
      if (y.round != 0 && now - y.satisfied >= kStartDelay) continue;
      for (size_t s : y.senders) {
        const int ifindex = senders[s].ifindex;
        snooper->ForEachListener(ifindex, group, now, [&](const net::Ipv6Address& h, uint64_t) {
          const LinkAddress who{ifindex, h};
          if (!laggard && std::find(with_x.begin(), with_x.end(), who) == with_x.end())
            laggard = who;
        });
      }
      if (laggard) break;
    }
    if (!laggard) continue;
    // Every host whose pick is x lends its share to the laggard's pick (or,
    // if the laggard has none now, its share waits).
    auto lent = picks.find(*laggard);
    Active* to = lent == picks.end() ? nullptr : lent->second.active;
    if (to == &x) continue;
    for (auto& [other, q] : picks) {
      if (q.active == &x) q.active = to;
    }
    if (x.waiting_since == Clock::time_point{}) x.waiting_since = now;
    weights_until = std::min(weights_until, x.waiting_since + kStartDelay);
    stats->start_delays.fetch_add(1, std::memory_order_relaxed);
  }
}

void ShareEngine::Loop::RefreshListeners(Clock::time_point now) {
  const uint64_t generation = snooper->listeners_generation();
  if (generation == listeners_seen) return;
  listeners_seen = generation;
  weights_stale = true;
  for (auto& [group, a] : active) {
    if (a.held_until > now) RefreshListeners(group, a, now);
  }
}

bool ShareEngine::Loop::Wanted(const std::string& name) const {
  return wanted.empty() || std::find(wanted.begin(), wanted.end(), name) != wanted.end();
}

void ShareEngine::Loop::PauseSender(Sender& s, const Status& error, Clock::time_point now) {
  if (s.errors++ == 0) {
    s.episode_start = now;
    s.backoff = kFirstBackoff;
    Notice("send on " + s.name + ": " + error.message() +
           ": pausing this interface, retrying with back-off (logged again when it works)");
  } else {
    s.backoff = std::min<Clock::duration>(2 * s.backoff, kMaxBackoff);
  }
  s.paused_until = now + s.backoff;
  weights_stale = true;
}

std::optional<Clock::time_point> ShareEngine::Loop::NextUnpause(Clock::time_point now) const {
  std::optional<Clock::time_point> next;
  for (const Sender& s : senders) {
    if (s.ifindex == 0 || !s.link_up || s.paused_until <= now) continue;
    if (!next || s.paused_until < *next) next = s.paused_until;
  }
  return next;
}

bool ShareEngine::Loop::StartInterface(int ifindex, const std::string& name) {
  auto own = net::LinkLocalAddress(ifindex);
  if (!own.ok()) return false;  // an address event will bring us back
  net::MulticastSocketOptions so;
  so.port = 0;
  so.send_ifindex = ifindex;
  so.hop_limit = options.hop_limit;
  so.loop = loopback;
  so.receive_buffer = 0;
  auto socket = net::MulticastSocket::Open(so);
  if (!socket.ok()) {
    Notice("interface " + name + ": cannot open a socket: " + socket.status().ToString());
    return true;  // do not retry on every event
  }
  socket->set_destination_port(options.scheme.port);
  epoll_event ev{};
  ev.data.fd = socket->fd();
  if (epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, ev.data.fd, &ev) != 0) {
    Notice("interface " + name + ": epoll_ctl: " + Status::FromErrno(errno, "").ToString());
    return true;
  }
  if (Status s = snooper->AddInterface(ifindex, *own); !s.ok()) {
    Notice("interface " + name + ": MLD: " + s.ToString());
    return true;
  }
  auto slot =
      std::find_if(senders.begin(), senders.end(), [](const Sender& x) { return x.ifindex == 0; });
  if (slot == senders.end()) slot = senders.insert(senders.end(), Sender{});
  *slot = Sender{};
  slot->ifindex = ifindex;
  slot->name = name;
  slot->socket.emplace(std::move(*socket));
  PublishServed();
  Notice("interface " + name + " appeared: serving it; a General Query asks who listens");
  return true;
}

void ShareEngine::Loop::Resume(Sender& s) {
  auto own = net::LinkLocalAddress(s.ifindex);
  if (!own.ok()) {
    s.need_address = true;  // duplicate address detection still running
    return;
  }
  s.need_address = false;
  s.paused_until = {};
  if (Status st = snooper->AddInterface(s.ifindex, *own); !st.ok())
    Notice("interface " + s.name + ": MLD: " + st.ToString());
  Notice("link " + s.name + " is up: sending again; a General Query asks who listens");
}

void ShareEngine::Loop::DropInterface(size_t slot) {
  Sender& s = senders[slot];
  Notice("interface " + s.name + " went away: its groups are dropped");
  snooper->RemoveInterface(s.ifindex);
  HandleEvents();  // the leaves of its groups, while its slot still names it
  epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, s.socket->fd(), nullptr);
  for (auto it = unresolved.begin(); it != unresolved.end();) {
    it = it->ifindex == s.ifindex ? unresolved.erase(it) : std::next(it);
  }
  s = Sender{};
  PublishServed();
}

void ShareEngine::Loop::LinkChanged(int ifindex, const std::string& name, unsigned flags) {
  const bool usable = (flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING) &&
                      (flags & IFF_MULTICAST) && !(flags & IFF_LOOPBACK);
  if (const auto slot = SenderIndex(ifindex)) {
    Sender& s = senders[*slot];
    if (!name.empty() && name != s.name) s.name = name;
    if (usable == s.link_up) return;
    s.link_up = usable;
    if (usable) {
      Resume(s);
    } else {
      Notice("link " + s.name + " is down: sending on it paused");
    }
    return;
  }
  if (usable && !name.empty() && Wanted(name)) StartInterface(ifindex, name);
}

void ShareEngine::Loop::AddressChanged(int ifindex) {
  if (const auto slot = SenderIndex(ifindex)) {
    Sender& s = senders[*slot];
    if (s.link_up && s.need_address) Resume(s);
    return;
  }
  // A wanted interface that was waiting for its address.
  char name[IF_NAMESIZE] = {};
  if (!if_indextoname(static_cast<unsigned>(ifindex), name)) return;
  auto all = net::MulticastInterfaces();
  if (!all.ok()) return;
  for (const auto& i : *all) {
    if (i.ifindex == ifindex && Wanted(i.name)) StartInterface(ifindex, i.name);
  }
}

void ShareEngine::Loop::Rescan() {
  auto all = net::MulticastInterfaces();
  if (!all.ok()) return;
  for (size_t slot = 0; slot < senders.size(); ++slot) {
    const int ifindex = senders[slot].ifindex;
    if (ifindex == 0) continue;
    char name[IF_NAMESIZE] = {};
    if (!if_indextoname(static_cast<unsigned>(ifindex), name)) {
      DropInterface(slot);
      continue;
    }
    const bool listed = std::any_of(all->begin(), all->end(), [&](const net::InterfaceInfo& i) {
      return i.ifindex == ifindex;
    });
    LinkChanged(ifindex, name, listed ? IFF_UP | IFF_RUNNING | IFF_MULTICAST : 0);
  }
  for (const auto& i : *all) {
    if (!SenderIndex(i.ifindex) && Wanted(i.name)) StartInterface(i.ifindex, i.name);
  }
}

void ShareEngine::Loop::HandleLinkEvents() {
  const Status read = links->Dispatch({
      .link = [&](const net::LinkEvent& e) { LinkChanged(e.ifindex, e.name, e.flags); },
      .link_gone =
          [&](int ifindex) {
            if (const auto slot = SenderIndex(ifindex)) DropInterface(*slot);
          },
      .address = [&](int ifindex) { AddressChanged(ifindex); },
      .lost = [&] { Rescan(); },
  });
  if (!read.ok()) {
    Notice("link events: " + read.ToString());
    return;
  }
  weights_stale = true;  // links may have paused or resumed
}

void ShareEngine::Loop::PollMld(Clock::time_point now) {
  Status s = snooper->HandleReadable(now);
  if (!s.ok()) Log("MLD socket: " + s.ToString());
  HandleEvents();
}

Status ShareEngine::Loop::SendTurn(Clock::time_point now) {
  const auto next = PickNext(now);
  if (!next) return Status::Error(EAGAIN, "nothing to send");
  const net::Ipv6Address group = *next;
  Active& a = active.at(group);
  // No credit for time spent holding or without weight: every group that
  // sent all along has a pass of vtime or more.
  a.held_until = {};
  a.pass = std::max(a.pass, vtime);
  vtime = a.pass;
  if (!a.stream.loaded()) {
    Status s = LoadStream(group, a);
    if (s.code() == EAGAIN) a.pass += kPacketsPerTurn / a.weight;  // others go first meanwhile
    LCFS_RETURN_IF_ERROR(s);
  }
  RefreshListeners(group, a, now);
  if (a.renew) {  // a newcomer needs a whole set from here
    a.renew = false;
    weights_stale = true;  // no longer streaming without end
    a.newcomer_at = a.stream.position();
    a.enough = a.stream.position() + a.stream.symbols_to_decode();
    a.round = 0;
    a.satisfied = {};
  }

  const size_t packet = a.stream.packet_size();
  const size_t wire = (packet + kPacketOverhead) * a.senders.size();
  bucket->Refill(now);
  size_t count = std::clamp<size_t>(bucket->Available() / wire, 1, kPacketsPerTurn);
  count = static_cast<size_t>(std::min<uint64_t>(count, a.enough - a.stream.position()));
  for (size_t i = 0; i < count; ++i) {
    Status s = a.stream.NextPacket(std::span(batch).subspan(i * packet, packet));
    if (!s.ok()) {
      Log("object " + a.stream.hash().ToHex() + ": " + s.ToString());
      Deactivate(group, /*remember_listeners=*/true);
      return s;
    }
  }
  a.sent_since_load += count;
  if (a.memory != a.stream.MemoryUsage()) AccountMemory(a);  // repair symbols began

  const std::span<const uint8_t> data(batch.data(), count * packet);
  for (size_t s : a.senders) {
    Sender& sender = senders[s];
    if (!sender.Usable(now)) continue;
    auto sent = sender.socket->SendSegments(group, data, packet);
    const size_t packets = sent.ok() ? *sent / packet : 0;
    if (!sent.ok() && IsLinkError(sent.status().code())) {
      stats->send_errors.fetch_add(1, std::memory_order_relaxed);
      PauseSender(sender, sent.status(), now);
    } else if (!sent.ok() || packets < count) {
      stats->send_errors.fetch_add(1, std::memory_order_relaxed);
      blocked_until = now + kBlockedRetry;
      WatchWritable(sender.socket->fd());
      if (!sent.ok()) Log("send on " + sender.name + ": " + sent.status().ToString());
    } else if (sender.errors != 0) {
      const auto ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - sender.episode_start);
      Notice("sending on " + sender.name + " again after " + std::to_string(sender.errors) +
             " failed sends in " + std::to_string(ms.count()) + " ms");
      sender.errors = 0;
      sender.backoff = {};
    }
    bucket->Spend(packets * (packet + kPacketOverhead));
    stats->symbols_sent.fetch_add(packets, std::memory_order_relaxed);
    stats->bytes_sent.fetch_add(packets * packet, std::memory_order_relaxed);
    if (a.round != 0) stats->round_symbols.fetch_add(packets, std::memory_order_relaxed);
  }
  a.pass += static_cast<double>(count * a.senders.size()) / a.weight;

  if (a.stream.position() >= a.enough) {
    // Every listener known has been sent enough: wait for their leaves, then
    // send the next repair round. Once a round is a whole set, whoever is
    // still there gets a plain fountain.
    const uint64_t full = a.stream.symbols_to_decode();
    if (a.round == 0) a.satisfied = now;
    a.round =
        a.round == 0 ? std::max<uint64_t>(kPacketsPerTurn, full / kFirstRoundDivisor) : 2 * a.round;
    a.enough =
        a.round >= full ? std::numeric_limits<uint64_t>::max() : a.stream.position() + a.round;
    a.held_until = now + Hold();
    weights_stale = true;  // its hosts give their shares to their next groups
    stats->holds.fetch_add(1, std::memory_order_relaxed);
  }
  return Status::Ok();
}

void ShareEngine::Loop::Run() {
  constexpr int kMaxEvents = 8;
  epoll_event ready[kMaxEvents];
  Clock::time_point armed{};
  for (;;) {
    Clock::time_point now = Clock::now();
    if (Stopping()) break;
    TakeIncoming(now);
    TakeStandby();
    ExpireEpochs(now);
    snooper->ProcessTimers(now);
    HandleEvents();

    // Send while tokens last, reading MLD between turns so that a group
    // whose last listener left gets no further turn.
    bool more = false;
    if (now >= blocked_until && Sendable(now)) {
      for (int turn = 0; turn < kTurnsPerPoll; ++turn) {
        bucket->Refill(now);
        if (bucket->Available() == 0 || now < blocked_until) break;
        // A failed turn has logged and dropped its object, or waits for
        // encoder memory: either way the next turn is another object's.
        (void)SendTurn(now);
        now = Clock::now();
        PollMld(now);
        if (!Sendable(now)) break;
      }
      bucket->Refill(now);
      more = bucket->Available() >= wake_bytes && now >= blocked_until && Sendable(now);
    }

    // Sleep until the next thing to do: MLD timers, an epoch's end, tokens,
    // the end of a hold.
    int timeout_ms = -1;
    if (more) {
      timeout_ms = 0;
    } else {
      std::optional<Clock::time_point> next = snooper->NextDeadline();
      auto earliest = [&](Clock::time_point t) {
        if (!next || t < *next) next = t;
      };
      if (epochs.size() > 1 && epochs.back()->expires) earliest(*epochs.back()->expires);
      if (Sendable(now)) {
        earliest(std::max(bucket->NextAvailable(now, wake_bytes), blocked_until));
      } else {
        if (auto hold_end = NextHoldEnd(now)) earliest(*hold_end);
        // A group waiting for a host behind (kStartDelay) starts then.
        if (weights_until > now && weights_until != Clock::time_point::max())
          earliest(weights_until);
        if (auto unpause = NextUnpause(now)) earliest(*unpause);
      }
      if (next && *next != armed) {
        ArmTimer(*next, now);
        armed = *next;
      }
    }
    const int n = epoll_wait(epoll_fd.get(), ready, kMaxEvents, timeout_ms);
    for (int i = 0; i < n; ++i) {
      const int fd = ready[i].data.fd;
      if (fd == snooper->fd()) {
        PollMld(Clock::now());
      } else if (links && fd == links->fd()) {
        HandleLinkEvents();
      } else if (ready[i].events & EPOLLOUT) {
        blocked_until = {};  // a full socket buffer has room again
      } else {
        uint64_t value;
        [[maybe_unused]] ssize_t r = ::read(fd, &value, sizeof value);  // eventfd / timerfd
        if (fd == timer_fd.get()) armed = {};
      }
    }
  }
}

Result<ShareHandle> Share(const index::IndexResult& index, int ifindex, ShareStats* stats,
                          unsigned flags, ShareOptions options) try {
  if (!index.mdex) return Status::Error(EINVAL, "share: index has no mdex");
  if (options.rate_bps == 0) return Status::Error(EINVAL, "share: rate must be positive");
  if (options.min_hold.count() < 0 || options.max_hold < options.min_hold)
    return Status::Error(EINVAL, "share: hold bounds must satisfy 0 <= min_hold <= max_hold");
  LCFS_RETURN_IF_ERROR(options.scheme.Validate());
  LCFS_RETURN_IF_ERROR(options.mld_timers.Validate());
  if (options.hop_limit < 1 || options.hop_limit > 255)
    return Status::Error(
        EINVAL, "share: hop limit " + std::to_string(options.hop_limit) + " is not from 1 to 255");

  // The interfaces: multicast-capable, with IPv6 (a link-local address,
  // which the querier sends from).
  auto all = net::MulticastInterfaces();
  if (!all.ok()) return MapOpenError(all.status());
  std::vector<int> ifindexes;
  std::vector<int> wanted = options.interfaces;
  if (ifindex != 0) {
    if (!wanted.empty())
      return Status::Error(EINVAL, "share: give an ifindex or options.interfaces, not both");
    wanted.push_back(ifindex);
  }
  for (int want : wanted) {
    const auto info = std::find_if(all->begin(), all->end(),
                                   [&](const net::InterfaceInfo& i) { return i.ifindex == want; });
    if (info == all->end())
      return Status::Error(
          ENODEV, "share: interface " + std::to_string(want) + " is not up and multicast-capable");
    if (!net::LinkLocalAddress(want).ok())
      return Status::Error(ENOTSUP, "share: no MLD support on " + info->name +
                                        ": no IPv6 link-local address (IPv6 disabled?)");
    if (std::find(ifindexes.begin(), ifindexes.end(), want) == ifindexes.end())
      ifindexes.push_back(want);
  }
  if (wanted.empty()) {
    for (const auto& info : *all) {
      if (net::LinkLocalAddress(info.ifindex).ok()) ifindexes.push_back(info.ifindex);
    }
    if (ifindexes.empty())
      return Status::Error(ENOTSUP,
                           "share: no MLD support: no multicast-capable interface with IPv6");
  }

  ShareHandle engine(new ShareEngine());
  if (stats) engine->stats_ = stats;
  auto loop = std::make_unique<ShareEngine::Loop>();
  ShareEngine::Loop& l = *loop;
  l.stats = engine->stats_;
  l.options = std::move(options);

  // Build the first epoch before opening anything: a broken index fails fast.
  auto map = GroupMap::Build(index, l.options.scheme);
  if (!map.ok()) return map.status().WithContext("share: index");
  auto epoch = std::make_shared<Epoch>();
  epoch->root = index.root;
  epoch->mdex = index.mdex;
  epoch->map = std::move(*map);
  l.stats->published_objects.store(epoch->map.size(), std::memory_order_relaxed);
  {
    MutexLock lock(&l.mu);  // no other thread yet: for the analysis
    l.standby_wanted = l.options.standby;
    epoch->id = l.next_epoch_id++;
    l.incoming.push_back(std::move(epoch));
  }

  net::MldSnooperOptions mld;
  mld.interfaces = ifindexes;
  mld.timers = l.options.mld_timers;
  mld.querier = l.options.querier;
  // Only groups of served objects cost state: reports for others (the
  // solicited-node groups every host reports, a flood of random groups,
  // a channel's group) are counted and dropped. Both run on the engine
  // thread (the snooper is only called there).
  mld.group_filter = [&l](const net::Ipv6Address& g) { return l.MayServe(g); };
  mld.on_ignored = [&l](int ifindex, const net::Ipv6Address& g, bool joining) {
    l.OnIgnored(ifindex, g, joining);
  };

  auto snooper =
      net::MldSnooper::Open(mld, [&l](const net::MembershipEvent& e) { l.events.push_back(e); });
  if (!snooper.ok()) return MapOpenError(snooper.status());
  l.snooper = std::move(*snooper);

  l.loopback = (flags & kShareLoopback) != 0;
  for (int i : ifindexes) {
    net::MulticastSocketOptions so;
    so.port = 0;
    so.send_ifindex = i;
    so.hop_limit = l.options.hop_limit;
    so.loop = l.loopback;
    so.receive_buffer = 0;
    auto socket = net::MulticastSocket::Open(so);
    if (!socket.ok()) return MapOpenError(socket.status());
    socket->set_destination_port(l.options.scheme.port);
    Sender sender;
    sender.ifindex = i;
    char name[IF_NAMESIZE] = {};
    sender.name = if_indextoname(static_cast<unsigned>(i), name) ? name : std::to_string(i);
    sender.socket.emplace(std::move(*socket));
    // Interfaces asked for by name come back by name (a re-created one has
    // another ifindex); without any, every one that can serves.
    if (!wanted.empty()) l.wanted.push_back(sender.name);
    l.senders.push_back(std::move(sender));
  }
  l.PublishServed();
  if (auto links = net::LinkMonitor::Open(); links.ok()) {
    l.links.emplace(std::move(*links));
  } else {
    l.Notice("not following interface changes: " + links.status().ToString());
  }

  // Burst: 100 ms of sending, so a loop thread descheduled that long (a busy
  // machine) loses no rate; a receiver's socket buffer absorbs it. At least
  // two full turns.
  const uint64_t burst = std::max<uint64_t>(l.options.rate_bps / 8 / 10,
                                            2 * kPacketsPerTurn * (kMaxPacket + kPacketOverhead));
  l.bucket.emplace(l.options.rate_bps, burst, Clock::now());
  l.wake_bytes = std::clamp<uint64_t>(l.options.rate_bps / 8 / 200, kMaxPacket + kPacketOverhead,
                                      kPacketsPerTurn * (kMaxPacket + kPacketOverhead));
  l.batch.resize(kPacketsPerTurn * kMaxPacket);

  l.epoll_fd.reset(epoll_create1(EPOLL_CLOEXEC));
  l.wake_fd.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  l.timer_fd.reset(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!l.epoll_fd || !l.wake_fd || !l.timer_fd)
    return Status::FromErrno(errno, "share: epoll/eventfd/timerfd");
  for (int fd :
       {l.snooper->fd(), l.wake_fd.get(), l.timer_fd.get(), l.links ? l.links->fd() : -1}) {
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(l.epoll_fd.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
      return Status::FromErrno(errno, "share: epoll_ctl");
  }
  for (const Sender& sender : l.senders) {  // armed for EPOLLOUT when a send blocks
    epoll_event ev{};
    ev.data.fd = sender.socket->fd();
    if (epoll_ctl(l.epoll_fd.get(), EPOLL_CTL_ADD, ev.data.fd, &ev) != 0)
      return Status::FromErrno(errno, "share: epoll_ctl");
  }

  l.thread = std::thread([&l] { l.Run(); });
  engine->loop_ = std::move(loop);
  return engine;
} catch (const std::bad_alloc&) {
  return Status::Error(ENOMEM, "share: out of memory");
}

void Unshare(ShareHandle handle) { handle.reset(); }

ShareEngine::~ShareEngine() {
  if (!loop_) return;
  {
    MutexLock lock(&loop_->mu);
    loop_->stop = true;
  }
  loop_->Wake();
  if (loop_->thread.joinable()) loop_->thread.join();
  stats_->active_objects.store(0, std::memory_order_relaxed);
  stats_->active_groups.store(0, std::memory_order_relaxed);
  stats_->encoder_bytes.store(0, std::memory_order_relaxed);
}

Status ShareEngine::Serve(const index::IndexResult& index) try {
  if (!index.mdex) return Status::Error(EINVAL, "serve: index has no mdex");
  auto map = GroupMap::Build(index, loop_->options.scheme);
  if (!map.ok()) return map.status().WithContext("serve");
  auto epoch = std::make_shared<Epoch>();
  epoch->root = index.root;
  epoch->mdex = index.mdex;
  epoch->map = std::move(*map);
  {
    MutexLock lock(&loop_->mu);
    epoch->id = loop_->next_epoch_id++;
    loop_->incoming.push_back(std::move(epoch));
  }
  loop_->Wake();
  return Status::Ok();
} catch (const std::bad_alloc&) {
  return Status::Error(ENOMEM, "serve: out of memory");
}

void ShareEngine::SetStandby(bool standby) {
  {
    MutexLock lock(&loop_->mu);
    loop_->standby_wanted = standby;
  }
  loop_->Wake();
}

std::vector<int> ShareEngine::interfaces() const {
  std::vector<int> out;
  MutexLock lock(&loop_->mu);
  out = loop_->served;
  return out;
}

}  // namespace lcfs::share
