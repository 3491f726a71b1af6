#include "lcfs/sync/fetcher.h"

#include <net/if.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <deque>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "decoder_budget.h"
#include "fetch_window.h"
#include "lcfs/mutex.h"
#include "lcfs/net/interfaces.h"
#include "lcfs/net/link_monitor.h"
#include "lcfs/net/multicast_socket.h"
#include "lcfs/net/prompt_reporter.h"
#include "lcfs/unique_fd.h"
#include "object_assembler.h"

namespace lcfs::sync {
namespace {

using Clock = std::chrono::steady_clock;

struct ObjectIdHash {
  size_t operator()(const net::ObjectId& id) const noexcept {
    size_t v;
    std::memcpy(&v, id.data(), sizeof v);
    return v;
  }
};

const char* KindName(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kChunk:
      return "chunk";
    case ObjectKind::kTreeNode:
      return "tree node";
    case ObjectKind::kDirectory:
      return "directory";
  }
  return "object";
}

// Datagrams taken per recvmmsg call, and calls per loop turn before the loop
// looks at new requests and deadlines again.
constexpr size_t kBatch = 64;
constexpr int kBatchesPerTurn = 32;
constexpr size_t kDatagramBuffer = 2048;  // > the largest valid datagram (1452 bytes)
constexpr size_t kRecentlyCompleted = 1024;
constexpr int kMaxTimeoutFactor = 10;
// Back-off after a failed receive call: doubles from the first to the last.
constexpr auto kFirstBackoff = std::chrono::milliseconds(10);
constexpr auto kLastBackoff = std::chrono::milliseconds(1000);
// Type byte of a channel record (docs/protocol.md section 11): same magic and
// version as symbols, sent to the channel's group on the same port.
constexpr size_t kTypeOffset = 3;
constexpr uint8_t kChannelRecordType = 2;

std::string InterfaceName(int ifindex) {
  char name[IF_NAMESIZE] = {};
  if (if_indextoname(static_cast<unsigned>(ifindex), name) == nullptr) return "";
  return name;
}

}  // namespace

// The fetcher's state and its receive thread.
//
// Threads: Submit, Cancel, Stop and Stats are called from any thread; they
// touch only the inbox (inbox_mu_) and the published statistics
// (stats_mu_), and wake the receive thread through an eventfd. Everything
// else (pending fetches, the window, the socket's memberships, the working
// statistics) belongs to the receive thread alone: Run() and what it calls,
// with no lock held, so callbacks may call Submit and Cancel. The two
// mutexes are never held together.
class Fetcher::Loop {
 public:
  Loop(FetcherOptions options, net::MulticastSocket socket, UniqueFd wake,
       std::optional<net::PromptReporter> reporter, std::optional<net::LinkMonitor> links)
      : options_(Defaults(std::move(options))),
        socket_(std::move(socket)),
        reporter_(std::move(reporter)),
        wake_(std::move(wake)),
        links_(std::move(links)),
        budget_(options_.decoder_budget),
        window_(options_.window, options_.blocking_reserve, options_.metadata_reserve) {
    buffers_.resize(kBatch * kDatagramBuffer);
    datagrams_.resize(kBatch);
    for (size_t i = 0; i < kBatch; ++i)
      datagrams_[i].buffer = std::span(buffers_.data() + i * kDatagramBuffer, kDatagramBuffer);
    if (!links_) Notice("not following interface changes (rtnetlink unavailable)");
    Rescan(/*quiet=*/true);
  }

  static FetcherOptions Defaults(FetcherOptions o) {
    if (o.window == 0) o.window = 1;
    if (o.blocking_reserve == SIZE_MAX) o.blocking_reserve = o.window / 4;
    if (o.metadata_reserve == SIZE_MAX) o.metadata_reserve = o.window / 8;
    if (o.iface.empty() && o.ifindex != 0) o.iface = InterfaceName(o.ifindex);
    if (!o.notice)
      o.notice = [](const std::string& m) { fprintf(stderr, "lcfs: %s\n", m.c_str()); };
    return o;
  }

  void StartThread() {
    thread_ = std::thread([this] { Run(); });
  }

