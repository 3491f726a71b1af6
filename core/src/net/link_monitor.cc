#include "lcfs/net/link_monitor.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <optional>

namespace lcfs::net {

namespace {

template <typename T>
T Load(std::span<const uint8_t> bytes) {
  T v;
  std::memcpy(&v, bytes.data(), sizeof v);
  return v;
}

// The fixed header T at the start of a message body, if the body holds one.
template <typename T>
std::optional<T> LoadHeader(std::span<const uint8_t> body) {
  if (body.size() < sizeof(T)) return std::nullopt;
  return Load<T>(body);
}

constexpr size_t Align(size_t n) { return (n + 3) & ~size_t{3}; }  // NLMSG_ALIGN, RTA_ALIGN

// The IFLA_IFNAME attribute among a link message's attributes, if any.
std::string LinkName(std::span<const uint8_t> attrs) {
  while (attrs.size() >= sizeof(rtattr)) {
    const auto a = Load<rtattr>(attrs);
    if (a.rta_len < sizeof(rtattr) || a.rta_len > attrs.size()) break;
    if (a.rta_type == IFLA_IFNAME) {
      const auto value = attrs.subspan(sizeof(rtattr), a.rta_len - sizeof(rtattr));
      const auto* p = reinterpret_cast<const char*>(value.data());
      return std::string(p, strnlen(p, value.size()));
    }
    attrs = attrs.subspan(std::min(Align(a.rta_len), attrs.size()));
  }
  return {};
}

// Appends the event of one link or address message (`type`) with `body`;
// false if the body is too short for the message's header. Addresses of
// other families than IPv6 make no event.
bool AppendEvent(uint16_t type, std::span<const uint8_t> body, std::vector<LinkEvent>* out) {
  LinkEvent e;
  if (type == RTM_NEWLINK || type == RTM_DELLINK) {
    const auto info = LoadHeader<ifinfomsg>(body);
    if (!info) return false;
    e.kind = type == RTM_NEWLINK ? LinkEvent::Kind::kLink : LinkEvent::Kind::kLinkGone;
    e.ifindex = info->ifi_index;
    e.flags = info->ifi_flags;
    e.name = LinkName(body.subspan(std::min(Align(sizeof(ifinfomsg)), body.size())));
  } else {
    const auto addr = LoadHeader<ifaddrmsg>(body);
    if (!addr) return false;
    if (addr->ifa_family != AF_INET6) return true;
    e.kind = type == RTM_NEWADDR ? LinkEvent::Kind::kAddress : LinkEvent::Kind::kAddressGone;
    e.ifindex = static_cast<int>(addr->ifa_index);
  }
  out->push_back(std::move(e));
  return true;
}

}  // namespace

void ParseLinkMessages(std::span<const uint8_t> bytes, std::vector<LinkEvent>* out,
                       uint64_t* malformed) {
  while (bytes.size() >= sizeof(nlmsghdr)) {
    const auto h = Load<nlmsghdr>(bytes);
    if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > bytes.size()) {
      ++*malformed;
      return;
    }
    const auto body = bytes.subspan(sizeof(nlmsghdr), h.nlmsg_len - sizeof(nlmsghdr));
    switch (h.nlmsg_type) {
      case RTM_NEWLINK:
      case RTM_DELLINK:
      case RTM_NEWADDR:
      case RTM_DELADDR:
        if (!AppendEvent(h.nlmsg_type, body, out)) {
          ++*malformed;
          return;
        }
        break;
      default:
        break;  // NLMSG_NOOP, NLMSG_DONE, other families' messages
    }
    bytes = bytes.subspan(std::min(Align(h.nlmsg_len), bytes.size()));
  }
}

void DispatchLinkEvents(const std::vector<LinkEvent>& events, bool lost_some,
                        const LinkHandlers& handlers) {
  for (const auto& e : events) {
    switch (e.kind) {
      case LinkEvent::Kind::kLink:
        if (handlers.link) handlers.link(e);
        break;
      case LinkEvent::Kind::kLinkGone:
        if (handlers.link_gone) handlers.link_gone(e.ifindex);
        break;
      case LinkEvent::Kind::kAddress:
        if (handlers.address) handlers.address(e.ifindex);
        break;
      case LinkEvent::Kind::kAddressGone:
        break;
    }
  }
  if (lost_some && handlers.lost) handlers.lost();
}

Result<LinkMonitor> LinkMonitor::Open() {
  LinkMonitor m;
  m.fd_.reset(socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!m.fd_) return Status::FromErrno(errno, "rtnetlink socket");
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV6_IFADDR;
  if (bind(m.fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    return Status::FromErrno(errno, "rtnetlink bind (link and address events)");
  return m;
}

Result<bool> LinkMonitor::Read(std::vector<LinkEvent>* out) {
  alignas(nlmsghdr) uint8_t buffer[16384];
  bool lost = false;
  for (;;) {
    const ssize_t n = recv(fd_.get(), buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return lost;
      if (errno == ENOBUFS) {  // the kernel overran our buffer: events are lost
        lost = true;
        continue;
      }
      return Status::FromErrno(errno, "rtnetlink receive");
    }
    ParseLinkMessages(std::span(buffer, static_cast<size_t>(n)), out, &malformed_);
  }
}

Status LinkMonitor::Dispatch(const LinkHandlers& handlers) {
  std::vector<LinkEvent> events;
  auto lost = Read(&events);
  if (!lost.ok()) return lost.status();
  DispatchLinkEvents(events, *lost, handlers);
  return Status::Ok();
}

}  // namespace lcfs::net
