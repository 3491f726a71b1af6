#include "relay.h"

#include <net/if.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <utility>

#include "cached_stream.h"
#include "lcfs/channel/record.h"
#include "lcfs/fec/payload_id.h"
#include "lcfs/net/interfaces.h"
#include "lcfs/share/share.h"
#include "lcfs/unique_fd.h"

namespace lcfs::relay {
namespace {

using Clock = std::chrono::steady_clock;

// Room for any lcfs packet (and a little more, so a larger datagram shows
// as truncated rather than fitting by accident).
constexpr size_t kDatagramBuffer = 2048;
constexpr size_t kBatch = 64;
constexpr size_t kBatchesPerWakeup = 16;
// Ethernet frame bytes a UDP payload costs: IPv6 40 + UDP 8 + Ethernet 14
// (as the exporter counts its rate).
constexpr uint64_t kFrameOverhead = 62;
// Packets a cached stream sends per turn (as the exporter's turns).
constexpr size_t kTurn = 32;
// A source that sent forged objects on a group is remembered for so many.
constexpr size_t kMaxForged = 16;

std::string InterfaceName(int ifindex) {
  char name[IF_NAMESIZE] = {};
  return if_indextoname(static_cast<unsigned>(ifindex), name) ? name : std::to_string(ifindex);
}

}  // namespace

// One downstream link: its send socket (hop limit 1, the link's own
// link-local source chosen by the kernel) and its rate policer.
struct Relay::Downstream {
  int ifindex = 0;
  std::string name;
  std::optional<net::MulticastSocket> socket;
  std::vector<net::OutgoingDatagram> batch;  // of the datagrams being handled
  // Token bucket in frame bytes; unused when the rate is 0.
  double tokens = 0;
  double burst = 0;
  Clock::time_point refilled{};

