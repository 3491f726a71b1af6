#include "net/membership_table.h"

#include <algorithm>

namespace lcfs::net {

namespace {

using Source = MembershipTable::Source;
using Mode = MembershipTable::FilterMode;

// A report can list at most ~89 sources, but a stream of ALLOWs could grow a
// record without bound: cap it. Beyond this, new sources are not recorded.
constexpr size_t kMaxSourcesPerRecord = 256;

Source* FindSource(std::vector<Source>& v, const Ipv6Address& a) {
  for (auto& s : v)
    if (s.address == a) return &s;
  return nullptr;
}
bool Listed(std::span<const Ipv6Address> list, const Ipv6Address& a) {
  return std::find(list.begin(), list.end(), a) != list.end();
}
// Sets a's timer, adding it if absent (and if there is room).
void SetSource(std::vector<Source>& v, const Ipv6Address& a, MldTime t) {
  if (Source* s = FindSource(v, a)) {
    s->timer = t;
  } else if (v.size() < kMaxSourcesPerRecord) {
    v.push_back({a, t});
  }
}
void AddIfAbsent(std::vector<Source>& v, const Ipv6Address& a, MldTime t) {
  if (!FindSource(v, a) && v.size() < kMaxSourcesPerRecord) v.push_back({a, t});
}
// The addresses of the sources in `v` that `pred` holds for.
template <typename Pred>
std::vector<Ipv6Address> SourcesWhere(const std::vector<Source>& v, Pred pred) {
  std::vector<Ipv6Address> out;
  for (const auto& s : v)
    if (pred(s)) out.push_back(s.address);
  return out;
}
// Keeps only the sources listed in `keep`.
void KeepListed(std::vector<Source>& v, std::span<const Ipv6Address> keep) {
  std::erase_if(v, [&](const Source& s) { return !Listed(keep, s.address); });
}
void AddQuery(std::vector<QueryRequest>* out, const MembershipKey& key,
              std::vector<Ipv6Address> sources, bool group_query) {
  if (!out || (!group_query && sources.empty())) return;
  out->push_back({key.ifindex, key.group, std::move(sources)});
}

}  // namespace

MembershipTable::MembershipTable(const MldTimers& timers, EventSink sink,
                                 const TrackingLimits& limits)
    : timers_(timers), sink_(std::move(sink)), limits_(limits) {}

void MembershipTable::Apply(int ifindex, const MldRecord& rec, MldTime now,
                            std::vector<QueryRequest>* queries, const Reporter& from) {
  ApplyRecord(ifindex, rec, now, queries, &from);
}

void MembershipTable::Apply(int ifindex, const MldRecord& rec, MldTime now,
                            std::vector<QueryRequest>* queries) {
  ApplyRecord(ifindex, rec, now, queries, nullptr);
}

void MembershipTable::AddHost(int ifindex, Record& r, Host h) {
  ++host_groups_[{ifindex, h.address}];
  r.hosts.push_back(std::move(h));
  ++hosts_total_;
  ++generation_;
}

void MembershipTable::ForgetHost(int ifindex, const Ipv6Address& address) {
  auto it = host_groups_.find({ifindex, address});
  if (it != host_groups_.end() && --it->second == 0) host_groups_.erase(it);
  --hosts_total_;
  ++generation_;
}

size_t MembershipTable::GroupsOf(int ifindex, const Ipv6Address& address) const {
  auto it = host_groups_.find({ifindex, address});
  return it == host_groups_.end() ? 0 : it->second;
}

double MembershipTable::ListenerShare(int ifindex, const Ipv6Address& group) const {
  const Record* r = Find(ifindex, group);
  if (!r) return 0;
  double share = 0;
  for (const Host& h : r->hosts) share += 1.0 / static_cast<double>(GroupsOf(ifindex, h.address));
  return share;
}

bool MembershipTable::Track(int ifindex, Record& r, const MldRecord& rec, const Reporter& from,
                            MldTime now, bool* arrived) {
  auto h = std::find_if(r.hosts.begin(), r.hosts.end(),
                        [&](const Host& x) { return x.address == from.address; });
  // The host's own filter after this record (RFC 3810 6.1 from the host's
  // side); an unknown host starts as INCLUDE {}, not listening.
  Host next =
      h != r.hosts.end() ? *h : Host{from.address, {}, Mode::kInclude, false, from.report, {}};
  const size_t cap = limits_.sources_per_host;
  auto add = [cap](std::vector<Ipv6Address>& v, const Ipv6Address& a) {
    if (Listed(v, a)) return true;
    if (v.size() >= cap) return false;
    v.push_back(a);
    return true;
  };
  auto remove = [](std::vector<Ipv6Address>& v, std::span<const Ipv6Address> b) {
    std::erase_if(v, [&](const Ipv6Address& a) { return Listed(b, a); });
  };
  switch (rec.type) {
    case RecordType::kModeIsExclude:
    case RecordType::kChangeToExclude:
    case RecordType::kModeIsInclude:
    case RecordType::kChangeToInclude: {
      const bool exclude =
          rec.type == RecordType::kModeIsExclude || rec.type == RecordType::kChangeToExclude;
      next.mode = exclude ? Mode::kExclude : Mode::kInclude;
      next.sources.clear();
      next.pinned = false;
      for (const auto& b : rec.sources) {
        // An EXCLUDE list cut short only makes the host look keener.
        if (!add(next.sources, b) && !exclude) next.pinned = true;
      }
      break;
    }
    case RecordType::kAllowNewSources:
      if (next.mode == Mode::kInclude) {
        for (const auto& b : rec.sources)
          if (!add(next.sources, b)) next.pinned = true;
      } else {
        remove(next.sources, rec.sources);
      }
      break;
    case RecordType::kBlockOldSources:
      if (next.mode == Mode::kInclude) {
        remove(next.sources, rec.sources);
      } else {
        for (const auto& b : rec.sources) add(next.sources, b);
      }
      break;
  }
  const bool listening = next.mode == Mode::kExclude || next.pinned || !next.sources.empty();
  if (h == r.hosts.end()) {
    if (!listening) return true;
    *arrived = true;    // new, or one of the untracked crowd: who knows
    if (r.untracked) {  // on RFC timers until the record ends
      ++tracking_.hosts_refused;
      return false;
    }
    if (r.hosts.size() >= limits_.hosts_per_group || hosts_total_ >= limits_.hosts_total) {
      r.untracked = true;
      ++tracking_.fallbacks;
      ++tracking_.hosts_refused;
      return false;
    }
    next.expires = now + timers_.listening_interval();
    AddHost(ifindex, r, std::move(next));
  } else if (!listening) {
    const Ipv6Address gone = h->address;
    r.hosts.erase(h);
    ForgetHost(ifindex, gone);
  } else {
    next.expires = now + timers_.listening_interval();
    *h = std::move(next);
  }
  return false;
}

void MembershipTable::ApplyRecord(int ifindex, const MldRecord& rec, MldTime now,
                                  std::vector<QueryRequest>* queries, const Reporter* from) {
  const MembershipKey key{ifindex, rec.group};
  auto it = records_.find(key);
  const bool existed = it != records_.end();
  if (!existed && records_.size() >= limits_.records_total) {
    ++tracking_.records_refused;
    return;
  }
  Record fresh;  // no record = INCLUDE {}
  Record& r = existed ? it->second : fresh;
  const MldTime old_deadline = r.deadline;
  const MldTime mali = now + timers_.listening_interval();
  const std::span<const Ipv6Address> b = rec.sources;
  // The state transitions of RFC 3810 7.4.1 (current state) and 7.4.2
  // (filter mode and source list changes). In EXCLUDE mode, a source whose
  // timer is past is in the exclude list Y, otherwise in the requested list X.
  auto in_x = [now](const Source& s) { return s.timer > now; };
  auto in_b = [b](const Source& s) { return Listed(b, s.address); };
  auto not_in_b = [b](const Source& s) { return !Listed(b, s.address); };
  std::vector<QueryRequest> asked;
  if (r.mode == Mode::kInclude) {  // INCLUDE (A)
    switch (rec.type) {
      case RecordType::kModeIsInclude:
      case RecordType::kAllowNewSources:
        for (const auto& s : b) SetSource(r.sources, s, mali);
        break;
      case RecordType::kChangeToInclude: {
        std::vector<Ipv6Address> a_minus_b = SourcesWhere(r.sources, not_in_b);
        for (const auto& s : b) SetSource(r.sources, s, mali);
        AddQuery(&asked, key, std::move(a_minus_b), false);
        break;
      }
      case RecordType::kBlockOldSources:
        AddQuery(&asked, key, SourcesWhere(r.sources, in_b), false);
        break;
      case RecordType::kModeIsExclude:
      case RecordType::kChangeToExclude: {
        // EXCLUDE (A*B, B-A): A*B keep their timers, B-A excluded, A-B gone.
        std::vector<Ipv6Address> a_and_b = SourcesWhere(r.sources, in_b);
        KeepListed(r.sources, b);
        for (const auto& s : b) AddIfAbsent(r.sources, s, MldTime{});
        r.mode = Mode::kExclude;
        r.group_timer = mali;
        if (rec.type == RecordType::kChangeToExclude)
          AddQuery(&asked, key, std::move(a_and_b), false);
        break;
      }
    }
  } else {  // EXCLUDE (X, Y)
    switch (rec.type) {
      case RecordType::kModeIsInclude:
      case RecordType::kAllowNewSources:
        for (const auto& s : b) SetSource(r.sources, s, mali);
        break;
      case RecordType::kChangeToInclude: {
        std::vector<Ipv6Address> x_minus_a =
            SourcesWhere(r.sources, [&](const Source& s) { return in_x(s) && not_in_b(s); });
        for (const auto& s : b) SetSource(r.sources, s, mali);
        AddQuery(&asked, key, std::move(x_minus_a), false);
        AddQuery(&asked, key, {}, true);
        break;
      }
      case RecordType::kBlockOldSources: {
        std::vector<Ipv6Address> a_minus_y;
        for (const auto& s : b) {
          const Source* cur = FindSource(r.sources, s);
          if (!cur) {
            AddIfAbsent(r.sources, s, r.group_timer);
            a_minus_y.push_back(s);
          } else if (in_x(*cur)) {
            a_minus_y.push_back(s);
          }
        }
        AddQuery(&asked, key, std::move(a_minus_y), false);
        break;
      }
      case RecordType::kModeIsExclude:
      case RecordType::kChangeToExclude: {
        // EXCLUDE (A-Y, Y*A): new sources get MALI (IS_EX) or the group
        // timer (TO_EX); sources not in A are deleted.
        const bool to_ex = rec.type == RecordType::kChangeToExclude;
        std::vector<Ipv6Address> a_minus_y;
        for (const auto& s : b) {
          const Source* cur = FindSource(r.sources, s);
          if (!cur || in_x(*cur)) a_minus_y.push_back(s);
        }
        KeepListed(r.sources, b);
        for (const auto& s : b) AddIfAbsent(r.sources, s, to_ex ? r.group_timer : mali);
        r.group_timer = mali;
        if (to_ex) AddQuery(&asked, key, std::move(a_minus_y), false);
        break;
      }
    }
  }

  // Explicit tracking, beside the router state.
  bool stranger_leave = false;
  bool arrived = false;
  const bool says_listening = rec.type == RecordType::kModeIsExclude ||
                              rec.type == RecordType::kChangeToExclude || !rec.sources.empty();
  if (!from) {
    if (!r.untracked) ++tracking_.fallbacks;
    r.untracked = true;
    arrived = says_listening && rec.type != RecordType::kBlockOldSources;
  } else if (from->v1) {
    arrived = rec.type == RecordType::kModeIsExclude;
    // RFC 3810 8.3.2: Older Version Host Present; v1 hosts suppress
    // reports, so the hosts heard are not all the listeners.
    if (rec.type == RecordType::kModeIsExclude) {
      if (r.v1_until <= now) ++tracking_.v1_fallbacks;
      r.v1_until = now + timers_.listening_interval();
    }
  } else {
    stranger_leave = Track(ifindex, r, rec, *from, now, &arrived);
  }
  if (arrived) {
    ++r.arrivals;
    ++generation_;
  }
  const bool trusted = Trusted(ifindex, r, now);
  if (!trusted) {
    if (queries) queries->insert(queries->end(), asked.begin(), asked.end());
  } else if (stranger_leave && !r.hosts.empty()) {
    ++tracking_.refused_leaves;  // tracked listeners remain: nothing to ask
  }

  if (!existed) {
    if (r.hosts.empty() && r.sources.empty() && r.mode == Mode::kInclude) return;  // nobody
    it = records_.emplace(key, std::move(fresh)).first;
    Settle(key, it->second, now);
    Schedule(key, it->second);
    Emit(MembershipEvent::Kind::kJoin, key);
  } else if (!Settle(key, r, now)) {
    if (Trusted(ifindex, r, now)) ++tracking_.fast_leaves;
    End(it);
  } else if (r.deadline != old_deadline) {
    Schedule(key, r);
  }
  MaybeCompact();
}

void MembershipTable::LowerTimers(const QueryRequest& q, MldTime now, Millis max_response) {
  const MembershipKey key{q.ifindex, q.group};
  auto it = records_.find(key);
  if (it == records_.end()) return;
  Record& r = it->second;
  // Never below what a listener may take to answer this very query, so a
  // query with a long delay cannot end a group before its answer comes.
  const MldTime lowered = now + max_response * timers_.last_listener_query_count;
  bool changed = false;
  if (q.sources.empty()) {
    if (r.mode == Mode::kExclude && r.group_timer > lowered) {
      r.group_timer = lowered;
      changed = true;
    }
  } else {
    for (auto& s : r.sources) {
      if (s.timer > lowered && Listed(q.sources, s.address)) {
        s.timer = lowered;
        changed = true;
      }
    }
  }
  if (changed) ++tracking_.queries_lowered;
  const MldTime old = r.deadline;
  if (!Settle(key, r, now)) {
    End(it);
  } else if (r.deadline != old) {
    Schedule(key, r);
  }
}

void MembershipTable::DropInterface(int ifindex) {
  for (auto it = records_.begin(); it != records_.end();) {
    auto next = std::next(it);
    if (it->first.ifindex == ifindex) End(it);
    it = next;
  }
  suspended_.erase(ifindex);
  MaybeCompact();
}

void MembershipTable::SuspendTracking(int ifindex, MldTime /*now*/) {
  suspended_[ifindex] = Suspension{};
  ++tracking_.querier_changes;
}

void MembershipTable::OnGeneralQuery(int ifindex, MldTime now, Millis max_response) {
  auto s = suspended_.find(ifindex);
  if (s == suspended_.end() || !s->second.awaiting_query) return;
  // Answers come within the query's delay; a rogue querier's delay of hours
  // must not keep tracking off that long, so ours bounds it.
  s->second.awaiting_query = false;
  s->second.until = now + std::min(max_response, timers_.query_response_interval);
  // Records kept alive only by the router state are looked at again then.
  for (auto& [key, r] : records_) {
    if (key.ifindex != ifindex || r.deadline <= s->second.until) continue;
    r.deadline = s->second.until;
    Schedule(key, r);
  }
}

std::optional<MldTime> MembershipTable::SuspendedUntil(int ifindex, MldTime now) const {
  auto s = suspended_.find(ifindex);
  if (s == suspended_.end()) return std::nullopt;
  if (s->second.awaiting_query) return MldTime::max();
  if (s->second.until > now) return s->second.until;
  return std::nullopt;
}

bool MembershipTable::Trusted(int ifindex, const Record& r, MldTime now) const {
  return !r.untracked && r.v1_until <= now && !SuspendedUntil(ifindex, now);
}

bool MembershipTable::Settle(const MembershipKey& key, Record& r, MldTime now) {
  std::erase_if(r.hosts, [&](const Host& h) {
    if (h.expires > now) return false;
    ForgetHost(key.ifindex, h.address);
    return true;
  });
  if (r.mode == Mode::kExclude && r.group_timer <= now) {
    // Group timer ran out: only sources still requested remain (7.5).
    r.mode = Mode::kInclude;
    r.group_timer = MldTime{};
  }
  if (r.mode == Mode::kInclude)
    std::erase_if(r.sources, [now](const Source& s) { return s.timer <= now; });
  const bool router_listens = r.mode == Mode::kExclude || !r.sources.empty();
  const auto suspended = SuspendedUntil(key.ifindex, now);
  const bool trusted = !r.untracked && r.v1_until <= now && !suspended;
  // Tracked hosts keep a group alive; the router state only where tracking
  // cannot decide.
  if (r.hosts.empty() && (trusted || !router_listens)) return false;
  MldTime deadline = MldTime::max();
  for (const auto& h : r.hosts) deadline = std::min(deadline, h.expires);
  if (router_listens) {
    if (r.mode == Mode::kExclude) {
      // In EXCLUDE mode expiring sources only move to Y: nothing to do then.
      deadline = std::min(deadline, r.group_timer);
    } else {
      for (const auto& s : r.sources) deadline = std::min(deadline, s.timer);
    }
  }
  // When tracking resumes the record may have to end.
  if (r.v1_until > now) deadline = std::min(deadline, r.v1_until);
  if (suspended) deadline = std::min(deadline, *suspended);
  r.deadline = deadline;
  return true;
}

void MembershipTable::End(
    std::unordered_map<MembershipKey, Record, MembershipKeyHash>::iterator it) {
  const MembershipKey key = it->first;
  for (const Host& h : it->second.hosts) ForgetHost(key.ifindex, h.address);
  records_.erase(it);
  Emit(MembershipEvent::Kind::kLeave, key);
}

void MembershipTable::Schedule(const MembershipKey& key, Record& r) {
  heap_.push({r.deadline, key});
}

void MembershipTable::Emit(MembershipEvent::Kind kind, const MembershipKey& key) {
  if (sink_) sink_({kind, key.ifindex, key.group});
}

void MembershipTable::MaybeCompact() {
  // Entries go stale when a record's deadline moves; rebuild before they
  // outnumber live records, so memory follows live groups.
  if (heap_.size() <= 2 * records_.size() + 1024) return;
  std::vector<HeapEntry> entries;
  entries.reserve(records_.size());
  for (const auto& [key, r] : records_) entries.push_back({r.deadline, key});
  heap_ = Heap(std::greater<HeapEntry>(), std::move(entries));
}

std::optional<MldTime> MembershipTable::NextDeadline() const {
  // May be a stale entry's time: an early wake-up that finds nothing to do.
  if (heap_.empty()) return std::nullopt;
  return heap_.top().when;
}

void MembershipTable::ProcessTimers(MldTime now) {
  while (!heap_.empty() && heap_.top().when <= now) {
    const HeapEntry e = heap_.top();
    heap_.pop();
    auto it = records_.find(e.key);
    if (it == records_.end() || it->second.deadline != e.when) continue;  // stale
    if (!Settle(e.key, it->second, now)) {
      End(it);
    } else {
      Schedule(e.key, it->second);
    }
  }
  std::erase_if(suspended_,
                [now](const auto& s) { return !s.second.awaiting_query && s.second.until <= now; });
  MaybeCompact();
}

const MembershipTable::Record* MembershipTable::Find(int ifindex, const Ipv6Address& group) const {
  auto it = records_.find({ifindex, group});
  return it == records_.end() ? nullptr : &it->second;
}

bool MembershipTable::WantsSource(int ifindex, const Ipv6Address& group, const Ipv6Address& source,
                                  MldTime now) const {
  const Record* r = Find(ifindex, group);
  if (!r) return false;
  for (const auto& s : r->sources) {
    if (s.address != source) continue;
    // INCLUDE: listed and running. EXCLUDE: requested (X) yes, excluded (Y) no.
    return s.timer > now;
  }
  return r->mode == Mode::kExclude;
}

}  // namespace lcfs::net
