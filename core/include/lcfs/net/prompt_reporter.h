// PromptReporter: tells the link at once that this host has joined groups.
//
// A receiver's join becomes an MLDv2 report only when the kernel's MLD work
// runs: Linux queues the state-change report at least two jiffies after the
// join (8 ms at HZ=250), and later still on a busy host. The exporter reacts
// to a report in well under a millisecond, so that delay is most of the time
// a small object takes to arrive, and a chain of them (directory, tree node,
// chunk) pays it once per step. A receiver that may open a raw ICMPv6 socket
// (CAP_NET_RAW) therefore sends the same report itself right after the join:
// an MLDv2 report, hop limit 1, Router Alert, to ff02::16, from the link-local
// address of the interface, exactly what the kernel will send a few
// milliseconds later (docs/protocol.md section 10, "Prompt reports").
//
// Only joins are reported so: a report of a join is true whatever else this
// host listens to, while a leave is this host's to report only once no other
// socket of it still listens, which the kernel alone knows. Leaves keep the
// kernel's timing.
//
// Records: a plain join is CHANGE_TO_EXCLUDE {}; a join with an INCLUDE source
// filter is ALLOW_NEW_SOURCES (the sources), which only ever adds interest.
//
// Not thread-safe: one thread (the fetcher's) uses it.
#pragma once

#include <span>
#include <vector>

#include "lcfs/net/address.h"
#include "lcfs/net/multicast_socket.h"
#include "lcfs/status.h"
#include "lcfs/unique_fd.h"

namespace lcfs::net {

class PromptReporter {
 public:
  // EPERM or EACCES without CAP_NET_RAW: the caller goes on without prompt
  // reports (the kernel's come anyway).
  static Result<PromptReporter> Open();
  PromptReporter(PromptReporter&&) noexcept = default;
  PromptReporter& operator=(PromptReporter&&) noexcept = default;

  // Reports that this host now listens to `groups` (with `filter`) on
  // `ifindex`, or on every multicast-capable interface when it is 0, in as
  // few messages as fit the link's MTU. Errors of the send (a link that is
  // down) are returned; they cost nothing but the shortcut.
  Status ReportJoins(int ifindex, std::span<const Ipv6Address> groups,
                     const SourceFilter& filter = {});

  uint64_t reports_sent() const { return reports_sent_; }

 private:
  PromptReporter() = default;
  Status Send(int ifindex, std::span<const uint8_t> message);

  UniqueFd fd_;
  uint64_t reports_sent_ = 0;  // messages
};

}  // namespace lcfs::net