  bool Admit(uint64_t rate, size_t payload, Clock::time_point now) {
    if (rate == 0) return true;
    const double bytes_per_s = static_cast<double>(rate) / 8;
    tokens = std::min(burst,
                      tokens + bytes_per_s * std::chrono::duration<double>(now - refilled).count());
    refilled = now;
    const double cost = static_cast<double>(payload + kFrameOverhead);
    if (tokens < cost) return false;
    tokens -= cost;
    return true;
  }
};

// A group served from the cache: its stream and the links that listen.
struct Relay::Served {
  CachedStream stream;
  std::vector<int> links;
  uint64_t arrivals = 0;  // as Wanted::arrivals
};

Relay::~Relay() = default;

Result<std::unique_ptr<Relay>> Relay::Open(const RelayOptions& options,
                                           std::function<void(const std::string&)> log) {
  LCFS_RETURN_IF_ERROR(options.scheme.Validate());
  LCFS_RETURN_IF_ERROR(options.timers.Validate());
  if (options.min_hold.count() < 0 || options.max_hold < options.min_hold)
    return Status::Error(EINVAL, "relay: hold bounds must satisfy 0 <= min_hold <= max_hold");
  if (options.upstream <= 0 || options.downstream.empty())
    return Status::Error(EINVAL, "relay: one upstream and at least one downstream interface");
  for (int d : options.downstream) {
    if (d == options.upstream)
      return Status::Error(EINVAL,
                           "relay: " + InterfaceName(d) + " is both upstream and downstream");
    if (std::count(options.downstream.begin(), options.downstream.end(), d) != 1)
      return Status::Error(EINVAL, "relay: " + InterfaceName(d) + " given twice downstream");
  }
  auto all = net::MulticastInterfaces();
  if (!all.ok()) return all.status();
  std::vector<int> every = options.downstream;
  every.push_back(options.upstream);
  for (int i : every) {
    if (std::none_of(all->begin(), all->end(), [&](const auto& x) { return x.ifindex == i; }))
      return Status::Error(
          ENODEV, "relay: interface " + InterfaceName(i) + " is not up and multicast-capable");
    if (auto ll = net::LinkLocalAddress(i); !ll.ok())
      return ll.status().WithContext("relay: " + InterfaceName(i));
  }

  std::unique_ptr<Relay> r(new Relay());
  r->options_ = options;
  r->repair_hold_ = RepairHold(options.min_hold, options.max_hold);
  r->log_ = std::move(log);

  net::MldSnooperOptions mld;
  mld.interfaces = options.downstream;
  mld.timers = options.timers;
  mld.querier = true;
  // As the exporter: only lcfs groups cost state.
  mld.group_filter = [scheme = options.scheme](const net::Ipv6Address& g) {
    return net::HasGroupPrefix(g, scheme);
  };
  Relay* self = r.get();
  auto snooper = net::MldSnooper::Open(
      mld, [self](const net::MembershipEvent& e) { self->events_.push_back(e); });
  if (!snooper.ok()) return snooper.status().WithContext("relay: MLD (needs CAP_NET_RAW)");
  r->snooper_ = std::move(*snooper);

  net::MulticastSocketOptions up;
  up.port = options.scheme.port;
  up.hop_limit = 1;
  up.loop = false;
  up.send_ifindex = options.upstream;
  up.only_joined_groups = true;  // not what other sockets of this host joined
  // The exporter sends in bursts at its --rate (1 Gbit/s: ~85k datagrams/s)
  // while this loop may be decoding, hashing and storing an object for tens
  // of ms: 8 MiB overflowed (a third of a 32 MiB read lost, so the exporter
  // sent rounds of repair with holds between them); 64 MiB did not.
  up.receive_buffer = 64 << 20;
  auto upstream = net::MulticastSocket::Open(up);
  if (!upstream.ok()) return upstream.status().WithContext("relay: upstream socket");
  r->upstream_.emplace(std::move(*upstream));

  for (int i : options.downstream) {
    net::MulticastSocketOptions so;
    so.port = 0;
    so.hop_limit = 1;
    so.loop = false;
    so.send_ifindex = i;
    so.receive_buffer = 0;
    auto socket = net::MulticastSocket::Open(so);
    if (!socket.ok()) return socket.status().WithContext("relay: " + InterfaceName(i));
    socket->set_destination_port(options.scheme.port);
    auto d = std::make_unique<Downstream>();
    d->ifindex = i;
    d->name = InterfaceName(i);
    d->socket.emplace(std::move(*socket));
    d->burst = std::max(64.0 * 1024, static_cast<double>(options.rate) / 8 / 100);  // >= 10 ms
    d->tokens = d->burst;
    d->refilled = Clock::now();
    r->downstream_.push_back(std::move(d));
  }

  if (!options.cache_dir.empty()) {
    auto cache = cache::ChunkCache::Open(options.cache_dir, options.cache_size);
    if (!cache.ok()) return cache.status().WithContext("relay: cache " + options.cache_dir);
    r->cache_ = std::move(*cache);
    LCFS_RETURN_IF_ERROR(r->IndexCache());
    r->collector_ = std::make_unique<ObjectCollector>(
        options.scheme,
        CollectorLimits{.max_object = options.max_object, .memory = options.decode_memory});
    r->serve_refilled_ = Clock::now();
  }

  r->election_fd_ = UniqueFd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!r->election_fd_) return Status::FromErrno(errno, "relay: eventfd");
  if (options.election) {
    // Relays between the same links serve one "root" of their own: no
    // exporter's, so exporters' and relays' elections never mix.
    r->active_ = false;
    r->was_active_ = false;
    replica::ReplicaOptions ro;
    ro.interval = options.hello_interval;
    ro.port = options.scheme.port;
    ro.interfaces = [downstream = options.downstream] { return downstream; };
    const int fd = r->election_fd_.get();
    ro.on_change = [self, fd](bool active) {
      self->active_.store(active, std::memory_order_release);
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
    };
    ro.log = r->log_;
    auto replicator = replica::Replicator::Start(Sha256Of("lcfs-relay-election-v1"), ro);
    if (!replicator.ok()) return replicator.status().WithContext("relay: election");
    r->replicator_ = std::move(*replicator);
  }
  return r;
}

void Relay::OnElection() {
  const bool active = active_.load(std::memory_order_acquire);
  if (active == was_active_) return;
  was_active_ = active;
  if (!active) return;
  ++counters_.takeovers;
  // As a replica taking over (section 14.5): every group served from the
  // cache gets a whole set, as for a newcomer. Relayed groups are joined
  // upstream already and their symbols flow on from now.
  for (auto& [group, served] : served_) served->stream.Arrival();
}

uint64_t Relay::Arrivals(const net::Ipv6Address& group, const std::vector<int>& links) const {
  uint64_t n = 0;
  for (int link : links) n += snooper_->ListenerArrivals(link, group);
  return n;
}