  void Stop() EXCLUDES(inbox_mu_) {
    {
      MutexLock lock(&inbox_mu_);
      stopping_ = true;
    }
    Wake();
    if (thread_.joinable()) thread_.join();
  }

  FetchTicket Submit(const FetchRequest& request, Callback done) EXCLUDES(inbox_mu_) {
    FetchTicket ticket = 0;
    {
      MutexLock lock(&inbox_mu_);
      if (!stopping_) {
        ticket = ++last_ticket_;
        inbox_.push_back({request, ticket, Clock::now(), std::move(done)});
        done = nullptr;
      }
    }
    if (done) {
      done(
          Status::Error(ECANCELED, "fetch " + request.hash.ToHex() + ": fetcher is shutting down"));
      return 0;
    }
    Wake();
    return ticket;
  }

  void Cancel(FetchTicket ticket) EXCLUDES(inbox_mu_) {
    if (ticket == 0) return;
    {
      MutexLock lock(&inbox_mu_);
      if (stopping_) return;
      cancels_.push_back(ticket);
    }
    Wake();
  }

  FetcherStats Stats() const EXCLUDES(stats_mu_) {
    MutexLock lock(&stats_mu_);
    return published_;
  }

 private:
  struct Request {
    FetchRequest request;
    FetchTicket ticket;
    Clock::time_point start;
    Callback done;
  };
  struct Waiter {
    FetchTicket ticket;
    FetchPriority priority;
    Clock::time_point start;
    std::chrono::milliseconds timeout;
    Callback done;
  };
  struct Pending {
    Hash hash;
    ObjectKind kind;
    net::Ipv6Address group;
    bool joined = false;
    FetchPriority priority = FetchPriority::kPrefetch;  // of its most urgent waiter
    std::unique_ptr<ObjectAssembler> assembler;
    std::vector<Waiter> waiters;
    uint64_t wrong_kind = 0;  // packets with this id announcing another kind
    // Last sign of life: the join, or a symbol accepted by the assembler.
    Clock::time_point active;
    std::unordered_set<net::Ipv6Address> senders;  // bounded by the assembler's candidates
  };
  using PendingMap = std::unordered_map<net::ObjectId, std::unique_ptr<Pending>, ObjectIdHash>;

  static int Rank(FetchPriority p) { return static_cast<int>(p); }

