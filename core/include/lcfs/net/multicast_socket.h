// MulticastSocket: a non-blocking UDP/IPv6 socket for lcfs groups.
//
// RAII over the fd; joins and leaves groups on one interface or on every
// multicast-capable interface (ifindex 0, as share::Share takes it), with an
// optional RFC 3678 source filter (INCLUDE the allowed exporters, or EXCLUDE
// refused ones) that can be read back with getsourcefilter. Sends and
// receives in batches (sendmmsg/recvmmsg, UDP GSO for runs of equal-size
// datagrams to one group). Never blocks: poll/epoll fd() for EPOLLIN.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "lcfs/net/address.h"
#include "lcfs/status.h"
#include "lcfs/unique_fd.h"

namespace lcfs::net {

struct SourceFilter {
  enum class Mode : uint8_t { kInclude, kExclude };
  // EXCLUDE {} (the default) accepts every source, a plain any-source join.
  Mode mode = Mode::kExclude;
  std::vector<Ipv6Address> sources;

  static SourceFilter Include(std::vector<Ipv6Address> s) { return {Mode::kInclude, std::move(s)}; }
  static SourceFilter Exclude(std::vector<Ipv6Address> s) { return {Mode::kExclude, std::move(s)}; }
  bool operator==(const SourceFilter&) const = default;
};

struct MulticastSocketOptions {
  uint16_t port = 0;             // bound port; 0 for a send-only socket on an ephemeral port
  int hop_limit = 1;             // IPV6_MULTICAST_HOPS: stay on the link
  bool loop = false;             // IPV6_MULTICAST_LOOP: deliver our sends to local members
  int send_ifindex = 0;          // IPV6_MULTICAST_IF; 0 = the kernel's choice
  int receive_buffer = 8 << 20;  // SO_RCVBUF(FORCE), bytes; 0 = kernel default
  int send_buffer = 4 << 20;     // SO_SNDBUF(FORCE), bytes; 0 = kernel default
  // IPV6_MULTICAST_ALL off: receive only the groups this socket joined. By
  // default Linux also delivers, to every socket bound to the port, each
  // group any socket of the host joined (a reader's data on the exporter's
  // hello socket, say).
  bool only_joined_groups = false;
};

// One datagram to send: `data` to `group` on the socket's port (or `port`).
struct OutgoingDatagram {
  Ipv6Address group;
  std::span<const uint8_t> data;
  uint16_t port = 0;  // 0: the socket's configured destination port
};

// One buffer to receive into; Receive() fills the other fields.
struct IncomingDatagram {
  std::span<uint8_t> buffer;
  size_t length = 0;       // bytes received (<= buffer.size())
  bool truncated = false;  // the datagram was larger than the buffer
  Ipv6Address source{};
  uint16_t source_port = 0;
  Ipv6Address destination{};  // the group it was sent to (IPV6_PKTINFO)
  int ifindex = 0;            // the interface it arrived on
};

class MulticastSocket {
 public:
  static Result<MulticastSocket> Open(const MulticastSocketOptions& options);

  MulticastSocket(MulticastSocket&&) noexcept = default;
  MulticastSocket& operator=(MulticastSocket&&) noexcept = default;

  int fd() const { return fd_.get(); }
  uint16_t port() const { return port_; }  // bound port (actual, if 0 was asked)
  void set_destination_port(uint16_t p) { dest_port_ = p; }

  // Joins `group` on `ifindex` (0: every multicast-capable interface of the
  // calling thread's network namespace) with `filter`. Joining a group
  // already joined replaces its filter. Sources must be unicast.
  Status Join(const Ipv6Address& group, int ifindex, const SourceFilter& filter = {});
  // Leaves `group` on `ifindex` (0: on every interface it was joined on).
  Status Leave(const Ipv6Address& group, int ifindex);
  // Replaces the filter of a joined group (setsourcefilter).
  Status SetSourceFilter(const Ipv6Address& group, int ifindex, const SourceFilter& filter);
  // Reads the kernel's filter back (getsourcefilter); ifindex must not be 0.
  Result<SourceFilter> GetSourceFilter(const Ipv6Address& group, int ifindex) const;

  Status SetHopLimit(int hops);
  Status SetLoop(bool on);
  Status SetSendInterface(int ifindex);

  // Sends as many datagrams as the socket takes now (sendmmsg); returns the
  // count sent, 0 if the socket buffer is full (EAGAIN).
  Result<size_t> Send(std::span<const OutgoingDatagram> datagrams);
  // Sends `data` as consecutive `segment_size`-byte datagrams (the last may
  // be shorter) to one group, in one system call with UDP GSO where the
  // kernel has it, else with sendmmsg. Returns the bytes sent.
  Result<size_t> SendSegments(const Ipv6Address& group, std::span<const uint8_t> data,
                              size_t segment_size);
  // False once the kernel refused UDP GSO (SendSegments then uses sendmmsg).
  bool gso_available() const { return gso_ok_; }
  // Receives up to datagrams.size() waiting datagrams (recvmmsg); returns
  // the count, 0 if none is waiting.
  Result<size_t> Receive(std::span<IncomingDatagram> datagrams);

 private:
  MulticastSocket() = default;
  Status JoinOne(const Ipv6Address& group, int ifindex, const SourceFilter& filter);
  Status LeaveOne(const Ipv6Address& group, int ifindex);

  struct Membership {
    Ipv6Address group;
    int ifindex;
  };
  UniqueFd fd_;
  uint16_t port_ = 0;
  uint16_t dest_port_ = 0;
  bool gso_ok_ = true;
  std::vector<Membership> joined_;
};

}  // namespace lcfs::net