void Relay::RefreshListeners() {
  // As the exporter does (section 9): a listener that arrives on a link
  // where the group has listeners brings no join event, only a new arrival.
  const uint64_t generation = snooper_->listeners_generation();
  if (generation == listeners_seen_) return;
  listeners_seen_ = generation;
  for (auto& [group, served] : served_) {
    const uint64_t arrivals = Arrivals(group, served->links);
    if (arrivals <= served->arrivals) {
      served->arrivals = arrivals;
      continue;
    }
    served->arrivals = arrivals;
    served->stream.Arrival();
    ++counters_.newcomers;
  }
  for (auto& [group, wanted] : wanted_) {
    const uint64_t arrivals = Arrivals(group, wanted.links);
    if (arrivals > wanted.arrivals) {
      wanted.newcomer_at = wanted.passed_on;
      ++counters_.newcomers;
    }
    wanted.arrivals = arrivals;
  }
}

Status Relay::IndexCache() {
  // What a previous run (or a mount sharing the directory) left: the names
  // are in the file names; Lookup() verifies each object before it is sent.
  namespace fs = std::filesystem;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(cache::ObjectsDir(cache_->dir()), ec), end;
       !ec && it != end; it.increment(ec)) {
    Hash hash;
    ObjectKind kind;
    if (!it->is_regular_file(ec) ||
        !cache::ParseObjectFileName(it->path().filename().string(), &hash, &kind))
      continue;
    cached_[net::GroupAddress(hash, options_.scheme)] = CachedName{hash, kind};
  }
  if (ec) return Status::Error(ec.value(), "relay: reading the cache: " + ec.message());
  return Status::Ok();
}

bool Relay::ServeFromCache(const net::Ipv6Address& group, int ifindex) {
  if (!cache_) return false;
  auto c = cached_.find(group);
  if (c == cached_.end()) return false;
  auto object = cache_->Lookup(c->second.name, c->second.kind);
  if (!object) {  // evicted by another process, or found corrupt and removed
    cached_.erase(c);
    return false;
  }
  // Encoders of served objects share the decoders' memory bound; over it,
  // the group is simply relayed from upstream.
  if (served_memory_ + object->size() > options_.decode_memory) return false;
  auto bytes = object->ReadAll();
  if (!bytes.ok()) return false;
  auto stream = CachedStream::Create(c->second.name, c->second.kind, std::move(*bytes));
  if (!stream.ok()) return false;
  auto served = std::make_unique<Served>(Served{std::move(*stream), {ifindex}});
  served->arrivals = Arrivals(group, served->links);
  served->stream.Arrival();
  served_memory_ += served->stream.size();
  served_.emplace(group, std::move(served));
  ++counters_.served_objects;
  return true;
}

Relay::Downstream* Relay::FindDownstream(int ifindex) {
  for (auto& d : downstream_)
    if (d->ifindex == ifindex) return d.get();
  return nullptr;
}

void Relay::DrainEvents() {
  // The sink may not re-enter the snooper, and OnEvent does not: still, take
  // the queue first so events queued meanwhile are not lost.
  while (!events_.empty()) {
    std::vector<net::MembershipEvent> events;
    events.swap(events_);
    for (const auto& e : events) OnEvent(e);
  }
}

void Relay::OnEvent(const net::MembershipEvent& e) {
  if (!FindDownstream(e.ifindex)) return;
  const bool join = e.kind == net::MembershipEvent::Kind::kJoin;
  if (auto s = served_.find(e.group); s != served_.end()) {
    std::vector<int>& links = s->second->links;
    if (join) {
      if (std::find(links.begin(), links.end(), e.ifindex) == links.end())
        links.push_back(e.ifindex);
      s->second->arrivals = Arrivals(e.group, links);
      s->second->stream.Arrival();
      return;
    }
    std::erase(links, e.ifindex);
    if (!links.empty()) return;
    if (auto satisfied = s->second->stream.satisfied())
      repair_hold_.OnLeave(Clock::now() - *satisfied);
    served_memory_ -= s->second->stream.size();
    served_.erase(s);
    return;
  }
  auto it = wanted_.find(e.group);
  if (join) {
    if (it == wanted_.end()) {
      if (ServeFromCache(e.group, e.ifindex)) return;
      // First listener on any downstream link: join upstream. A refused join
      // is logged and counted; the group stays wanted, so its leave is clean.
      it = wanted_.emplace(e.group, Wanted{}).first;
      if (Status s = upstream_->Join(e.group, options_.upstream); !s.ok()) {
        ++counters_.join_failures;
        if (log_) log_("join " + e.group.ToString() + " upstream: " + s.ToString());
      } else {
        ++counters_.upstream_joins;
      }
    }
    std::vector<int>& links = it->second.links;
    if (std::find(links.begin(), links.end(), e.ifindex) == links.end()) links.push_back(e.ifindex);
    // A link that starts listening to a group relayed already: a newcomer
    // the exporter does not see (the relay's own join is one from the start).
    const uint64_t arrivals = Arrivals(e.group, links);
    if (links.size() > 1) {
      it->second.newcomer_at = it->second.passed_on;
      ++counters_.newcomers;
    }
    it->second.arrivals = arrivals;
    return;
  }
  if (it == wanted_.end()) return;
  std::erase(it->second.links, e.ifindex);
  if (!it->second.links.empty()) return;
  wanted_.erase(it);
  if (collector_) collector_->ForgetGroup(e.group);
  (void)upstream_->Leave(e.group, options_.upstream);  // not joined if the join failed
  ++counters_.upstream_leaves;
}

