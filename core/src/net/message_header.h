// The parts of a sendmsg/recvmsg call that the MLD and UDP sockets share:
// a header for one buffer and one peer, and control messages.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <span>

namespace lcfs::net {

// A message of one buffer `iov` to or from `peer`, with `control` (may be
// empty) for its ancillary data. Both must outlive the call it is used in.
inline msghdr MessageHeader(sockaddr_in6* peer, iovec* iov, std::span<char> control = {}) {
  msghdr m{};
  m.msg_name = peer;
  m.msg_namelen = sizeof *peer;
  m.msg_iov = iov;
  m.msg_iovlen = 1;
  if (!control.empty()) {
    m.msg_control = control.data();
    m.msg_controllen = control.size();
  }
  return m;
}

// Fills the control message `c` (from CMSG_FIRSTHDR/CMSG_NXTHDR, with room
// for T) with `value`.
template <typename T>
void PutControl(cmsghdr* c, int level, int type, const T& value) {
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(sizeof(T));
  std::memcpy(CMSG_DATA(c), &value, sizeof(T));
}

}  // namespace lcfs::net
