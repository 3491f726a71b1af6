#include "lcfs/net/prompt_reporter.h"

#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <string>

#include "lcfs/net/interfaces.h"
#include "net/mld_message.h"
#include "net/mld_socket.h"

namespace lcfs::net {

namespace {

// What one report may carry: a 1280-byte IPv6 minimum MTU less the IPv6
// header (40), the hop-by-hop header (8) and the report's own header (8).
constexpr size_t kMaxReportRecordBytes = 1280 - 40 - 8 - 8;

Status SetInt(int fd, int level, int opt, int v, const char* name) {
  if (setsockopt(fd, level, opt, &v, sizeof v) != 0) return Status::FromErrno(errno, name);
  return Status::Ok();
}

}  // namespace

Result<PromptReporter> PromptReporter::Open() {
  PromptReporter r;
  r.fd_.reset(socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6));
  if (!r.fd_) return Status::FromErrno(errno, "raw ICMPv6 socket for prompt MLD reports");
  const int fd = r.fd_.get();
  // Send only: receive nothing.
  icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0)
    return Status::FromErrno(errno, "ICMP6_FILTER");
  LCFS_RETURN_IF_ERROR(SetInt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 1, "IPV6_MULTICAST_HOPS"));
  // Router Alert (RFC 2711, value 0 = MLD), as every MLD message carries:
  // padded to 8 bytes; a sticky option, which needs CAP_NET_RAW.
  const uint8_t hbh[8] = {0, 0, 5, 2, 0, 0, 1, 0};
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_HOPOPTS, hbh, sizeof hbh) != 0)
    return Status::FromErrno(errno, "IPV6_HOPOPTS (Router Alert)");
  return r;
}

Status PromptReporter::ReportJoins(int ifindex, std::span<const Ipv6Address> groups,
                                   const SourceFilter& filter) {
  if (groups.empty()) return Status::Ok();
  MldRecord proto;
  if (filter.mode == SourceFilter::Mode::kInclude) {
    proto.type = RecordType::kAllowNewSources;
  } else {
    proto.type = RecordType::kChangeToExclude;
  }
  proto.sources = filter.sources;
  const size_t record_bytes = 4 + 16 + 16 * proto.sources.size();
  const size_t per_message = std::max<size_t>(1, kMaxReportRecordBytes / record_bytes);

  std::vector<int> where;
  if (ifindex != 0) {
    where.push_back(ifindex);
  } else {
    auto ifs = MulticastInterfaces();
    if (!ifs.ok()) return ifs.status();
    for (const InterfaceInfo& i : *ifs) where.push_back(i.ifindex);
  }
  std::vector<MldRecord> records;
  Status first_error;
  for (size_t begin = 0; begin < groups.size(); begin += per_message) {
    records.clear();
    for (size_t i = begin; i < std::min(groups.size(), begin + per_message); ++i) {
      records.push_back(proto);
      records.back().group = groups[i];
    }
    const std::vector<uint8_t> message = EncodeMldv2Report(records);
    for (int ifi : where) {
      Status s = Send(ifi, message);
      if (!s.ok() && first_error.ok()) first_error = s;
    }
  }
  return first_error;
}

Status PromptReporter::Send(int ifindex, std::span<const uint8_t> message) {
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  to.sin6_addr = Ipv6Address::Parse(kAllMldv2Routers)->ToIn6();
  // The interface of a link-local destination; the kernel then takes the
  // interface's link-local address as the source, and computes the ICMPv6
  // checksum (always on for raw ICMPv6 sockets).
  to.sin6_scope_id = static_cast<uint32_t>(ifindex);
  ssize_t n;
  do {
    n = sendto(fd_.get(), message.data(), message.size(), MSG_DONTWAIT,
               reinterpret_cast<const sockaddr*>(&to), sizeof to);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    return Status::FromErrno(errno,
                             "send prompt MLD report on interface " + std::to_string(ifindex));
  ++reports_sent_;
  return Status::Ok();
}

}  // namespace lcfs::net