bool Relay::Collect(const net::IncomingDatagram& dg, const net::PacketView& view, Wanted* wanted) {
  Hash name;
  ObjectKind kind;
  std::vector<uint8_t> bytes;
  switch (collector_->Add(dg.destination, dg.source, view, &name, &kind, &bytes)) {
    case ObjectCollector::Outcome::kVerified:
      ++counters_.verified;
      // The collector computed `name` from these bytes: hashing them again
      // in the cache would prove nothing more.
      if (auto c = cache_->InsertVerified(name, kind, bytes); c.ok()) {
        cached_[dg.destination] = CachedName{name, kind};
        return TakeOver(dg.destination, name, kind, std::move(bytes));
      } else {
        ++counters_.cache_errors;
        if (log_) log_("caching " + name.ToHex() + ": " + c.status().ToString());
      }
      return false;
    case ObjectCollector::Outcome::kForged:
      // Readers verify too, so what was passed on is harmless; from now on
      // this source's symbols of this object are not.
      ++counters_.forged;
      if (wanted->forged.size() < kMaxForged)
        wanted->forged.push_back({dg.source, view.header.object_id});
      if (log_)
        log_("forged object from " + dg.source.ToString() + " on " + dg.destination.ToString());
      return false;
    case ObjectCollector::Outcome::kRefused:
      ++counters_.decode_refused;
      return false;
    case ObjectCollector::Outcome::kPending:
    case ObjectCollector::Outcome::kKnown:
      return false;
  }
  return false;
}

void Relay::NotePassedOn(const net::PacketView& view, Wanted* wanted) {
  ++wanted->passed_on;
  // Stream position n = ESI x Z + SBN (section 9); Z is OTI byte 8 (section 5).
  auto id = fec::PayloadId::Decode(view.header.payload_id);
  if (!id.ok()) return;
  const uint64_t z = std::max<uint8_t>(view.header.oti[8], 1);
  wanted->position = std::max(wanted->position, uint64_t{id->esi} * z + id->sbn + 1);
}

bool Relay::TakeOver(const net::Ipv6Address& group, const Hash& name, ObjectKind kind,
                     std::vector<uint8_t> bytes) {
  // The exporter cannot tell the readers behind the relay apart: while any
  // of them still listens it sends rounds of repair, then streams without
  // holds. Once the relay has the object, it sends that repair itself.
  auto w = wanted_.find(group);
  if (w == wanted_.end() || served_memory_ + bytes.size() > options_.decode_memory) return false;
  auto stream = CachedStream::Create(name, kind, std::move(bytes));
  if (!stream.ok()) return false;
  auto served = std::make_unique<Served>(Served{std::move(*stream), w->second.links});
  served->arrivals = w->second.arrivals;
  // The listeners have had what the relay decoded from: the stream goes on
  // with repair symbols after a hold (sent at once, a round was mostly
  // wasted: 0.3-0.8x a 32 MiB file downstream for 4 readers). One that
  // arrived after the relay joined upstream is owed what it missed first.
  const Wanted& wanted = w->second;
  const uint64_t set = served->stream.set();
  uint64_t owed = 0;
  if (wanted.newcomer_at && wanted.passed_on - *wanted.newcomer_at < set)
    owed = set - (wanted.passed_on - *wanted.newcomer_at);
  served->stream.ContinueAfterRelay(wanted.position, owed);
  served_memory_ += served->stream.size();
  served_.emplace(group, std::move(served));
  wanted_.erase(w);
  collector_->ForgetGroup(group);
  (void)upstream_->Leave(group, options_.upstream);
  ++counters_.upstream_leaves;
  ++counters_.taken_over;
  return true;
}

