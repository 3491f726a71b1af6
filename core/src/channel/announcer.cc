#include "lcfs/channel/announcer.h"

#include <thread>

#include "lcfs/mutex.h"
#include "lcfs/net/multicast_socket.h"

namespace lcfs::channel {

namespace {

using SteadyClock = std::chrono::steady_clock;

uint64_t UnixMillis() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

struct Announcer::Impl {
  Impl(SigningKey k, SequenceFile s, AnnouncerOptions o, net::MulticastSocket sock)
      : key(std::move(k)),
        options(std::move(o)),
        group(ChannelGroup(key.channel(), options.scheme)),
        socket(std::move(sock)),
        sequence(std::move(s)) {}

  // Signs `root` under a new sequence number; the caller then announces it.
  Status Sign(const Hash& root) EXCLUDES(mu);
  void Send() EXCLUDES(mu);
  void Run() EXCLUDES(mu);

  const SigningKey key;
  const AnnouncerOptions options;
  const net::Ipv6Address group;
  net::MulticastSocket socket;  // the announcing thread's, after Start
  AnnouncerStats stats;

  mutable Mutex mu;
  CondVar wake;
  SequenceFile sequence GUARDED_BY(mu);
  Record record GUARDED_BY(mu);
  SteadyClock::time_point signed_at GUARDED_BY(mu);
  bool send_now GUARDED_BY(mu) = false;
  bool stop GUARDED_BY(mu) = false;
  std::thread thread;
};

Status Announcer::Impl::Sign(const Hash& root) {
  MutexLock l(&mu);
  const uint64_t now_ms = UnixMillis();
  auto seq = sequence.Next(now_ms);
  if (!seq.ok()) return seq.status();
  Record r;
  r.root = root;
  r.sequence = *seq;
  r.time = now_ms / 1000;
  r.validity = options.validity;
  SignRecord(key, &r);
  record = r;
  signed_at = SteadyClock::now();
  stats.records_signed.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

void Announcer::Impl::Send() {
  RecordBytes bytes;
  {
    MutexLock l(&mu);
    bytes = EncodeRecord(record);
  }
  const net::OutgoingDatagram d{group, bytes};
  for (int ifindex : options.interfaces) {
    auto sent = socket.SetSendInterface(ifindex).ok() ? socket.Send({&d, 1}) : Result<size_t>(0);
    if (sent.ok() && *sent == 1) {
      stats.announcements.fetch_add(1, std::memory_order_relaxed);
      stats.bytes_sent.fetch_add(bytes.size(), std::memory_order_relaxed);
    } else {
      stats.errors.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void Announcer::Impl::Run() {
  // Re-sign when half the validity has passed: a record heard just before
  // then still has half its life ahead of it.
  const auto resign_after = std::chrono::seconds(options.validity) / 2;
  auto next = SteadyClock::now();
  for (;;) {
    Hash root;
    bool resign = false;
    {
      MutexLock l(&mu);
      while (!stop && !send_now && SteadyClock::now() < next) wake.WaitUntil(&mu, next);
      if (stop) return;
      send_now = false;
      resign = SteadyClock::now() - signed_at >= resign_after;
      root = record.root;
    }
    if (resign && !Sign(root).ok()) stats.errors.fetch_add(1, std::memory_order_relaxed);
    Send();
    next = SteadyClock::now() + options.interval;
  }
}

Result<std::unique_ptr<Announcer>> Announcer::Start(SigningKey key, SequenceFile sequence,
                                                    const Hash& root, AnnouncerOptions options) {
  if (options.interfaces.empty()) return Status::Error(EINVAL, "announcer: no interface");
  if (options.validity < 2) return Status::Error(EINVAL, "announcer: validity below 2 s");
  if (options.interval.count() <= 0) return Status::Error(EINVAL, "announcer: bad interval");
  LCFS_RETURN_IF_ERROR(options.scheme.Validate());
  net::MulticastSocketOptions so;
  so.port = 0;
  so.hop_limit = options.hop_limit;
  so.loop = options.loopback;
  so.receive_buffer = 0;
  so.send_buffer = 0;
  auto socket = net::MulticastSocket::Open(so);
  if (!socket.ok()) return socket.status().WithContext("announcer");
  socket->set_destination_port(options.scheme.port);
  auto impl = std::make_unique<Impl>(std::move(key), std::move(sequence), std::move(options),
                                     std::move(*socket));
  LCFS_RETURN_IF_ERROR(impl->Sign(root));
  Impl* p = impl.get();
  impl->thread = std::thread([p] { p->Run(); });
  return std::make_unique<Announcer>(std::move(impl));
}

Announcer::Announcer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Announcer::~Announcer() {
  {
    MutexLock l(&impl_->mu);
    impl_->stop = true;
  }
  impl_->wake.SignalAll();
  impl_->thread.join();
}

Status Announcer::Publish(const Hash& root) {
  LCFS_RETURN_IF_ERROR(impl_->Sign(root));
  AnnounceNow();
  return Status::Ok();
}

void Announcer::AnnounceNow() {
  {
    MutexLock l(&impl_->mu);
    impl_->send_now = true;
  }
  impl_->wake.SignalAll();
}

Record Announcer::current() const {
  MutexLock l(&impl_->mu);
  return impl_->record;
}

const ChannelId& Announcer::channel() const { return impl_->key.channel(); }
const AnnouncerStats& Announcer::stats() const { return impl_->stats; }

Result<std::unique_ptr<Announcer>> StartAnnouncer(const std::string& keyfile, const Hash& root,
                                                  AnnouncerOptions options) {
  auto key = SigningKey::Load(keyfile);
  if (!key.ok()) return key.status();
  auto sequence = SequenceFile::Open(keyfile + ".seq");
  if (!sequence.ok()) return sequence.status();
  return Announcer::Start(std::move(*key), std::move(*sequence), root, std::move(options));
}

}  // namespace lcfs::channel
