#include "net/mld_socket.h"

#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

#include "net/message_header.h"

namespace lcfs::net {

namespace {

// MRT6_INIT from <linux/mroute6.h>, whose headers clash with glibc's.
constexpr int kMrt6Init = 200;

Status SetInt(int fd, int level, int opt, int v, const char* name) {
  if (setsockopt(fd, level, opt, &v, sizeof v) != 0) return Status::FromErrno(errno, name);
  return Status::Ok();
}

Status Join(int fd, int ifindex, const char* group) {
  ipv6_mreq mr{};
  mr.ipv6mr_multiaddr = Ipv6Address::Parse(group)->ToIn6();
  mr.ipv6mr_interface = static_cast<unsigned>(ifindex);
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof mr) != 0 && errno != EADDRINUSE)
    return Status::FromErrno(
        errno, std::string("join ") + group + " on interface " + std::to_string(ifindex));
  return Status::Ok();
}

}  // namespace

Result<MldSocket> MldSocket::Open() {
  MldSocket s;
  s.fd_.reset(socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6));
  if (!s.fd_) {
    const int err = errno;
    if (err == EPERM || err == EACCES)
      return Status::Error(err,
                           "MLD snooping needs CAP_NET_RAW (run as root or grant the "
                           "capability) to open a raw ICMPv6 socket");
    return Status::FromErrno(err, "raw ICMPv6 socket");
  }
  const int fd = s.fd_.get();
  icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  ICMP6_FILTER_SETPASS(MLD_LISTENER_QUERY, &filter);
  ICMP6_FILTER_SETPASS(MLD_LISTENER_REPORT, &filter);
  ICMP6_FILTER_SETPASS(MLD_LISTENER_REDUCTION, &filter);
  ICMP6_FILTER_SETPASS(143, &filter);  // MLDv2 Listener Report
  if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0)
    return Status::FromErrno(errno, "ICMP6_FILTER");
  LCFS_RETURN_IF_ERROR(SetInt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO"));
  LCFS_RETURN_IF_ERROR(SetInt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT"));
  LCFS_RETURN_IF_ERROR(SetInt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 1, "IPV6_MULTICAST_HOPS"));
  LCFS_RETURN_IF_ERROR(SetInt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, "IPV6_MULTICAST_LOOP"));
  // Room for a burst of reports; beyond rmem_max only with CAP_NET_ADMIN.
  const int big = 1 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0)
    LCFS_RETURN_IF_ERROR(SetInt(fd, SOL_SOCKET, SO_RCVBUF, big, "SO_RCVBUF"));
  // Hop-by-hop header with Router Alert (RFC 2711, value 0 = MLD), padded
  // to 8 bytes. A sticky option, set now: it needs CAP_NET_RAW.
  const uint8_t hbh[8] = {0, 0, 5, 2, 0, 0, 1, 0};
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_HOPOPTS, hbh, sizeof hbh) != 0)
    return Status::FromErrno(errno, "IPV6_HOPOPTS (Router Alert)");
  // Become the namespace's multicast routing socket: the kernel then hands
  // MLD messages sent to any non-link-local group (MLDv1 Reports) to raw
  // sockets. Fails if a routing daemon holds it; only MLDv1 suffers.
  int one = 1;
  s.mroute_ = setsockopt(fd, IPPROTO_IPV6, kMrt6Init, &one, sizeof one) == 0;
  return s;
}

Status MldSocket::AddInterface(int ifindex) {
  LCFS_RETURN_IF_ERROR(Join(fd_.get(), ifindex, kAllMldv2Routers));
  return Join(fd_.get(), ifindex, kAllRouters);
}

Result<bool> MldSocket::Receive(std::span<uint8_t> buffer, Received* out) {
  sockaddr_in6 from{};
  iovec iov{buffer.data(), buffer.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
  msghdr m = MessageHeader(&from, &iov, control);
  ssize_t n;
  do {
    n = recvmsg(fd_.get(), &m, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
    return Status::FromErrno(errno, "receive MLD");
  }
  out->message = buffer.subspan(0, std::min(static_cast<size_t>(n), buffer.size()));
  out->source = Ipv6Address::FromIn6(from.sin6_addr);
  out->destination = Ipv6Address{};
  out->ifindex = static_cast<int>(from.sin6_scope_id);
  out->hop_limit = -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != IPPROTO_IPV6) continue;
    if (c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo pi;
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      out->destination = Ipv6Address::FromIn6(pi.ipi6_addr);
      out->ifindex = static_cast<int>(pi.ipi6_ifindex);
    } else if (c->cmsg_type == IPV6_HOPLIMIT) {
      std::memcpy(&out->hop_limit, CMSG_DATA(c), sizeof(int));
    }
  }
  return true;
}

Status MldSocket::Send(int ifindex, const Ipv6Address& source, const Ipv6Address& destination,
                       std::span<const uint8_t> message) {
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  to.sin6_addr = destination.ToIn6();
  to.sin6_scope_id = static_cast<uint32_t>(ifindex);
  iovec iov{const_cast<uint8_t*>(message.data()), message.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int))] = {};
  msghdr m = MessageHeader(&to, &iov, control);
  // Source and interface per message: a group of global scope would
  // otherwise get a global source address, and queries must come from
  // the link-local one (RFC 3810 5.1.14).
  in6_pktinfo pi{};
  pi.ipi6_addr = source.ToIn6();
  pi.ipi6_ifindex = static_cast<unsigned>(ifindex);
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  PutControl(c, IPPROTO_IPV6, IPV6_PKTINFO, pi);
  PutControl(CMSG_NXTHDR(&m, c), IPPROTO_IPV6, IPV6_HOPLIMIT, int{1});
  ssize_t n;
  do {
    n = sendmsg(fd_.get(), &m, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    return Status::FromErrno(errno, "send MLD query to " + destination.ToString() +
                                        " on interface " + std::to_string(ifindex));
  return Status::Ok();
}

}  // namespace lcfs::net
