// raw_multicast: the "raw multicast" reference of bench/e2e/fs_cold_read.sh.
// Receives the objects of a file the way the mount does (join an object's
// group, take its packets, leave; at most WINDOW groups joined at once, in
// file order) but does nothing with the packets: no parsing beyond the
// length, no decoding, no hashing, no cache, no FUSE. An object counts as
// received once K packets of it came (K = ceil(size / symbol size), the
// least any decoder needs), so this is an upper bound for a receiver of
// these groups on this host.
//
//   raw_multicast IFACE PORT WINDOW GROUPS_FILE
//
// GROUPS_FILE: one object per line, "GROUP SIZE" (GROUP as an IPv6 address).
// Prints one line: objects, bytes, packets, seconds, MiB/s. Standalone (no
// lcfs library): the scripts build it with g++ -O2.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace {

constexpr size_t kHeader = 40;  // lcfs packet header (docs/protocol.md section 7)
constexpr size_t kBatch = 64;

struct Object {
  in6_addr group;
  uint64_t size;
  uint64_t packets = 0;
  bool joined = false, done = false;
};

bool Membership(int fd, int opt, const in6_addr& group, unsigned ifindex) {
  ipv6_mreq m{};
  m.ipv6mr_multiaddr = group;
  m.ipv6mr_interface = ifindex;
  return setsockopt(fd, IPPROTO_IPV6, opt, &m, sizeof m) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: raw_multicast IFACE PORT WINDOW GROUPS_FILE\n");
    return 2;
  }
  const unsigned ifindex = if_nametoindex(argv[1]);
  const int port = atoi(argv[2]);
  const size_t window = static_cast<size_t>(atoi(argv[3]));
  if (ifindex == 0 || port <= 0 || window == 0) {
    fprintf(stderr, "raw_multicast: bad interface, port or window\n");
    return 2;
  }
  std::vector<Object> objects;
  std::ifstream in(argv[4]);
  std::string addr;
  uint64_t size;
  while (in >> addr >> size) {
    Object o{};
    o.size = size;
    if (inet_pton(AF_INET6, addr.c_str(), &o.group) != 1) {
      fprintf(stderr, "raw_multicast: bad group %s\n", addr.c_str());
      return 2;
    }
    objects.push_back(o);
  }
  const int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int one = 1, zero = 0, rcvbuf = 32 << 20;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &zero, sizeof zero);
  // An exporter that stops sending ends the run instead of hanging it.
  const timeval quiet{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &quiet, sizeof quiet);
  sockaddr_in6 local{};
  local.sin6_family = AF_INET6;
  local.sin6_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    perror("raw_multicast: bind");
    return 1;
  }
  // Joined objects by group, and the next object to join.
  std::map<std::string, size_t> joined;
  size_t next = 0, finished = 0;
  uint64_t packets = 0, bytes = 0;
  auto key = [](const in6_addr& a) { return std::string(reinterpret_cast<const char*>(&a), 16); };
  auto fill = [&] {
    while (joined.size() < window && next < objects.size()) {
      Object& o = objects[next];
      if (!Membership(fd, IPV6_JOIN_GROUP, o.group, ifindex)) {
        perror("raw_multicast: join");
        exit(1);
      }
      o.joined = true;
      joined[key(o.group)] = next++;
    }
  };
  std::vector<char> buffers(kBatch * 2048);
  std::vector<char> controls(kBatch * 256);
  std::vector<mmsghdr> msgs(kBatch);
  std::vector<iovec> iovs(kBatch);
  const auto start = std::chrono::steady_clock::now();
  fill();
  while (finished < objects.size()) {
    for (size_t i = 0; i < kBatch; ++i) {
      iovs[i] = {buffers.data() + i * 2048, 2048};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_control = controls.data() + i * 256;
      msgs[i].msg_hdr.msg_controllen = 256;
    }
    const int n = recvmmsg(fd, msgs.data(), kBatch, MSG_WAITFORONE, nullptr);
    if (n < 0) {
      perror("raw_multicast: recvmmsg (no packet for 10 s?)");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      const size_t len = msgs[i].msg_len;
      if (len <= kHeader) continue;
      in6_addr dst{};
      for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c))
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
          dst = reinterpret_cast<in6_pktinfo*>(CMSG_DATA(c))->ipi6_addr;
      auto it = joined.find(key(dst));
      if (it == joined.end()) continue;  // a group just left
      Object& o = objects[it->second];
      ++packets;
      bytes += len;
      const uint64_t symbol = len - kHeader;
      if (++o.packets < (o.size + symbol - 1) / symbol) continue;
      o.done = true;
      ++finished;
      Membership(fd, IPV6_LEAVE_GROUP, o.group, ifindex);
      joined.erase(it);
      fill();
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t object_bytes = 0;
  for (const Object& o : objects) object_bytes += o.size;
  printf("objects %zu bytes %llu packets %llu seconds %.3f MiB/s %.1f\n", objects.size(),
         static_cast<unsigned long long>(object_bytes), static_cast<unsigned long long>(packets),
         seconds, object_bytes / seconds / 1048576);
  close(fd);
  return 0;
}
