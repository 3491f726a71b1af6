#include "lcfs/net/multicast_socket.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "lcfs/net/interfaces.h"
#include "net/message_header.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace lcfs::net {

namespace {

sockaddr_in6 SockAddr(const Ipv6Address& a, uint16_t port, int ifindex = 0) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  sa.sin6_addr = a.ToIn6();
  sa.sin6_scope_id = static_cast<uint32_t>(ifindex);
  return sa;
}

// RFC 3678 any-source membership of `group` on `ifindex`.
group_req GroupRequest(const Ipv6Address& group, int ifindex) {
  group_req r{};
  r.gr_interface = static_cast<uint32_t>(ifindex);
  const sockaddr_in6 g = SockAddr(group, 0);
  std::memcpy(&r.gr_group, &g, sizeof g);
  return r;
}

// The kernel's errno for a membership call, said in terms of what went wrong
// (the causes RFC 3678 and sourcefilter(3) list for each).
Status MembershipError(int err, const std::string& what) {
  std::string why;
  switch (err) {
    case EADDRNOTAVAIL:
      why =
          "address not available (group not joined on that interface, unknown interface, or "
          "source not in the filter)";
      break;
    case EINVAL:
      why =
          "invalid argument (not a multicast group, bad source address, or a filter mode that "
          "conflicts with the existing membership)";
      break;
    case EAFNOSUPPORT:
      why = "address family not supported (group and sources must be IPv6)";
      break;
    case ENOBUFS:
      why = "too many sources or groups (limits net.ipv6.mld_max_msf, net.core.optmem_max)";
      break;
    case ENODEV:
      why = "no such interface";
      break;
    default:
      return Status::FromErrno(err, what);
  }
  return Status::Error(err, what + ": " + why);
}

// The kernel takes a multicast or unspecified "source" without complaint;
// such a filter could never match anything.
Status CheckSources(const SourceFilter& f) {
  for (const auto& s : f.sources)
    if (s.IsMulticast() || s.IsUnspecified())
      return Status::Error(EINVAL, "source filter: " + s.ToString() + " is not a unicast address");
  return Status::Ok();
}

std::string Describe(const Ipv6Address& group, int ifindex) {
  return group.ToString() + " on interface " + std::to_string(ifindex);
}

Status SetInt(int fd, int level, int opt, int v, const char* name) {
  if (setsockopt(fd, level, opt, &v, sizeof v) != 0) return Status::FromErrno(errno, name);
  return Status::Ok();
}

// Asks for `bytes` of buffer, beyond rmem_max/wmem_max if privileged (the
// FORCE option needs CAP_NET_ADMIN), else as much as the sysctl allows.
Status SetBuffer(int fd, int force_opt, int opt, int bytes, const char* name) {
  if (bytes <= 0) return Status::Ok();
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) == 0) return Status::Ok();
  return SetInt(fd, SOL_SOCKET, opt, bytes, name);
}

}  // namespace

