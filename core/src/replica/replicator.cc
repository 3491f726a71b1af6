#include "lcfs/replica/replicator.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <optional>
#include <random>
#include <thread>

#include "lcfs/mutex.h"
#include "lcfs/net/interfaces.h"
#include "lcfs/net/multicast_socket.h"
#include "lcfs/thread_annotations.h"
#include "lcfs/unique_fd.h"
#include "replica/election.h"
#include "replica/hello.h"

namespace lcfs::replica {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t RandomInstance() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

struct Replicator::Impl {
  Impl(ReplicaOptions o, net::MulticastSocket s, UniqueFd wake, const Hash& root)
      : options(std::move(o)),
        group(ReplicaGroup()),
        socket(std::move(s)),
        wake_fd(std::move(wake)),
        election(RandomInstance(), root, Timing(options.interval), Clock::now()),
        next_root(root) {}

  static ElectionOptions Timing(std::chrono::milliseconds interval) {
    ElectionOptions e;
    e.interval = interval;
    e.hold = interval * 7 / 2;
    e.startup = interval * 3 / 2;
    return e;
  }
  void Log(const std::string& line) const {
    if (options.log) options.log(line);
  }
  void Wake() const {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(wake_fd.get(), &one, sizeof one);
  }

  void Run() EXCLUDES(mu);
  // Joins the group on interfaces newly served, leaves it on those gone.
  void FollowInterfaces();
  void Receive(Clock::time_point now);
  void Send(bool leaving);
  void Decide(Clock::time_point now);

  const ReplicaOptions options;
  const net::Ipv6Address group;
  net::MulticastSocket socket;  // the thread's, after Start
  UniqueFd wake_fd;
  ReplicaStats stats;
  std::atomic<bool> is_active{false};

  // The thread's.
  Election election;
  std::vector<int> joined;
  bool decided = false;  // the first decision after the start-up was logged
  bool answer = false;   // a new peer was heard: say hello now
  Clock::time_point last_answer{};

  Mutex mu;
  Hash next_root GUARDED_BY(mu);
  bool stop GUARDED_BY(mu) = false;
  std::thread thread;
};

void Replicator::Impl::FollowInterfaces() {
  std::vector<int> now = options.interfaces();
  std::sort(now.begin(), now.end());
  if (now == joined) return;
  std::vector<OwnInterface> own;
  std::vector<int> kept;
  for (int ifindex : now) {
    auto address = net::LinkLocalAddress(ifindex);
    if (!address.ok()) continue;  // no address yet: an interval later
    const bool had = std::binary_search(joined.begin(), joined.end(), ifindex);
    if (!had) {
      if (Status s = socket.Join(group, ifindex); !s.ok()) {
        Log("replica group on interface " + std::to_string(ifindex) + ": " + s.ToString());
        continue;
      }
    }
    kept.push_back(ifindex);
    own.push_back({ifindex, *address});
  }
  for (int ifindex : joined) {
    if (!std::binary_search(kept.begin(), kept.end(), ifindex))
      (void)socket.Leave(group, ifindex);  // fails only if the interface is gone: left anyway
  }
  joined = std::move(kept);
  election.SetInterfaces(std::move(own));
}

void Replicator::Impl::Receive(Clock::time_point now) {
  std::array<std::array<uint8_t, kHelloSize + 1>, 16> bufs;
  std::array<net::IncomingDatagram, 16> in;
  for (;;) {
    for (size_t i = 0; i < in.size(); ++i) in[i] = {bufs[i]};
    auto n = socket.Receive(in);
    if (!n.ok() || *n == 0) return;
    for (size_t i = 0; i < *n; ++i) {
      const net::IncomingDatagram& d = in[i];
      if (d.destination != group) continue;  // another group's datagram on our port
      Hello hello;
      if (d.truncated ||
          ParseHello(std::span(d.buffer.data(), d.length), &hello) != HelloDrop::kNone) {
        stats.malformed.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (!options.peers.empty() &&
          std::find(options.peers.begin(), options.peers.end(), d.source) == options.peers.end()) {
        stats.refused.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      stats.hellos_received.fetch_add(1, std::memory_order_relaxed);
      if (election.OnHello(d.ifindex, d.source, hello, now)) {
        answer = true;
        Log("replica " + d.source.ToString() + " heard, " + (hello.active ? "active" : "standby") +
            (hello.root == election.root() ? ", same root" : ", root " + hello.root.ToHex()));
      }
    }
  }
}

void Replicator::Impl::Send(bool leaving) {
  const HelloBytes bytes = EncodeHello(election.MakeHello(leaving));
  const net::OutgoingDatagram d{group, bytes};
  for (int ifindex : joined) {
    auto sent = socket.SetSendInterface(ifindex).ok() ? socket.Send({&d, 1}) : Result<size_t>(0);
    if (sent.ok() && *sent == 1) stats.hellos_sent.fetch_add(1, std::memory_order_relaxed);
  }
}

void Replicator::Impl::Decide(Clock::time_point now) {
  const bool changed = election.Update(now);
  stats.live_peers.store(election.live_peers(), std::memory_order_relaxed);
  // The first decision is logged even when it keeps the start's standby.
  const bool first = !decided && !election.starting(now);
  if (first) decided = true;
  if (!changed && !first) return;
  is_active.store(election.active(), std::memory_order_release);
  if (election.active()) {
    stats.takeovers.fetch_add(1, std::memory_order_relaxed);
    Log("active: no live replica of this root serves before us");
  } else {
    if (changed) stats.standbys.fetch_add(1, std::memory_order_relaxed);
    Log("standby: a replica of this root serves (" + std::to_string(election.live_peers()) +
        " heard)");
  }
  if (!changed) return;
  options.on_change(election.active());
  Send(false);  // tell the others at once
}

void Replicator::Impl::Run() {
  Clock::time_point next_hello = Clock::now();
  for (;;) {
    Hash root;
    {
      MutexLock lock(&mu);
      if (stop) break;
      root = next_root;
    }
    Clock::time_point now = Clock::now();
    bool root_changed = false;
    if (root != election.root()) {
      election.SetRoot(root);
      root_changed = true;
    }
    Receive(now);
    Decide(now);
    if (now >= next_hello || root_changed ||
        (answer && now - last_answer >= options.interval / 4)) {
      FollowInterfaces();
      Send(false);
      if (answer) last_answer = now;
      answer = false;
      if (now >= next_hello) next_hello = now + options.interval;
    }
    Clock::time_point wake = next_hello;
    if (auto d = election.NextDeadline(now)) wake = std::min(wake, *d);
    if (answer) wake = std::min(wake, last_answer + options.interval / 4);
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wake - Clock::now()).count();
    std::array<pollfd, 2> fds{{{socket.fd(), POLLIN, 0}, {wake_fd.get(), POLLIN, 0}}};
    if (poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(ms, 0))) > 0 &&
        (fds[1].revents & POLLIN)) {
      uint64_t value;
      [[maybe_unused]] ssize_t r = ::read(wake_fd.get(), &value, sizeof value);
    }
  }
  Send(/*leaving=*/true);
}

