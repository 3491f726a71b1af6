#include "lcfs/channel/follower.h"

#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "lcfs/channel/record_acceptor.h"
#include "lcfs/mutex.h"
#include "lcfs/net/multicast_socket.h"
#include "lcfs/unique_fd.h"

namespace lcfs::channel {

namespace {

using SteadyClock = std::chrono::steady_clock;

Result<int> ResolveInterface(const std::string& iface) {
  if (iface.empty()) return 0;
  unsigned index = 0;
  auto [end, ec] = std::from_chars(iface.data(), iface.data() + iface.size(), index);
  if (ec != std::errc() || end != iface.data() + iface.size())
    index = if_nametoindex(iface.c_str());
  char name[IF_NAMESIZE];
  if (index == 0 || !if_indextoname(index, name))
    return Status::Error(ENODEV, "interface \"" + iface + "\": no such interface");
  return static_cast<int>(index);
}

}  // namespace

struct Follower::Impl {
  Impl(RecordAcceptor a, FollowerOptions o, net::MulticastSocket s, net::Ipv6Address g,
       UniqueFd stop)
      : channel(a.channel()),
        options(std::move(o)),
        group(g),
        socket(std::move(s)),
        stop_fd(std::move(stop)),
        acceptor(std::move(a)) {}

  void Run() EXCLUDES(mu);
  void Receive() EXCLUDES(mu);

  const ChannelId channel;
  const FollowerOptions options;
  const net::Ipv6Address group;
  net::MulticastSocket socket;  // the thread's
  UniqueFd stop_fd;             // eventfd: written by the destructor
  std::thread thread;

  mutable Mutex mu;
  CondVar changed;
  RecordAcceptor acceptor GUARDED_BY(mu);
  // The current record was heard from the publisher since Start(), not
  // only remembered from the state file.
  bool fresh GUARDED_BY(mu) = false;
};

void Follower::Impl::Receive() {
  std::array<uint8_t, kRecordSize + 1> buf{};
  net::IncomingDatagram in[1];
  for (;;) {
    in[0] = {};
    in[0].buffer = buf;
    auto n = socket.Receive(in);
    if (!n.ok() || *n == 0) return;
    // Other sockets of this host bound to the port may share our groups'
    // traffic; only what was sent to the channel's group is ours to judge.
    if (in[0].destination != group) continue;
    const std::span<const uint8_t> datagram(buf.data(),
                                            in[0].truncated ? buf.size() : in[0].length);
    std::optional<Record> accepted;
    {
      MutexLock l(&mu);
      const RecordDrop verdict =
          acceptor.Offer(datagram, static_cast<uint64_t>(std::time(nullptr)));
      if (verdict == RecordDrop::kNone || verdict == RecordDrop::kRepeat) {
        if (verdict == RecordDrop::kNone) accepted = acceptor.current();
        fresh = true;
        changed.SignalAll();
      }
    }
    if (accepted && options.on_record) options.on_record(*accepted);
  }
}

void Follower::Impl::Run() {
  pollfd fds[2] = {{socket.fd(), POLLIN, 0}, {stop_fd.get(), POLLIN, 0}};
  for (;;) {
    const int r = poll(fds, 2, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || fds[1].revents) return;
    if (fds[0].revents) Receive();
  }
}

Result<std::unique_ptr<Follower>> Follower::Start(const ChannelId& channel,
                                                  FollowerOptions options) {
  LCFS_RETURN_IF_ERROR(options.scheme.Validate());
  if (!options.state_dir.empty()) LCFS_RETURN_IF_ERROR(MakeDirectories(options.state_dir));
  auto acceptor = options.state_dir.empty()
                      ? Result<RecordAcceptor>(RecordAcceptor(channel))
                      : RecordAcceptor::Open(channel, StatePath(options.state_dir, channel));
  if (!acceptor.ok()) return acceptor.status();
  auto ifindex = ResolveInterface(options.iface);
  if (!ifindex.ok()) return ifindex.status();
  net::MulticastSocketOptions so;
  so.port = options.scheme.port;
  so.receive_buffer = 0;
  so.send_buffer = 0;
  // Not the object traffic other sockets of the host (the fetcher) receive.
  so.only_joined_groups = true;
  auto socket = net::MulticastSocket::Open(so);
  if (!socket.ok()) return socket.status().WithContext("channel follower");
  const net::Ipv6Address group = ChannelGroup(channel, options.scheme);
  Status joined = socket->Join(group, *ifindex);
  if (!joined.ok()) return joined.WithContext("join channel group " + group.ToString());
  UniqueFd stop(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop) return Status::FromErrno(errno, "eventfd");
  auto impl = std::make_unique<Impl>(std::move(*acceptor), std::move(options), std::move(*socket),
                                     group, std::move(stop));
  Impl* p = impl.get();
  impl->thread = std::thread([p] { p->Run(); });
  return std::make_unique<Follower>(std::move(impl));
}

Follower::Follower(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Follower::~Follower() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t r = write(impl_->stop_fd.get(), &one, sizeof one);
  impl_->thread.join();
}

Result<Record> Follower::WaitNewer(std::optional<uint64_t> after_sequence,
                                   SteadyClock::time_point deadline,
                                   const std::atomic<bool>* cancel) {
  MutexLock l(&impl_->mu);
  for (;;) {
    const auto& cur = impl_->acceptor.current();
    if (impl_->fresh && cur && (!after_sequence || cur->sequence > *after_sequence)) return *cur;
    if (cancel && cancel->load()) return Status::Error(ECANCELED, "cancelled");
    const auto now = SteadyClock::now();
    if (now >= deadline)
      return Status::Error(ETIMEDOUT, "no valid record on channel " +
                                          impl_->acceptor.channel().ToString() + " in time");
    impl_->changed.WaitUntil(&impl_->mu, std::min(deadline, now + std::chrono::milliseconds(100)));
  }
}

std::optional<Record> Follower::current() const {
  MutexLock l(&impl_->mu);
  return impl_->acceptor.current();
}

RecordCounters Follower::counters() const {
  MutexLock l(&impl_->mu);
  return impl_->acceptor.counters();
}

const ChannelId& Follower::channel() const { return impl_->channel; }

std::string StatePath(const std::string& dir, const ChannelId& channel) {
  return dir + "/" + channel.ToString();
}

std::string DefaultStateDirectory() {
  if (geteuid() == 0) return "/var/lib/lcfs/channels";
  if (const char* x = getenv("XDG_STATE_HOME"); x && *x) return std::string(x) + "/lcfs/channels";
  if (const char* h = getenv("HOME"); h && *h)
    return std::string(h) + "/.local/state/lcfs/channels";
  return "/var/lib/lcfs/channels";  // no home: the system's, which may refuse us
}

Status MakeDirectories(const std::string& dir) {
  for (size_t pos = 1;; ++pos) {
    pos = dir.find('/', pos);
    const std::string prefix = dir.substr(0, pos);
    if (!prefix.empty() && mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
      return Status::FromErrno(errno, "mkdir " + prefix);
    if (pos == std::string::npos) return Status::Ok();
  }
}

}  // namespace lcfs::channel