Result<MulticastSocket> MulticastSocket::Open(const MulticastSocketOptions& o) {
  MulticastSocket s;
  s.fd_.reset(socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s.fd_) return Status::FromErrno(errno, "multicast socket");
  const int fd = s.fd_.get();
  LCFS_RETURN_IF_ERROR(SetInt(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR"));
  LCFS_RETURN_IF_ERROR(SetInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY"));
  LCFS_RETURN_IF_ERROR(SetInt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO"));
  LCFS_RETURN_IF_ERROR(SetBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, o.receive_buffer, "SO_RCVBUF"));
  LCFS_RETURN_IF_ERROR(SetBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, o.send_buffer, "SO_SNDBUF"));
  LCFS_RETURN_IF_ERROR(s.SetHopLimit(o.hop_limit));
  LCFS_RETURN_IF_ERROR(s.SetLoop(o.loop));
  if (o.send_ifindex) LCFS_RETURN_IF_ERROR(s.SetSendInterface(o.send_ifindex));
  if (o.only_joined_groups)
    LCFS_RETURN_IF_ERROR(SetInt(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0, "IPV6_MULTICAST_ALL"));
  sockaddr_in6 sa = SockAddr(Ipv6Address{}, o.port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    return Status::FromErrno(errno, "bind UDP port " + std::to_string(o.port));
  socklen_t len = sizeof sa;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
    return Status::FromErrno(errno, "getsockname");
  s.port_ = ntohs(sa.sin6_port);
  s.dest_port_ = o.port ? o.port : s.port_;
  return s;
}

Status MulticastSocket::SetHopLimit(int hops) {
  return SetInt(fd_.get(), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, hops, "IPV6_MULTICAST_HOPS");
}
Status MulticastSocket::SetLoop(bool on) {
  return SetInt(fd_.get(), IPPROTO_IPV6, IPV6_MULTICAST_LOOP, on ? 1 : 0, "IPV6_MULTICAST_LOOP");
}
Status MulticastSocket::SetSendInterface(int ifindex) {
  return SetInt(fd_.get(), IPPROTO_IPV6, IPV6_MULTICAST_IF, ifindex, "IPV6_MULTICAST_IF");
}

Status MulticastSocket::Join(const Ipv6Address& group, int ifindex, const SourceFilter& filter) {
  if (!group.IsMulticast())
    return Status::Error(EINVAL, "join " + group.ToString() + ": not a multicast address");
  if (filter.mode == SourceFilter::Mode::kInclude && filter.sources.empty())
    return Status::Error(EINVAL,
                         "join " + group.ToString() + ": INCLUDE {} accepts no source (use Leave)");
  LCFS_RETURN_IF_ERROR(CheckSources(filter));
  if (ifindex != 0) return JoinOne(group, ifindex, filter);
  auto ifs = MulticastInterfaces();
  if (!ifs.ok()) return ifs.status();
  if (ifs->empty())
    return Status::Error(ENODEV, "join " + group.ToString() + ": no multicast-capable interface");
  for (const auto& i : *ifs) LCFS_RETURN_IF_ERROR(JoinOne(group, i.ifindex, filter));
  return Status::Ok();
}

Status MulticastSocket::JoinOne(const Ipv6Address& group, int ifindex, const SourceFilter& f) {
  const bool joined = std::any_of(joined_.begin(), joined_.end(), [&](const Membership& m) {
    return m.group == group && m.ifindex == ifindex;
  });
  if (!joined) {
    // RFC 3678's delta-based calls for the first membership: an SSM join on
    // the first allowed source, or an any-source join.
    if (f.mode == SourceFilter::Mode::kInclude) {
      group_source_req r{};
      r.gsr_interface = static_cast<uint32_t>(ifindex);
      sockaddr_in6 g = SockAddr(group, 0), s = SockAddr(f.sources[0], 0);
      std::memcpy(&r.gsr_group, &g, sizeof g);
      std::memcpy(&r.gsr_source, &s, sizeof s);
      if (setsockopt(fd_.get(), IPPROTO_IPV6, MCAST_JOIN_SOURCE_GROUP, &r, sizeof r) != 0)
        return MembershipError(
            errno, "join " + Describe(group, ifindex) + " from source " + f.sources[0].ToString());
    } else {
      const group_req r = GroupRequest(group, ifindex);
      if (setsockopt(fd_.get(), IPPROTO_IPV6, MCAST_JOIN_GROUP, &r, sizeof r) != 0)
        return MembershipError(errno, "join " + Describe(group, ifindex));
    }
    joined_.push_back({group, ifindex});
    const bool complete =
        f.mode == SourceFilter::Mode::kInclude ? f.sources.size() == 1 : f.sources.empty();
    if (complete) return Status::Ok();
  }
  // The rest of the filter in one full-state call.
  return SetSourceFilter(group, ifindex, f);
}

Status MulticastSocket::Leave(const Ipv6Address& group, int ifindex) {
  if (ifindex != 0) return LeaveOne(group, ifindex);
  std::vector<int> where;
  for (const auto& m : joined_)
    if (m.group == group) where.push_back(m.ifindex);
  if (where.empty())
    return Status::Error(EADDRNOTAVAIL, "leave " + group.ToString() + ": not joined");
  for (int i : where) LCFS_RETURN_IF_ERROR(LeaveOne(group, i));
  return Status::Ok();
}

Status MulticastSocket::LeaveOne(const Ipv6Address& group, int ifindex) {
  const group_req r = GroupRequest(group, ifindex);
  if (setsockopt(fd_.get(), IPPROTO_IPV6, MCAST_LEAVE_GROUP, &r, sizeof r) != 0)
    return MembershipError(errno, "leave " + Describe(group, ifindex));
  std::erase_if(joined_,
                [&](const Membership& m) { return m.group == group && m.ifindex == ifindex; });
  return Status::Ok();
}

Status MulticastSocket::SetSourceFilter(const Ipv6Address& group, int ifindex,
                                        const SourceFilter& f) {
  if (ifindex == 0)
    return Status::Error(
        EINVAL, "set source filter on " + group.ToString() + ": needs one interface, not 0");
  // Linux answers EINVAL here; say what is wrong instead.
  if (std::none_of(joined_.begin(), joined_.end(),
                   [&](const Membership& m) { return m.group == group && m.ifindex == ifindex; }))
    return Status::Error(EADDRNOTAVAIL, "set source filter on " + Describe(group, ifindex) +
                                            ": group not joined there");
  LCFS_RETURN_IF_ERROR(CheckSources(f));
  sockaddr_in6 g = SockAddr(group, 0);
  std::vector<sockaddr_storage> list(f.sources.size());
  for (size_t i = 0; i < f.sources.size(); ++i) {
    sockaddr_in6 s = SockAddr(f.sources[i], 0);
    std::memcpy(&list[i], &s, sizeof s);
  }
  const uint32_t mode = f.mode == SourceFilter::Mode::kInclude ? MCAST_INCLUDE : MCAST_EXCLUDE;
  if (setsourcefilter(fd_.get(), static_cast<uint32_t>(ifindex), reinterpret_cast<sockaddr*>(&g),
                      sizeof g, mode, static_cast<uint32_t>(list.size()), list.data()) != 0)
    return MembershipError(errno, "setsourcefilter " + Describe(group, ifindex));
  return Status::Ok();
}

Result<SourceFilter> MulticastSocket::GetSourceFilter(const Ipv6Address& group, int ifindex) const {
  if (ifindex == 0)
    return Status::Error(
        EINVAL, "get source filter of " + group.ToString() + ": needs one interface, not 0");
  sockaddr_in6 g = SockAddr(group, 0);
  // The kernel says how many sources there are: grow until they fit.
  std::vector<sockaddr_storage> list(16);
  for (;;) {
    uint32_t mode = 0, n = static_cast<uint32_t>(list.size());
    if (getsourcefilter(fd_.get(), static_cast<uint32_t>(ifindex), reinterpret_cast<sockaddr*>(&g),
                        sizeof g, &mode, &n, list.data()) != 0)
      return MembershipError(errno, "getsourcefilter " + Describe(group, ifindex));
    if (n > list.size()) {
      if (n > 65536) return Status::Error(EOVERFLOW, "getsourcefilter: absurd source count");
      list.resize(n);
      continue;
    }
    SourceFilter f;
    f.mode = mode == MCAST_INCLUDE ? SourceFilter::Mode::kInclude : SourceFilter::Mode::kExclude;
    for (uint32_t i = 0; i < n; ++i) {
      sockaddr_in6 s;
      std::memcpy(&s, &list[i], sizeof s);
      f.sources.push_back(Ipv6Address::FromIn6(s.sin6_addr));
    }
    return f;
  }
}

Result<size_t> MulticastSocket::Send(std::span<const OutgoingDatagram> datagrams) {
  constexpr size_t kBatch = 64;
  size_t sent = 0;
  while (sent < datagrams.size()) {
    const size_t n = std::min(kBatch, datagrams.size() - sent);
    sockaddr_in6 addrs[kBatch];
    iovec iov[kBatch];
    mmsghdr msgs[kBatch];
    for (size_t i = 0; i < n; ++i) {
      const OutgoingDatagram& d = datagrams[sent + i];
      addrs[i] = SockAddr(d.group, d.port ? d.port : dest_port_);
      iov[i] = {const_cast<uint8_t*>(d.data.data()), d.data.size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int r = sendmmsg(fd_.get(), msgs, static_cast<unsigned>(n), MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "sendmmsg to " + datagrams[sent].group.ToString());
    }
    sent += static_cast<size_t>(r);
    if (static_cast<size_t>(r) < n) break;  // socket buffer full
  }
  return sent;
}

Result<size_t> MulticastSocket::SendSegments(const Ipv6Address& group,
                                             std::span<const uint8_t> data, size_t segment_size) {
  if (segment_size == 0 || segment_size > 65000)
    return Status::Error(EINVAL, "send segments: segment size " + std::to_string(segment_size));
  size_t done = 0;
  sockaddr_in6 dst = SockAddr(group, dest_port_);
  // GSO: up to 64 segments and 64 KiB per call.
  const size_t per_call = std::max<size_t>(1, std::min<size_t>(64, 65000 / segment_size));
  while (gso_ok_ && done < data.size()) {
    const size_t len = std::min(data.size() - done, per_call * segment_size);
    iovec iov{const_cast<uint8_t*>(data.data() + done), len};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint16_t))] = {};
    // A single datagram needs no GSO.
    msghdr m = MessageHeader(&dst, &iov,
                             len > segment_size ? std::span<char>(control) : std::span<char>());
    if (len > segment_size)
      PutControl(CMSG_FIRSTHDR(&m), SOL_UDP, UDP_SEGMENT, static_cast<uint16_t>(segment_size));
    const ssize_t r = sendmsg(fd_.get(), &m, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return done;
      if (errno == EINTR) continue;
      if ((errno == EIO || errno == EINVAL || errno == ENOPROTOOPT) && len > segment_size) {
        gso_ok_ = false;  // no GSO here: fall back to sendmmsg below
        break;
      }
      return Status::FromErrno(errno, "send segments to " + group.ToString());
    }
    done += static_cast<size_t>(r);
  }
  if (done < data.size()) {
    std::vector<OutgoingDatagram> batch;
    for (size_t off = done; off < data.size(); off += segment_size)
      batch.push_back({group, data.subspan(off, std::min(segment_size, data.size() - off))});
    auto n = Send(batch);
    if (!n.ok()) return n.status();
    for (size_t i = 0; i < *n; ++i) done += batch[i].data.size();
  }
  return done;
}

Result<size_t> MulticastSocket::Receive(std::span<IncomingDatagram> datagrams) {
  constexpr size_t kBatch = 64;
  constexpr size_t kControl = CMSG_SPACE(sizeof(in6_pktinfo));
  const size_t n = std::min(kBatch, datagrams.size());
  if (n == 0) return size_t{0};
  sockaddr_in6 addrs[kBatch];
  iovec iov[kBatch];
  mmsghdr msgs[kBatch];
  alignas(cmsghdr) char control[kBatch][kControl];
  for (size_t i = 0; i < n; ++i) {
    iov[i] = {datagrams[i].buffer.data(), datagrams[i].buffer.size()};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_name = &addrs[i];
    msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_control = control[i];
    msgs[i].msg_hdr.msg_controllen = kControl;
  }
  int r;
  do {
    r = recvmmsg(fd_.get(), msgs, static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    return Status::FromErrno(errno, "recvmmsg");
  }
  for (int i = 0; i < r; ++i) {
    IncomingDatagram& d = datagrams[i];
    const msghdr& h = msgs[i].msg_hdr;
    d.length = std::min<size_t>(msgs[i].msg_len, d.buffer.size());
    d.truncated = (h.msg_flags & MSG_TRUNC) != 0;
    d.source = Ipv6Address::FromIn6(addrs[i].sin6_addr);
    d.source_port = ntohs(addrs[i].sin6_port);
    d.destination = Ipv6Address{};
    d.ifindex = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
      if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        d.destination = Ipv6Address::FromIn6(pi.ipi6_addr);
        d.ifindex = static_cast<int>(pi.ipi6_ifindex);
      }
    }
  }
  return static_cast<size_t>(r);
}

}  // namespace lcfs::net