  void Wake() {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_.get(), &one, sizeof one);
  }

  void Run() EXCLUDES(inbox_mu_) {
    for (;;) {
      std::vector<Request> requests;
      std::vector<FetchTicket> cancels;
      {
        MutexLock lock(&inbox_mu_);
        if (stopping_) break;
        requests.swap(inbox_);
        cancels.swap(cancels_);
      }
      for (auto& r : requests) Accept(std::move(r));
      for (FetchTicket t : cancels) CancelTicket(t);
      FillWindow();
      WaitAndReceive();
      ExpireDeadlines();
      Publish();
    }
    // Shutdown: fail whatever is left, queued requests included.
    std::vector<Request> requests;
    {
      MutexLock lock(&inbox_mu_);
      requests.swap(inbox_);
    }
    for (auto& r : requests)
      r.done(Status::Error(ECANCELED, "fetch " + r.request.hash.ToHex() + ": fetcher stopped"));
    for (auto& [id, p] : pending_) {
      if (p->joined) LeaveEverywhere(*p);
      for (auto& w : p->waiters)
        w.done(Status::Error(ECANCELED, "fetch " + p->hash.ToHex() + ": fetcher stopped"));
    }
    pending_.clear();
    Publish();
  }

  void Accept(Request r) {
    ++stats_.requests;
    const FetchRequest& req = r.request;
    const net::ObjectId id = net::ObjectIdOf(req.hash);
    Waiter waiter{r.ticket, req.priority, r.start, req.timeout, std::move(r.done)};
    auto it = pending_.find(id);
    if (it != pending_.end()) {
      Pending& p = *it->second;
      if (p.hash != req.hash || p.kind != req.kind) {
        // Two different requests under one 128-bit id: not worth a second
        // socket; the caller may retry once the first is done.
        waiter.done(Status::Error(EBUSY, "fetch " + req.hash.ToHex() +
                                             ": another object with the same id is being fetched"));
        return;
      }
      ++stats_.shared;
      tickets_.emplace(r.ticket, id);
      p.waiters.push_back(std::move(waiter));
      if (Rank(req.priority) < Rank(p.priority)) {
        p.priority = req.priority;
        if (!p.joined) ++stats_.promoted;
        window_.SetPriority(id, p.priority);
      }
      return;
    }
    auto p = std::make_unique<Pending>();
    p->hash = req.hash;
    p->kind = req.kind;
    p->priority = req.priority;
    p->group = net::GroupAddress(req.hash, options_.scheme);
    p->assembler = std::make_unique<ObjectAssembler>(req.hash, req.kind, req.expected_size,
                                                     MaxObjectSize(req.kind), &budget_,
                                                     options_.buffers.get());
    p->active = r.start;
    p->waiters.push_back(std::move(waiter));
    pending_.emplace(id, std::move(p));
    tickets_.emplace(r.ticket, id);
    window_.Add(id, req.priority);
  }

  void CancelTicket(FetchTicket ticket) {
    auto t = tickets_.find(ticket);
    if (t == tickets_.end()) return;  // already answered
    auto it = pending_.find(t->second);
    tickets_.erase(t);
    if (it == pending_.end()) return;
    Pending& p = *it->second;
    auto w = std::find_if(p.waiters.begin(), p.waiters.end(),
                          [&](const Waiter& x) { return x.ticket == ticket; });
    if (w == p.waiters.end()) return;
    Callback done = std::move(w->done);
    p.waiters.erase(w);
    ++stats_.cancelled;
    const Status cancelled = Status::Error(ECANCELED, "fetch " + p.hash.ToHex() + ": cancelled");
    if (p.waiters.empty()) {
      ++stats_.abandoned;
      Release(it);  // nobody wants it any more: leave the group now
    } else {
      Reprioritise(it->first, p);
    }
    Publish();
    done(cancelled);
  }

  // After waiters went away: the fetch keeps the priority of the most urgent
  // one left (a queued fetch moves to that queue).
  void Reprioritise(const net::ObjectId& id, Pending& p) {
    FetchPriority best = FetchPriority::kPrefetch;
    for (const Waiter& w : p.waiters)
      if (Rank(w.priority) < Rank(best)) best = w.priority;
    if (best == p.priority) return;
    p.priority = best;
    window_.SetPriority(id, best);
  }

  // Joins what the window says (leaving preempted fetches first: they keep
  // their symbols and queue again).
  void FillWindow() {
    std::vector<net::ObjectId> leave, join;
    window_.Schedule(&leave, &join);
    for (const net::ObjectId& id : leave) {
      Pending& p = *pending_.at(id);
      LeaveEverywhere(p);
      p.joined = false;
      ++stats_.preempted;
    }
    std::vector<net::Ipv6Address> joined;
    for (const net::ObjectId& id : join) {
      auto it = pending_.find(id);
      Pending& p = *it->second;
      Status s = JoinEverywhere(p);
      if (!s.ok()) {
        Fail(it, s.WithContext("fetch " + p.hash.ToHex()));
        continue;
      }
      p.joined = true;
      p.active = Clock::now();
      joined.push_back(p.group);
    }
    for (const Interface& i : ifaces_) ReportJoins(i.ifindex, joined);
  }

  // Tells the link at once of joins on `ifindex` (net/prompt_reporter.h). A
  // failure (link down) costs only the shortcut: the kernel reports too.
  void ReportJoins(int ifindex, const std::vector<net::Ipv6Address>& groups) {
    if (!reporter_ || groups.empty()) return;
    (void)reporter_->ReportJoins(ifindex, groups, Filter());
    stats_.prompt_reports = reporter_->reports_sent();
  }

  // Interfaces. A joined fetch is joined on every interface of ifaces_;
  // with none (the configured one is down or gone), it waits for one.

  // Joins p's group on every interface. Fails only if no interface took it
  // (the socket's limits: a fetch that cannot be joined anywhere); none at
  // all is not an error: the group is joined when an interface comes.
  Status JoinEverywhere(const Pending& p) {
    if (ifaces_.empty()) {
      if (!told_no_interface_) {
        told_no_interface_ = true;
        Notice(options_.iface.empty()
                   ? "no usable interface: fetches wait for one to come up"
                   : "interface " + options_.iface + " is not usable: fetches wait for it");
      }
      return Status::Ok();
    }
    Status first_error;
    bool any = false;
    for (const Interface& i : ifaces_) {
      Status s = socket_.Join(p.group, i.ifindex, Filter());
      if (s.ok()) {
        any = true;
      } else if (first_error.ok()) {
        first_error = s;
      }
    }
    return any ? Status::Ok() : first_error;
  }

  // Leaves p's group on every interface; one whose link went away has lost
  // the membership already (the kernel frees it all the same).
  void LeaveEverywhere(const Pending& p) {
    for (const Interface& i : ifaces_) (void)socket_.Leave(p.group, i.ifindex);
  }

  net::SourceFilter Filter() const {
    return options_.sources.empty() ? net::SourceFilter{}
                                    : net::SourceFilter::Include(options_.sources);
  }

  // Whether groups belong on an interface with these flags and name: up
  // with a carrier, and the one named (even loopback, if that was asked),
  // or, none named, any multicast-capable one but loopback.
  bool Usable(const std::string& name, unsigned flags) const {
    if ((flags & (IFF_UP | IFF_RUNNING)) != (IFF_UP | IFF_RUNNING)) return false;
    if (!options_.iface.empty()) return name == options_.iface;
    return (flags & IFF_MULTICAST) && !(flags & IFF_LOOPBACK);
  }

  void AddInterface(int ifindex, const std::string& name, bool quiet = false) {
    ifaces_.push_back({ifindex, name});
    told_no_interface_ = false;
    if (quiet) return;
    std::vector<net::Ipv6Address> joined;
    for (auto& [id, p] : pending_) {
      if (!p->joined) continue;
      if (socket_.Join(p->group, ifindex, Filter()).ok()) joined.push_back(p->group);
      p->active = Clock::now();  // the wait starts again from here
    }
    ReportJoins(ifindex, joined);
    ++stats_.interface_changes;
    Notice("interface " + name + " is up: " + std::to_string(joined.size()) +
           " group(s) still waited for joined on it");
  }

  void RemoveInterface(size_t slot, const char* why) {
    const Interface gone = ifaces_[slot];
    size_t left = 0;
    for (auto& [id, p] : pending_) {
      if (p->joined && socket_.Leave(p->group, gone.ifindex).ok()) ++left;
    }
    ifaces_.erase(ifaces_.begin() + static_cast<ptrdiff_t>(slot));
    ++stats_.interface_changes;
    Notice("interface " + gone.name + " " + why + ": " + std::to_string(left) +
           " membership(s) dropped" + (ifaces_.empty() ? "; fetches wait for an interface" : ""));
    if (ifaces_.empty()) told_no_interface_ = true;
  }

  std::optional<size_t> Slot(int ifindex) const {
    for (size_t i = 0; i < ifaces_.size(); ++i)
      if (ifaces_[i].ifindex == ifindex) return i;
    return std::nullopt;
  }

  void LinkChanged(int ifindex, std::string name, unsigned flags) {
    if (name.empty()) name = InterfaceName(ifindex);
    const auto slot = Slot(ifindex);
    const bool usable = Usable(name, flags);
    if (slot && !usable) {
      RemoveInterface(*slot, "is down");
    } else if (!slot && usable) {
      AddInterface(ifindex, name);
    }
  }

  void LinkGone(int ifindex) {
    if (const auto slot = Slot(ifindex)) RemoveInterface(*slot, "went away");
  }

  // The link flags of interface `name`, if it exists.
  std::optional<unsigned> LinkFlags(const std::string& name) const {
    ifreq r{};
    if (name.size() >= sizeof r.ifr_name) return std::nullopt;
    std::memcpy(r.ifr_name, name.data(), name.size());
    if (ioctl(socket_.fd(), SIOCGIFFLAGS, &r) != 0) return std::nullopt;
    return static_cast<unsigned short>(r.ifr_flags);
  }

  // The interfaces as they are now: at start, and when events were lost.
  void Rescan(bool quiet = false) {
    std::vector<Interface> candidates, now;
    if (!options_.iface.empty()) {
      if (const unsigned index = if_nametoindex(options_.iface.c_str()))
        candidates.push_back({static_cast<int>(index), options_.iface});
    } else if (auto all = net::MulticastInterfaces(); all.ok()) {
      for (const auto& i : *all) candidates.push_back({i.ifindex, i.name});
    }
    for (const Interface& c : candidates) {
      const auto flags = LinkFlags(c.name);
      if (flags && Usable(c.name, *flags)) now.push_back(c);
    }
    for (size_t i = ifaces_.size(); i > 0; --i) {
      const bool still = std::any_of(now.begin(), now.end(), [&](const Interface& x) {
        return x.ifindex == ifaces_[i - 1].ifindex;
      });
      if (!still) RemoveInterface(i - 1, "went away");
    }
    for (const Interface& x : now)
      if (!Slot(x.ifindex)) AddInterface(x.ifindex, x.name, quiet);
  }

  void HandleLinkEvents() {
    // Memberships do not depend on addresses: address events are ignored.
    const Status read = links_->Dispatch({
        .link = [&](const net::LinkEvent& e) { LinkChanged(e.ifindex, e.name, e.flags); },
        .link_gone = [&](int ifindex) { LinkGone(ifindex); },
        .lost = [&] { Rescan(); },
    });
    if (!read.ok()) Notice("interface events: " + read.ToString());
  }

  void Notice(const std::string& message) { options_.notice(message); }

  void WaitAndReceive() {
    // Sleep until a packet, a request or the nearest deadline (at most 100 ms).
    auto wait = std::chrono::milliseconds(100);
    const auto now = Clock::now();
    for (const auto& [id, p] : pending_) {
      for (const auto& w : p->waiters) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(Deadline(*p, w) - now);
        wait = std::clamp(left, std::chrono::milliseconds(0), wait);
      }
    }
    // A socket in back-off after an error is not polled (an error
    // condition would wake poll at once, again and again).
    const bool backing_off = now < receive_backoff_until_;
    if (backing_off) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(receive_backoff_until_ - now);
      wait = std::min(wait, left);
    }
    pollfd fds[3] = {{backing_off ? -1 : socket_.fd(), POLLIN, 0},
                     {wake_.get(), POLLIN, 0},
                     {links_ ? links_->fd() : -1, POLLIN, 0}};
    int n = poll(fds, 3, static_cast<int>(wait.count()));
    if (n <= 0) return;
    if (fds[1].revents & POLLIN) {
      uint64_t v;
      [[maybe_unused]] ssize_t r = read(wake_.get(), &v, sizeof v);
    }
    if (fds[2].revents & POLLIN) HandleLinkEvents();
    if (fds[0].revents & (POLLIN | POLLERR)) {
      for (int b = 0; b < kBatchesPerTurn; ++b) {
        auto got = socket_.Receive(datagrams_);
        if (!got.ok()) {
          ReceiveFailed(got.status());
          break;
        }
        if (receive_backoff_ != std::chrono::milliseconds(0)) {
          receive_backoff_ = std::chrono::milliseconds(0);
          Notice("receiving again");
        }
        if (*got == 0) break;
        batch_time_ = Clock::now();
        for (size_t i = 0; i < *got; ++i) HandleDatagram(datagrams_[i]);
        if (*got < kBatch) break;
      }
    }
  }

  // A receive call failed (not "nothing waiting"): wait before the next,
  // longer each time, and say so once until a receive succeeds.
  void ReceiveFailed(const Status& status) {
    ++stats_.receive_errors;
    if (receive_backoff_ == std::chrono::milliseconds(0)) {
      Notice("receive: " + status.ToString() + "; backing off until it works again");
      receive_backoff_ = kFirstBackoff;
    } else {
      receive_backoff_ = std::min(2 * receive_backoff_, std::chrono::milliseconds(kLastBackoff));
    }
    receive_backoff_until_ = Clock::now() + receive_backoff_;
  }

  void HandleDatagram(const net::IncomingDatagram& d) {
    net::PacketView view;
    if (d.truncated) {
      stats_.packets.Count(net::PacketDrop::kBadSymbolSize);
      return;
    }
    net::PacketDrop drop = net::ParsePacket(d.buffer.first(d.length), &view);
    if (drop == net::PacketDrop::kBadType && d.length > kTypeOffset &&
        d.buffer[kTypeOffset] == kChannelRecordType) {
      // A channel record (a channel's group shares the port): well formed
      // for its reader, just not for us.
      ++stats_.foreign_packets;
      drop = net::PacketDrop::kForeignObject;
    }
    if (drop != net::PacketDrop::kNone) {
      stats_.packets.Count(drop);
      return;
    }
    auto it = pending_.find(view.header.object_id);
    if (it == pending_.end() || !it->second->joined) {
      if (recent_set_.contains(view.header.object_id)) {
        ++stats_.late_symbols;
        stats_.packets.Count(net::PacketDrop::kNone);
      } else if (it != pending_.end()) {
        // Preempted or cancelled a moment ago: the leave is under way.
        stats_.packets.Count(net::PacketDrop::kNone);
        ++stats_.late_symbols;
      } else {
        ++stats_.foreign_packets;
        stats_.packets.Count(net::PacketDrop::kForeignObject);
      }
      return;
    }
    Pending& p = *it->second;
    if (view.header.kind != p.kind) {
      ++p.wrong_kind;
      stats_.packets.Count(net::PacketDrop::kWrongKind);
      return;
    }
    stats_.packets.Count(net::PacketDrop::kNone);
    if (!options_.sources.empty() && std::find(options_.sources.begin(), options_.sources.end(),
                                               d.source) == options_.sources.end()) {
      ++stats_.rejected_packets;  // the kernel filter should already have dropped it
      return;
    }
    if (p.senders.size() < 2 * ObjectAssembler::kMaxCandidates) p.senders.insert(d.source);
    const uint64_t before = p.assembler->counters().symbols;
    if (p.assembler->Add(view, d.source, batch_time_)) {
      Complete(it);
    } else if (p.assembler->counters().symbols != before) {
      p.active = batch_time_;
    }
  }

  void MergeCounters(const Pending& p) {
    const AssemblyCounters& c = p.assembler->counters();
    stats_.symbols += c.symbols;
    stats_.discarded_symbols += c.discarded;
    stats_.verify_failures += c.verify_failures;
    stats_.rejected_packets += c.rejected;
    stats_.wrong_oti_packets += c.wrong_oti;
    stats_.no_decoder_packets += c.over_budget;
    stats_.evicted_decoders += c.evicted;
    stats_.conflicting_symbols += c.conflicts;
    stats_.retried_decodes += c.retries;
    stats_.recovered_decodes += c.recovered;
    stats_.symbols_needed += c.symbols_needed;
  }

  // Ends a fetch: leaves its group and forgets it (its waiters are the
  // caller's to answer).
  void Release(PendingMap::iterator it) {
    Pending& p = *it->second;
    // A failed join is counted as joined but has no membership to drop.
    if (p.joined) LeaveEverywhere(p);
    window_.Remove(it->first);
    for (const Waiter& w : p.waiters) tickets_.erase(w.ticket);
    MergeCounters(p);
    pending_.erase(it);
  }

  void Complete(PendingMap::iterator it) {
    Pending& p = *it->second;
    std::vector<uint8_t> bytes = p.assembler->TakeObject();
    std::vector<Waiter> waiters = std::move(p.waiters);
    for (const Waiter& w : waiters) tickets_.erase(w.ticket);
    ++stats_.completed;
    stats_.bytes += bytes.size();
    Remember(it->first);
    Release(it);  // leave first: the exporter may stop before we hand out the bytes
    Publish();    // a caller woken by its callback sees stats that include it
    for (size_t i = 0; i < waiters.size(); ++i) {
      if (i + 1 == waiters.size()) {
        waiters[i].done(std::move(bytes));
      } else {
        waiters[i].done(bytes);
      }
    }
  }

  void Fail(PendingMap::iterator it, const Status& status) {
    std::vector<Waiter> waiters = std::move(it->second->waiters);
    for (const Waiter& w : waiters) tickets_.erase(w.ticket);
    Release(it);
    Publish();
    for (auto& w : waiters) w.done(status);
  }

  void Remember(const net::ObjectId& id) {
    if (recent_set_.insert(id).second) recent_.push_back(id);
    if (recent_.size() > kRecentlyCompleted) {
      recent_set_.erase(recent_.front());
      recent_.pop_front();
    }
  }

  std::string TimeoutMessage(const Pending& p) const {
    std::string msg =
        "fetch " + std::string(KindName(p.kind)) + " " + p.hash.ToHex() + ": timed out: ";
    const AssemblyCounters& c = p.assembler->counters();
    if (p.senders.empty() && p.wrong_kind == 0) {
      msg += p.joined || p.active != Clock::time_point()
                 ? "no packets for it arrived (is an exporter serving it on this link?)"
                 : "still waiting for a window slot";
    } else if (p.wrong_kind != 0 && c.symbols == 0) {
      msg += "the exporter sends it as another kind of object (not a " +
             std::string(KindName(p.kind)) + ")";
    } else {
      msg += std::to_string(c.symbols) + " symbols from " + std::to_string(p.senders.size()) +
             " sender(s) did not yield verified bytes (" + std::to_string(c.verify_failures) +
             " failed verification)";
    }
    return msg;
  }

  // A joined fetch's request times out after `timeout` without progress:
  // from its start, or from the object's last accepted symbol (or join),
  // whichever is later, so a large object trickling in on a busy link is not
  // cut off; but never later than kMaxTimeoutFactor * timeout after its
  // start, joined or not, so neither a queue nor a host sending endless
  // garbage can keep a request waiting forever.
  static Clock::time_point Deadline(const Pending& p, const Waiter& w) {
    const auto cap = w.start + kMaxTimeoutFactor * w.timeout;
    if (!p.joined) return cap;
    return std::min(std::max(w.start, p.active) + w.timeout, cap);
  }

  void ExpireDeadlines() {
    const auto now = Clock::now();
    for (auto it = pending_.begin(); it != pending_.end();) {
      Pending& p = *it->second;
      std::vector<Waiter> expired;
      for (auto w = p.waiters.begin(); w != p.waiters.end();) {
        if (Deadline(p, *w) <= now) {
          tickets_.erase(w->ticket);
          expired.push_back(std::move(*w));
          w = p.waiters.erase(w);
        } else {
          ++w;
        }
      }
      if (expired.empty()) {
        ++it;
        continue;
      }
      const Status timeout = Status::Error(ETIMEDOUT, TimeoutMessage(p));
      stats_.timed_out += expired.size();
      auto next = std::next(it);
      if (p.waiters.empty()) {
        ++stats_.abandoned;
        Release(it);  // nobody wants it any more
      } else {
        Reprioritise(it->first, p);
      }
      Publish();
      for (auto& w : expired) w.done(timeout);
      it = next;
    }
  }

  void Publish() EXCLUDES(stats_mu_) {
    MutexLock lock(&stats_mu_);
    published_ = stats_;
    published_.joined = window_.joined_count();
    published_.decoder_memory_peak = budget_.peak();
    published_.queued = pending_.size() - window_.joined_count();
    published_.interfaces = ifaces_.size();
  }

  struct Interface {
    int ifindex;
    std::string name;
  };

  FetcherOptions options_;
  net::MulticastSocket socket_;
  std::optional<net::PromptReporter> reporter_;  // empty without CAP_NET_RAW
  UniqueFd wake_;
  std::optional<net::LinkMonitor> links_;  // none: the interfaces found at start stay
  std::thread thread_;

  Mutex inbox_mu_;
  bool stopping_ GUARDED_BY(inbox_mu_) = false;
  FetchTicket last_ticket_ GUARDED_BY(inbox_mu_) = 0;
  std::vector<Request> inbox_ GUARDED_BY(inbox_mu_);
  std::vector<FetchTicket> cancels_ GUARDED_BY(inbox_mu_);

  // Receive-thread state (no lock: only Run() and what it calls touch it).
  DecoderBudget budget_;  // shared by the assemblers of pending_: declared first
  PendingMap pending_;
  std::unordered_map<FetchTicket, net::ObjectId> tickets_;  // unanswered requests
  FetchWindow window_;
  Clock::time_point batch_time_;  // when the datagrams being handled arrived
  std::deque<net::ObjectId> recent_;
  std::unordered_set<net::ObjectId, ObjectIdHash> recent_set_;
  std::vector<uint8_t> buffers_;
  std::vector<net::IncomingDatagram> datagrams_;
  std::vector<Interface> ifaces_;  // where joined groups are joined
  bool told_no_interface_ = false;
  std::chrono::milliseconds receive_backoff_{0};  // 0: the last receive worked
  Clock::time_point receive_backoff_until_;
  FetcherStats stats_;

  mutable Mutex stats_mu_;
  FetcherStats published_ GUARDED_BY(stats_mu_);
};

