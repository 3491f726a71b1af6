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

MembershipTable::MembershipTable(const MldTimers& timers, EventSink sink)
    : timers_(timers), sink_(std::move(sink)) {}

void MembershipTable::Apply(int ifindex, const MldRecord& rec, MldTime now,
                            std::vector<QueryRequest>* queries) {
  const MembershipKey key{ifindex, rec.group};
  auto it = records_.find(key);
  const bool existed = it != records_.end();
  Record fresh;  // no record = INCLUDE {}
  Record& r = existed ? it->second : fresh;
  const MldTime old_deadline = r.deadline;
  const MldTime mali = now + timers_.listening_interval();
  const std::span<const Ipv6Address> b = rec.sources;
  // The state transitions of RFC 3810 7.4.1 (current state) and 7.4.2
  // (filter mode and source list changes). In EXCLUDE mode, a source whose
  // timer is past is in the exclude list Y, otherwise in the requested list X.
  auto in_x = [now](const Source& s) { return s.timer > now; };
  if (r.mode == Mode::kInclude) {  // INCLUDE (A)
    switch (rec.type) {
      case RecordType::kModeIsInclude:
      case RecordType::kAllowNewSources:
        for (const auto& s : b) SetSource(r.sources, s, mali);
        break;
      case RecordType::kChangeToInclude: {
        std::vector<Ipv6Address> a_minus_b;
        for (const auto& s : r.sources)
          if (!Listed(b, s.address)) a_minus_b.push_back(s.address);
        for (const auto& s : b) SetSource(r.sources, s, mali);
        AddQuery(queries, key, std::move(a_minus_b), false);
        break;
      }
      case RecordType::kBlockOldSources: {
        std::vector<Ipv6Address> a_and_b;
        for (const auto& s : r.sources)
          if (Listed(b, s.address)) a_and_b.push_back(s.address);
        AddQuery(queries, key, std::move(a_and_b), false);
        break;
      }
      case RecordType::kModeIsExclude:
      case RecordType::kChangeToExclude: {
        // EXCLUDE (A*B, B-A): A*B keep their timers, B-A excluded, A-B gone.
        std::vector<Ipv6Address> a_and_b;
        for (const auto& s : r.sources)
          if (Listed(b, s.address)) a_and_b.push_back(s.address);
        KeepListed(r.sources, b);
        for (const auto& s : b) AddIfAbsent(r.sources, s, MldTime{});
        r.mode = Mode::kExclude;
        r.group_timer = mali;
        if (rec.type == RecordType::kChangeToExclude)
          AddQuery(queries, key, std::move(a_and_b), false);
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
        std::vector<Ipv6Address> x_minus_a;
        for (const auto& s : r.sources)
          if (in_x(s) && !Listed(b, s.address)) x_minus_a.push_back(s.address);
        for (const auto& s : b) SetSource(r.sources, s, mali);
        AddQuery(queries, key, std::move(x_minus_a), false);
        AddQuery(queries, key, {}, true);
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
        AddQuery(queries, key, std::move(a_minus_y), false);
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
        if (to_ex) AddQuery(queries, key, std::move(a_minus_y), false);
        break;
      }
    }
  }

  if (!existed) {
    if (r.sources.empty() && r.mode == Mode::kInclude) return;  // still nobody
    it = records_.emplace(key, std::move(fresh)).first;
    Settle(it->second, now);
    Schedule(key, it->second);
    Emit(MembershipEvent::Kind::kJoin, key);
  } else if (!Settle(r, now)) {
    records_.erase(it);
    Emit(MembershipEvent::Kind::kLeave, key);
  } else if (r.deadline != old_deadline) {
    Schedule(key, r);
  }
  MaybeCompact();
}

void MembershipTable::LowerTimers(const QueryRequest& q, MldTime now) {
  const MembershipKey key{q.ifindex, q.group};
  auto it = records_.find(key);
  if (it == records_.end()) return;
  Record& r = it->second;
  const MldTime llqt = now + timers_.last_listener_query_time();
  if (q.sources.empty()) {
    if (r.mode == Mode::kExclude && r.group_timer > llqt) r.group_timer = llqt;
  } else {
    for (auto& s : r.sources)
      if (s.timer > llqt && Listed(q.sources, s.address)) s.timer = llqt;
  }
  const MldTime old = r.deadline;
  if (!Settle(r, now)) {
    records_.erase(it);
    Emit(MembershipEvent::Kind::kLeave, key);
  } else if (r.deadline != old) {
    Schedule(key, r);
  }
}

bool MembershipTable::Settle(Record& r, MldTime now) {
  if (r.mode == Mode::kExclude && r.group_timer <= now) {
    // Group timer ran out: only sources still requested remain (7.5).
    r.mode = Mode::kInclude;
    r.group_timer = MldTime{};
  }
  if (r.mode == Mode::kInclude) {
    std::erase_if(r.sources, [now](const Source& s) { return s.timer <= now; });
    if (r.sources.empty()) return false;
    r.deadline =
        std::min_element(r.sources.begin(), r.sources.end(), [](const Source& a, const Source& b) {
          return a.timer < b.timer;
        })->timer;
  } else {
    // In EXCLUDE mode expiring sources only move to Y: nothing to do then.
    r.deadline = r.group_timer;
  }
  return true;
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
    if (!Settle(it->second, now)) {
      records_.erase(it);
      Emit(MembershipEvent::Kind::kLeave, e.key);
    } else {
      Schedule(e.key, it->second);
    }
  }
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
