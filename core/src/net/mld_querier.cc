#include "net/mld_querier.h"

#include <algorithm>

namespace lcfs::net {

namespace {
const Ipv6Address& AllNodes() {
  static const Ipv6Address a = *Ipv6Address::Parse("ff02::1");
  return a;
}
}  // namespace

MldQuerier::MldQuerier(const MldTimers& timers, SendFunction send)
    : timers_(timers), send_(std::move(send)) {}

void MldQuerier::AddInterface(int ifindex, const Ipv6Address& own, MldTime now) {
  RemoveInterface(ifindex);
  interfaces_.push_back({ifindex, own, now, timers_.startup_query_count, MldTime{}, {}});
}

void MldQuerier::RemoveInterface(int ifindex) {
  std::erase_if(interfaces_, [&](const Interface& i) { return i.ifindex == ifindex; });
  std::erase_if(pending_, [&](const Pending& p) { return p.query.ifindex == ifindex; });
}

MldQuerier::Interface* MldQuerier::FindInterface(int ifindex) {
  for (auto& i : interfaces_)
    if (i.ifindex == ifindex) return &i;
  return nullptr;
}
const MldQuerier::Interface* MldQuerier::FindInterface(int ifindex) const {
  return const_cast<MldQuerier*>(this)->FindInterface(ifindex);
}

bool MldQuerier::OnQueryHeard(int ifindex, const Ipv6Address& from, MldTime now) {
  Interface* i = FindInterface(ifindex);
  // RFC 3810 7.6.2: the lowest address is the querier.
  if (!i || !(from < i->own)) return false;
  const bool changed = i->other_querier_until <= now || !(i->other == from);
  i->other = from;
  i->other_querier_until = now + timers_.other_querier_present_interval();
  // Resume with a General Query as soon as the other querier falls silent.
  i->next_general = i->other_querier_until;
  i->startup_left = 0;
  std::erase_if(pending_, [&](const Pending& p) { return p.query.ifindex == ifindex; });
  return changed;
}

bool MldQuerier::IsQuerier(int ifindex, MldTime now) const {
  const Interface* i = FindInterface(ifindex);
  return i && i->other_querier_until <= now;
}

bool MldQuerier::StartSpecificQuery(const QueryRequest& q, MldTime now) {
  const Interface* i = FindInterface(q.ifindex);
  if (!i || i->other_querier_until > now) return false;
  // A leave repeated while its queries are under way restarts nothing.
  for (auto& p : pending_)
    if (p.query.ifindex == q.ifindex && p.query.group == q.group && p.query.sources == q.sources)
      return true;
  SendSpecific(q, *i);
  if (timers_.last_listener_query_count > 1)
    pending_.push_back(
        {q, timers_.last_listener_query_count - 1, now + timers_.last_listener_query_interval});
  return true;
}

Millis MldQuerier::SendGeneral(Interface& i, MldTime now) {
  MldQuery q;
  q.max_response_delay = i.startup_left > 0 ? timers_.startup_query_response_interval
                                            : timers_.query_response_interval;
  q.robustness = timers_.robustness;
  q.query_interval = timers_.query_interval;
  const auto msg = EncodeMldv2Query(q);
  Status s = send_(i.ifindex, i.own, AllNodes(), msg);
  if (s.ok()) {
    ++counters_.general_queries;
  } else {
    ++counters_.send_errors;
    counters_.last_error = s.ToString();
  }
  if (i.startup_left > 0) --i.startup_left;
  i.next_general =
      now + (i.startup_left > 0 ? timers_.startup_query_interval : timers_.query_interval);
  return q.max_response_delay;
}

void MldQuerier::SendSpecific(const QueryRequest& r, const Interface& i) {
  MldQuery q;
  q.max_response_delay = timers_.last_listener_query_interval;
  q.robustness = timers_.robustness;
  q.query_interval = timers_.query_interval;
  q.group = r.group;
  q.sources = r.sources;
  const auto msg = EncodeMldv2Query(q);
  // Specific queries go to the group itself (RFC 3810 5.1.15).
  Status s = send_(i.ifindex, i.own, r.group, msg);
  if (s.ok()) {
    ++counters_.specific_queries;
  } else {
    ++counters_.send_errors;
    counters_.last_error = s.ToString();
  }
}

std::optional<MldTime> MldQuerier::NextDeadline() const {
  std::optional<MldTime> next;
  auto consider = [&next](MldTime t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& i : interfaces_) consider(i.next_general);
  for (const auto& p : pending_) consider(p.next);
  return next;
}

void MldQuerier::ProcessTimers(MldTime now, std::vector<GeneralQuery>* general,
                               std::vector<int>* resumed) {
  for (auto& i : interfaces_) {
    if (i.next_general > now) continue;
    if (i.other_querier_until > now) {
      i.next_general = i.other_querier_until;
      continue;
    }
    if (i.other_querier_until != MldTime{}) {  // the other querier fell silent
      i.other_querier_until = MldTime{};
      i.other = Ipv6Address{};
      if (resumed) resumed->push_back(i.ifindex);
    }
    const Millis max_response = SendGeneral(i, now);
    if (general) general->push_back({i.ifindex, max_response});
  }
  for (auto& p : pending_) {
    if (p.next > now) continue;
    if (const Interface* i = FindInterface(p.query.ifindex)) SendSpecific(p.query, *i);
    --p.left;
    p.next = now + timers_.last_listener_query_interval;
  }
  std::erase_if(pending_, [](const Pending& p) { return p.left <= 0; });
}

}  // namespace lcfs::net
