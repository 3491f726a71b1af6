// MldSocket: the raw ICMPv6 socket the snooper listens on and the querier
// sends from.
//
// Opening it needs CAP_NET_RAW (the error says so); everything privileged
// is done in Open() — the Router Alert hop-by-hop option is set as a sticky
// option then — so the process may drop CAP_NET_RAW and switch user right
// after and keep working. It is joined to ff02::16 (MLDv2 reports) and ff02::2
// (MLDv1 Done) on each interface, reads IPV6_PKTINFO for the interface and
// IPV6_HOPLIMIT to reject off-link messages. MLDv1 Reports go to the group
// itself, which we have not joined: Open() also makes the socket the
// namespace's multicast-routing socket (MRT6_INIT) so the kernel hands us
// every MLD message, as it does for a multicast router; if another routing
// daemon holds that, only MLDv1 Reports are missed (receives_mldv1_reports).
//
// Not thread-safe: one thread at a time (the snooper's) uses it.
#pragma once

#include <cstdint>
#include <span>

#include "lcfs/net/address.h"
#include "lcfs/status.h"
#include "lcfs/unique_fd.h"

namespace lcfs::net {

inline constexpr char kAllMldv2Routers[] = "ff02::16";
inline constexpr char kAllRouters[] = "ff02::2";
inline constexpr char kAllNodes[] = "ff02::1";

class MldSocket {
 public:
  struct Received {
    std::span<const uint8_t> message;  // the ICMPv6 message, in the caller's buffer
    Ipv6Address source;
    Ipv6Address destination;
    int ifindex = 0;
    int hop_limit = -1;
  };

  // EPERM/EACCES: "needs CAP_NET_RAW".
  static Result<MldSocket> Open();
  MldSocket(MldSocket&&) noexcept = default;
  MldSocket& operator=(MldSocket&&) noexcept = default;

  int fd() const { return fd_.get(); }
  bool receives_mldv1_reports() const { return mroute_; }

  // Joins the MLD router groups on `ifindex`.
  Status AddInterface(int ifindex);
  // Reads one message into `buffer`; false if none is waiting.
  Result<bool> Receive(std::span<uint8_t> buffer, Received* out);
  // Sends an MLD message (the kernel computes the checksum) with hop limit 1
  // and Router Alert, from `source` (link-local) on `ifindex`.
  Status Send(int ifindex, const Ipv6Address& source, const Ipv6Address& destination,
              std::span<const uint8_t> message);

 private:
  MldSocket() = default;
  UniqueFd fd_;
  bool mroute_ = false;
};

}  // namespace lcfs::net