Fetcher::Fetcher(std::unique_ptr<Loop> loop) : loop_(std::move(loop)) {}

Fetcher::~Fetcher() { loop_->Stop(); }

Result<std::unique_ptr<Fetcher>> Fetcher::Start(const FetcherOptions& options) {
  LCFS_RETURN_IF_ERROR(options.scheme.Validate());
  net::MulticastSocketOptions so;
  so.port = options.scheme.port;
  so.receive_buffer = options.receive_buffer;
  so.send_buffer = 0;
  // Only the groups this socket joined, not those other sockets of the host
  // joined on the same port.
  so.only_joined_groups = true;
  auto socket = net::MulticastSocket::Open(so);
  if (!socket.ok()) return socket.status().WithContext("fetcher");
  UniqueFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return Status::FromErrno(errno, "fetcher: eventfd");
  std::optional<net::PromptReporter> reporter;
  if (options.prompt_reports) {
    auto opened = net::PromptReporter::Open();  // EPERM without CAP_NET_RAW: go without
    if (opened.ok()) reporter.emplace(std::move(*opened));
  }
  std::optional<net::LinkMonitor> links;
  if (auto l = net::LinkMonitor::Open(); l.ok()) links.emplace(std::move(*l));
  auto loop = std::make_unique<Loop>(options, std::move(socket).value(), std::move(wake),
                                     std::move(reporter), std::move(links));
  loop->StartThread();
  return std::unique_ptr<Fetcher>(new Fetcher(std::move(loop)));
}