Status Relay::HandleUpstream() {
  std::array<std::array<uint8_t, kDatagramBuffer>, kBatch> buffers;
  std::array<net::IncomingDatagram, kBatch> in;
  // A bounded number of batches per wakeup: under a flood that fills the
  // socket faster than it drains (an exporter's fountain of one-symbol
  // packets at 1 Gbit/s), an unbounded loop never returned, so it never saw
  // the leaves that would end the flood, nor SIGTERM.
  for (size_t round = 0; round < kBatchesPerWakeup; ++round) {
    for (size_t i = 0; i < kBatch; ++i) in[i] = net::IncomingDatagram{.buffer = buffers[i]};
    auto n = upstream_->Receive(in);
    if (!n.ok()) return n.status().WithContext("relay: upstream receive");
    if (*n == 0) return Status::Ok();
    const Clock::time_point now = Clock::now();
    for (auto& d : downstream_) d->batch.clear();
    // Symbols to decode once the batch is passed on: a completing symbol
    // costs a decode, a hash and a write, which must not delay the others.
    std::array<std::pair<size_t, net::PacketView>, kBatch> symbols;
    size_t collect = 0;
    for (size_t i = 0; i < *n; ++i) {
      const net::IncomingDatagram& dg = in[i];
      ++counters_.received;
      if (dg.truncated) {
        ++counters_.truncated;
        continue;
      }
      if (dg.ifindex != options_.upstream) {
        ++counters_.wrong_interface;
        continue;
      }
      const std::span<const uint8_t> bytes(dg.buffer.data(), dg.length);
      net::PacketView view;
      const net::PacketDrop drop = net::ParsePacket(bytes, &view);
      packets_.Count(drop);
      if (drop != net::PacketDrop::kNone) {
        // Channel records (type 2) travel on lcfs groups too; their
        // signatures are for the readers to check.
        channel::Record record;
        if (drop != net::PacketDrop::kBadType ||
            channel::ParseRecord(bytes, &record) != channel::RecordDrop::kNone) {
          ++counters_.malformed;
          continue;
        }
        ++counters_.records;
      }
      auto it = wanted_.find(dg.destination);
      if (it == wanted_.end()) {
        ++counters_.unwanted;
        continue;
      }
      if (drop == net::PacketDrop::kNone) {
        const auto forged = std::find(it->second.forged.begin(), it->second.forged.end(),
                                      Forged{dg.source, view.header.object_id});
        if (forged != it->second.forged.end()) {
          ++counters_.forged_dropped;
          continue;
        }
        if (collector_) symbols[collect++] = {i, view};
      }
      if (!was_active_) {
        ++counters_.standby_dropped;
        continue;
      }
      if (drop == net::PacketDrop::kNone) NotePassedOn(view, &it->second);
      for (int ifindex : it->second.links) {
        Downstream* d = FindDownstream(ifindex);
        if (!d) continue;
        if (!d->Admit(options_.rate, dg.length, now)) {
          ++counters_.over_rate;
          continue;
        }
        d->batch.push_back({.group = dg.destination, .data = bytes});
      }
    }
    for (auto& d : downstream_) {
      if (d->batch.empty()) continue;
      auto sent = d->socket->Send(d->batch);
      // Forwarding never blocks: what the socket does not take now is lost,
      // as it would be on a congested link; readers recover with repair.
      const size_t ok = sent.ok() ? *sent : 0;
      counters_.forwarded += ok;
      counters_.send_dropped += d->batch.size() - ok;
    }
    // Then decode. Every symbol was passed on, the one that completes an
    // object too (kept back, it left each reader one short: all of them
    // waited for the first round of repair).
    for (size_t j = 0; j < collect; ++j) {
      const auto& [i, view] = symbols[j];
      auto it = wanted_.find(in[i].destination);
      if (it != wanted_.end()) Collect(in[i], view, &it->second);  // else served from the cache now
    }
    if (*n < kBatch) return Status::Ok();
  }
  return Status::Ok();  // more waits: epoll reports it again at once
}