Result<std::unique_ptr<Replicator>> Replicator::Start(const Hash& root, ReplicaOptions options) {
  if (!options.interfaces || !options.on_change)
    return Status::Error(EINVAL, "replica: interfaces and on_change are required");
  if (options.interval.count() < 10 || options.interval.count() > 10'000)
    return Status::Error(EINVAL, "replica: hello interval must be 10ms..10s");
  for (const auto& p : options.peers) {
    if (p.IsMulticast() || p.IsUnspecified())
      return Status::Error(EINVAL, "replica: peer " + p.ToString() + " is not a unicast address");
  }
  net::MulticastSocketOptions so;
  so.port = options.port;
  so.loop = options.loopback;
  so.receive_buffer = 0;
  so.send_buffer = 0;
  // Not the data other sockets of the host (a reader's fetcher) receive.
  so.only_joined_groups = true;
  auto socket = net::MulticastSocket::Open(so);
  if (!socket.ok()) return socket.status().WithContext("replica");
  socket->set_destination_port(options.port);
  UniqueFd wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake) return Status::FromErrno(errno, "replica: eventfd");
  auto impl = std::make_unique<Impl>(std::move(options), std::move(*socket), std::move(wake), root);
  impl->FollowInterfaces();
  Impl* p = impl.get();
  impl->thread = std::thread([p] { p->Run(); });
  return std::make_unique<Replicator>(std::move(impl));
}

Replicator::Replicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Replicator::~Replicator() {
  {
    MutexLock lock(&impl_->mu);
    impl_->stop = true;
  }
  impl_->Wake();
  impl_->thread.join();
}

void Replicator::SetRoot(const Hash& root) {
  {
    MutexLock lock(&impl_->mu);
    impl_->next_root = root;
  }
  impl_->Wake();
}

bool Replicator::active() const { return impl_->is_active.load(std::memory_order_acquire); }
const ReplicaStats& Replicator::stats() const { return impl_->stats; }

}  // namespace lcfs::replica