FetchTicket Fetcher::FetchAsync(const FetchRequest& request, Callback done) {
  return loop_->Submit(request, std::move(done));
}

void Fetcher::Cancel(FetchTicket ticket) { loop_->Cancel(ticket); }

std::future<Result<std::vector<uint8_t>>> Fetcher::FetchFuture(const FetchRequest& request) {
  auto promise = std::make_shared<std::promise<Result<std::vector<uint8_t>>>>();
  auto future = promise->get_future();
  FetchAsync(request,
             [promise](Result<std::vector<uint8_t>> r) { promise->set_value(std::move(r)); });
  return future;
}

Result<std::vector<uint8_t>> Fetcher::Fetch(const FetchRequest& request) {
  auto promise = std::make_shared<std::promise<Result<std::vector<uint8_t>>>>();
  auto future = promise->get_future();
  const FetchTicket ticket = FetchAsync(
      request, [promise](Result<std::vector<uint8_t>> r) { promise->set_value(std::move(r)); });
  if (request.cancel == nullptr) return future.get();
  while (future.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (request.cancel->load()) {
      Cancel(ticket);  // the callback answers ECANCELED; nothing waits for it
      return Status::Error(ECANCELED, "fetch " + request.hash.ToHex() + ": cancelled");
    }
  }
  return future.get();
}

FetcherStats Fetcher::stats() const { return loop_->Stats(); }

}  // namespace lcfs::sync
