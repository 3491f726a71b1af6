// Plain UDP sockets, for the tests that prove the testbed itself (they do
// not use lcfs's own socket code, so a bug there cannot hide a testbed
// fault): a socket bound to a port, joined to groups, sending to a group.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

#include "lcfs/unique_fd.h"

namespace lcfs::testing {

inline in6_addr Addr(const char* s) {
  in6_addr a;
  inet_pton(AF_INET6, s, &a);
  return a;
}

// A UDP socket bound to `port` on every address (SO_REUSEADDR: several in
// one host), in the calling thread's network namespace.
inline UniqueFd BoundUdpSocket(uint16_t port) {
  UniqueFd fd(socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(fd.valid());
  int one = 1;
  EXPECT_EQ(setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0) << strerror(errno);
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << strerror(errno);
  return fd;
}

// Joins `group` on interface `ifindex` (a test failure if refused).
inline void JoinGroup(int fd, const char* group, int ifindex) {
  ipv6_mreq mr{};
  mr.ipv6mr_multiaddr = Addr(group);
  mr.ipv6mr_interface = static_cast<unsigned>(ifindex);
  EXPECT_EQ(setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof mr), 0) << strerror(errno);
}

// Sends `payload` to `group` on `port` out of interface `ifindex`.
inline void SendToGroup(int fd, int ifindex, const char* group, uint16_t port,
                        const std::string& payload) {
  ASSERT_EQ(setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex), 0);
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  sa.sin6_addr = Addr(group);
  ASSERT_EQ(
      sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa),
      static_cast<ssize_t>(payload.size()))
      << strerror(errno);
}

}  // namespace lcfs::testing