std::optional<Clock::time_point> Relay::SendCached() {
  if (served_.empty() || !was_active_) return std::nullopt;
  const uint64_t rate = options_.serve_rate ? options_.serve_rate
                        : options_.rate     ? options_.rate
                                            : share::kDefaultRate;
  const double bytes_per_s = static_cast<double>(rate) / 8;
  const double burst = std::max(64.0 * 1024, bytes_per_s / 100);
  Clock::time_point now = Clock::now();
  serve_tokens_ = std::min(
      burst,
      serve_tokens_ + bytes_per_s * std::chrono::duration<double>(now - serve_refilled_).count());
  serve_refilled_ = now;

  std::array<std::array<uint8_t, net::kPacketHeaderSize + net::kMaxSymbolSize>, kTurn> packets;
  std::vector<net::OutgoingDatagram> batch;
  std::optional<Clock::time_point> wake;
  const Clock::duration hold = repair_hold_.Get();
  // Turns of up to kTurn packets, round robin, while the bucket allows. The
  // bucket holds a turn or a few, so the round goes on where the last call
  // stopped: started from the map's first group each time, the first few
  // would take every token while they stream, and the others wait.
  std::vector<std::pair<const net::Ipv6Address*, Served*>> order;
  order.reserve(served_.size());
  for (auto& [group, served] : served_) order.emplace_back(&group, served.get());
  const size_t start = serve_next_ % order.size();
  for (bool sent = true; sent;) {
    sent = false;
    for (size_t i = 0; i < order.size(); ++i) {
      const size_t at = (start + i) % order.size();
      const net::Ipv6Address& group = *order[at].first;
      Served* served = order[at].second;
      batch.clear();
      while (batch.size() < kTurn && serve_tokens_ > 0) {
        Clock::time_point w;
        if (!served->stream.Ready(now, hold, &w)) {
          wake = wake ? std::min(*wake, w) : w;
          break;
        }
        auto n = served->stream.Next(packets[batch.size()]);
        if (!n.ok()) break;  // the encoder failed: nothing more of this object
        serve_tokens_ -= static_cast<double>((*n + kFrameOverhead) * served->links.size());
        batch.push_back(
            {.group = group, .data = std::span<const uint8_t>(packets[batch.size()].data(), *n)});
      }
      if (batch.empty()) continue;
      sent = true;
      serve_next_ = at + 1;
      for (int ifindex : served->links) {
        Downstream* d = FindDownstream(ifindex);
        if (!d) continue;
        auto ok = d->socket->Send(batch);
        const size_t n = ok.ok() ? *ok : 0;
        counters_.served_packets += n;
        counters_.send_dropped += batch.size() - n;
      }
    }
    if (serve_tokens_ <= 0) {
      // Back when the bucket holds a whole turn again.
      const double need = static_cast<double>(kTurn) * 1500 - serve_tokens_;
      const Clock::time_point refill =
          now + std::chrono::duration_cast<Clock::duration>(
                    std::chrono::duration<double>(std::min(need, burst) / bytes_per_s));
      return wake ? std::min(*wake, refill) : refill;
    }
  }
  return wake;
}

Status Relay::Run(int stop_fd) {
  UniqueFd epoll(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return Status::FromErrno(errno, "epoll_create1");
  for (int fd : {stop_fd, snooper_->fd(), upstream_->fd(), election_fd_.get()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
      return Status::FromErrno(errno, "epoll_ctl");
  }
  for (;;) {
    Clock::time_point now = Clock::now();
    snooper_->ProcessTimers(now);
    DrainEvents();
    RefreshListeners();
    OnElection();
    std::optional<Clock::time_point> next = snooper_->NextDeadline();
    if (auto serve = SendCached()) next = next ? std::min(*next, *serve) : *serve;
    int timeout_ms = -1;
    if (next) {
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(*next - Clock::now()).count();
      timeout_ms = static_cast<int>(std::clamp<int64_t>(ms, 0, 60'000));
    }
    std::array<epoll_event, 5> ready;
    int n = epoll_wait(epoll.get(), ready.data(), static_cast<int>(ready.size()), timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      const int fd = ready[static_cast<size_t>(i)].data.fd;
      if (fd == stop_fd) return Status::Ok();
      if (fd == snooper_->fd()) {
        if (Status s = snooper_->HandleReadable(); !s.ok() && log_)
          log_("MLD socket: " + s.ToString());
        DrainEvents();
      } else if (fd == election_fd_.get()) {
        uint64_t value;
        [[maybe_unused]] ssize_t r = ::read(fd, &value, sizeof value);
      } else if (fd == upstream_->fd()) {
        LCFS_RETURN_IF_ERROR(HandleUpstream());
      }
    }
  }
}

}  // namespace lcfs::relay
