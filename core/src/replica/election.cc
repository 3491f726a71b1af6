#include "replica/election.h"

#include <algorithm>

namespace lcfs::replica {

Election::Election(uint64_t instance, const Hash& root, ElectionOptions options,
                   Clock::time_point now)
    : instance_(instance), root_(root), options_(options), startup_end_(now + options.startup) {}

void Election::SetInterfaces(std::vector<OwnInterface> interfaces) {
  interfaces_ = std::move(interfaces);
  std::erase_if(peers_, [&](const auto& entry) {
    return std::none_of(interfaces_.begin(), interfaces_.end(),
                        [&](const OwnInterface& i) { return i.ifindex == entry.first.ifindex; });
  });
}

bool Election::OnHello(int ifindex, const net::Ipv6Address& source, const Hello& hello,
                       Clock::time_point now) {
  if (hello.instance == instance_) return false;
  if (std::none_of(interfaces_.begin(), interfaces_.end(),
                   [&](const OwnInterface& i) { return i.ifindex == ifindex; }))
    return false;
  const Key key{ifindex, source, hello.instance};
  if (hello.hold_ms == 0) {  // leaving now
    peers_.erase(key);
    return false;
  }
  auto it = peers_.find(key);
  const bool fresh = it == peers_.end();
  if (fresh) {
    const size_t here = static_cast<size_t>(std::count_if(
        peers_.begin(), peers_.end(), [&](const auto& e) { return e.first.ifindex == ifindex; }));
    if (here >= options_.max_peers) {
      ++ignored_peers_;
      return false;
    }
    it = peers_.emplace(key, Peer{}).first;
  }
  const auto hold = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(hello.hold_ms),
                                                        options_.max_hold_factor * options_.hold);
  it->second.root = hello.root;
  it->second.active = hello.active;
  it->second.expires = now + hold;
  return fresh;
}

bool Election::ShouldServe(const OwnInterface& own) const {
  const auto self = std::tie(own.address, instance_);
  bool active_peer = false, better_active = false, better_standby = false;
  for (const auto& [key, peer] : peers_) {
    if (key.ifindex != own.ifindex || peer.root != root_) continue;
    const bool better = std::tie(key.address, key.instance) < self;
    if (peer.active) {
      active_peer = true;
      better_active |= better;
    } else {
      better_standby |= better;
    }
  }
  return active_ ? !better_active : !active_peer && !better_standby;
}

bool Election::Update(Clock::time_point now) {
  std::erase_if(peers_, [&](const auto& entry) { return entry.second.expires <= now; });
  bool serve = interfaces_.empty();
  for (const OwnInterface& own : interfaces_) serve |= ShouldServe(own);
  if (!active_ && now < startup_end_) serve = false;
  const bool changed = serve != active_;
  active_ = serve;
  return changed;
}

Hello Election::MakeHello(bool leaving) {
  Hello h;
  h.active = active_;
  h.hold_ms = leaving ? 0 : static_cast<uint16_t>(std::min<int64_t>(options_.hold.count(), 65535));
  h.instance = instance_;
  h.root = root_;
  h.sequence = sequence_++;
  return h;
}

std::optional<Election::Clock::time_point> Election::NextDeadline(Clock::time_point now) const {
  std::optional<Clock::time_point> next;
  if (!active_ && startup_end_ > now) next = startup_end_;
  for (const auto& [key, peer] : peers_) {
    if (!next || peer.expires < *next) next = peer.expires;
  }
  return next;
}

}  // namespace lcfs::replica
