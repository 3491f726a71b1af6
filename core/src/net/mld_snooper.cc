#include "lcfs/net/mld_snooper.h"

#include <poll.h>
#include <sys/eventfd.h>

#include <algorithm>

#include "lcfs/net/interfaces.h"
#include "net/membership_table.h"
#include "net/mld_message.h"
#include "net/mld_querier.h"
#include "net/mld_socket.h"

namespace lcfs::net {

namespace {

// The record's host listens after it (RFC 3810 6.1 from the host's side;
// an MLDv1 Report is IS_EX {}).
bool SaysListening(const MldRecord& r) {
  switch (r.type) {
    case RecordType::kModeIsExclude:
    case RecordType::kChangeToExclude:
      return true;
    case RecordType::kModeIsInclude:
    case RecordType::kChangeToInclude:
    case RecordType::kAllowNewSources:
      return !r.sources.empty();
    case RecordType::kBlockOldSources:
      return false;
  }
  return false;
}
// ... and says so because it changed (a join), not in answer to a query.
// MLDv1 Reports are both, so count as joins.
bool StartsListening(const MldRecord& r, bool v1) {
  return v1 || (r.type != RecordType::kModeIsExclude && r.type != RecordType::kModeIsInclude);
}

}  // namespace

MldSnooper::MldSnooper(const MldSnooperOptions& options, EventSink sink)
    : timers_(options.timers),
      group_filter_(options.group_filter),
      on_ignored_(options.on_ignored),
      table_(std::make_unique<MembershipTable>(options.timers, std::move(sink), options.tracking)) {
}

MldSnooper::~MldSnooper() = default;

int MldSnooper::fd() const { return socket_ ? socket_->fd() : -1; }

bool MldSnooper::receives_mldv1_reports() const {
  return socket_ && socket_->receives_mldv1_reports();
}

const TrackingCounters& MldSnooper::tracking() const { return table_->tracking(); }
size_t MldSnooper::tracked_hosts() const { return table_->tracked_hosts(); }

bool MldSnooper::HasListeners(int ifindex, const Ipv6Address& group) const {
  return table_->HasListeners(ifindex, group);
}

uint64_t MldSnooper::ListenerArrivals(int ifindex, const Ipv6Address& group) const {
  const MembershipTable::Record* r = table_->Find(ifindex, group);
  return r ? r->arrivals : 0;
}

bool MldSnooper::ForEachListener(
    int ifindex, const Ipv6Address& group, MldTime now,
    const std::function<void(const Ipv6Address& host, uint64_t since)>& fn) const {
  const MembershipTable::Record* r = table_->Find(ifindex, group);
  if (!r) return false;
  for (const auto& h : r->hosts) fn(h.address, h.since);
  return r->hosts.empty() || r->untracked || r->v1_until > now;
}

uint64_t MldSnooper::listeners_generation() const { return table_->generation(); }

Result<std::unique_ptr<MldSnooper>> MldSnooper::Open(const MldSnooperOptions& options,
                                                     EventSink sink, MldTime now) {
  LCFS_RETURN_IF_ERROR(options.timers.Validate());
  auto socket = MldSocket::Open();
  if (!socket.ok()) return socket.status();
  std::vector<int> ifs = options.interfaces;
  if (ifs.empty()) {
    auto all = MulticastInterfaces();
    if (!all.ok()) return all.status();
    for (const auto& i : *all) ifs.push_back(i.ifindex);
    if (ifs.empty()) return Status::Error(ENODEV, "MLD snooper: no multicast-capable interface");
  }
  std::unique_ptr<MldSnooper> s(new MldSnooper(options, std::move(sink)));
  s->socket_ = std::make_unique<MldSocket>(std::move(*socket));
  if (options.querier) {
    MldSocket* sock = s->socket_.get();
    s->querier_ = std::make_unique<MldQuerier>(
        options.timers,
        [sock](int ifindex, const Ipv6Address& src, const Ipv6Address& dst,
               std::span<const uint8_t> msg) { return sock->Send(ifindex, src, dst, msg); });
  }
  for (int i : ifs) {
    LCFS_RETURN_IF_ERROR(s->socket_->AddInterface(i));
    // Listeners from before we started are unknown until they answer a
    // General Query.
    s->table_->SuspendTracking(i, now);
    if (s->querier_) {
      auto own = LinkLocalAddress(i);
      if (!own.ok()) return own.status().WithContext("MLD querier");
      s->querier_->AddInterface(i, *own, now);
    }
  }
  return s;
}

std::unique_ptr<MldSnooper> MldSnooper::WithoutSocket(
    const MldSnooperOptions& options, EventSink sink, MldSendFunction send,
    const std::vector<std::pair<int, Ipv6Address>>& interfaces, MldTime now) {
  std::unique_ptr<MldSnooper> s(new MldSnooper(options, std::move(sink)));
  if (options.querier) {
    s->querier_ = std::make_unique<MldQuerier>(options.timers, std::move(send));
    for (const auto& [ifindex, own] : interfaces) s->querier_->AddInterface(ifindex, own, now);
  }
  for (const auto& [ifindex, own] : interfaces) s->table_->SuspendTracking(ifindex, now);
  return s;
}

Status MldSnooper::HandleReadable(MldTime now) {
  if (!socket_) return Status::Ok();
  uint8_t buffer[9216];  // jumbo-frame sized; MLD messages are far smaller
  for (;;) {
    MldSocket::Received r;
    auto got = socket_->Receive(buffer, &r);
    if (!got.ok()) return got.status();
    if (!*got) return Status::Ok();
    HandleMessage(r.ifindex, r.source, r.hop_limit, r.message, now);
  }
}

void MldSnooper::HandleMessage(int ifindex, const Ipv6Address& source, int hop_limit,
                               std::span<const uint8_t> message, MldTime now) {
  ++counters_.messages;
  auto parsed = ParseMldMessage(message);
  if (!parsed.ok()) {
    ++counters_.malformed;
    return;
  }
  // RFC 3810 5.1.14, 5.2.13: MLD is link-local; a report from :: (sent
  // during duplicate address detection) says nothing about listeners.
  if ((hop_limit != -1 && hop_limit != 1) || !source.IsLinkLocalUnicast()) {
    ++counters_.not_link_local;
    return;
  }
  const MldMessage& m = *parsed;
  switch (m.type) {
    case MldType::kQuery: {
      ++counters_.queries;
      // Reports that went to another querier may have passed us by.
      if (querier_ && querier_->OnQueryHeard(ifindex, source, now))
        table_->SuspendTracking(ifindex, now);
      if (m.query.group.IsUnspecified()) {
        table_->OnGeneralQuery(ifindex, now, m.query.max_response_delay);
      } else if (!m.query.suppress_router_processing) {
        // Another querier's specific query lowers our timers too (7.6.1),
        // unless it tells routers not to (S flag).
        table_->LowerTimers({ifindex, m.query.group, m.query.sources}, now,
                            m.query.max_response_delay);
      }
      return;
    }
    case MldType::kV1Report:
      ++counters_.v1_reports;
      break;
    case MldType::kV1Done:
      ++counters_.v1_dones;
      break;
    case MldType::kV2Report:
      ++counters_.v2_reports;
      break;
  }
  std::vector<QueryRequest> queries;
  const Reporter from{source, m.type != MldType::kV2Report, ++reports_heard_};
  for (const auto& rec : m.records) {
    if (group_filter_ && !table_->HasListeners(ifindex, rec.group) && !group_filter_(rec.group)) {
      ++counters_.ignored_records;
      if (on_ignored_ && SaysListening(rec))
        on_ignored_(ifindex, rec.group, StartsListening(rec, from.v1));
      continue;
    }
    ++counters_.records;
    table_->Apply(ifindex, rec, now, &queries, from);
  }
  // We lower the timers only for queries we send; as a non-querier we
  // lower them when we hear the querier's (above).
  for (const auto& q : queries)
    if (querier_ && querier_->StartSpecificQuery(q, now)) table_->LowerTimers(q, now);
}

void MldSnooper::QueryGroup(int ifindex, const Ipv6Address& group, MldTime now) {
  if (querier_) querier_->StartSpecificQuery({ifindex, group, {}}, now);
}

std::optional<MldTime> MldSnooper::NextDeadline() const {
  auto a = table_->NextDeadline();
  auto b = querier_ ? querier_->NextDeadline() : std::nullopt;
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

void MldSnooper::ProcessTimers(MldTime now) {
  if (querier_) {
    std::vector<MldQuerier::GeneralQuery> general;
    std::vector<int> resumed;
    querier_->ProcessTimers(now, &general, &resumed);
    for (int i : resumed) table_->SuspendTracking(i, now);
    for (const auto& q : general) table_->OnGeneralQuery(q.ifindex, now, q.max_response);
  }
  table_->ProcessTimers(now);
}

Status MldSnooper::AddInterface(int ifindex, const Ipv6Address& own, MldTime now) {
  if (socket_) LCFS_RETURN_IF_ERROR(socket_->AddInterface(ifindex));
  table_->SuspendTracking(ifindex, now);
  if (querier_) querier_->AddInterface(ifindex, own, now);
  return Status::Ok();
}

void MldSnooper::RemoveInterface(int ifindex) {
  if (querier_) querier_->RemoveInterface(ifindex);
  table_->DropInterface(ifindex);
}

Result<std::unique_ptr<MldSnooperThread>> MldSnooperThread::Start(
    std::unique_ptr<MldSnooper> snooper) {
  std::unique_ptr<MldSnooperThread> t(new MldSnooperThread());
  t->wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!t->wake_) return Status::FromErrno(errno, "eventfd");
  t->snooper_ = std::move(snooper);
  t->thread_ = std::thread([p = t.get()] { p->Run(); });
  return t;
}

MldSnooperThread::~MldSnooperThread() { Stop(); }

void MldSnooperThread::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_.get(), &one, sizeof one);
  thread_.join();
}

void MldSnooperThread::Run() {
  while (!stop_) {
    const MldTime now = MldClock::now();
    snooper_->ProcessTimers(now);
    int timeout = -1;
    if (auto next = snooper_->NextDeadline()) {
      const auto ms = std::chrono::ceil<Millis>(*next - MldClock::now()).count();
      timeout = static_cast<int>(std::clamp<int64_t>(ms, 0, 60'000));
    }
    pollfd fds[2] = {{snooper_->fd(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (poll(fds, 2, timeout) > 0 && (fds[0].revents & POLLIN)) {
      // A failing socket cannot be fixed from here; the loop goes on timers.
      (void)snooper_->HandleReadable(MldClock::now());
    }
  }
}

}  // namespace lcfs::net
