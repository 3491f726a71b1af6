// LinkMonitor: interface events from the kernel (rtnetlink), so a
// long-lived process follows links that go down and come back, interfaces
// that vanish or appear, and IPv6 addresses that come and go.
//
//   auto links = net::LinkMonitor::Open();   // in the calling thread's namespace
//   ... epoll on links->fd(); when readable:
//   std::vector<net::LinkEvent> events;
//   auto lost = links->Read(&events);        // true: events were lost, look again
// or, to hand each event to its handler:
//   Status s = links->Dispatch({.link = ..., .link_gone = ..., .lost = Rescan});
//
// The messages are parsed here (ParseLinkMessages, fuzzed by
// tests/fuzz/net_link_fuzz.cc): only the link header, its name attribute
// and the address header are read, each checked against the lengths the
// message states. Not thread-safe: one thread uses a monitor.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "lcfs/status.h"
#include "lcfs/unique_fd.h"

namespace lcfs::net {

struct LinkEvent {
  enum class Kind : uint8_t {
    kLink,      // a link appeared or changed (flags, name)
    kLinkGone,  // a link was deleted
    kAddress,   // an IPv6 address was added or changed on `ifindex`
    kAddressGone,
  };
  Kind kind = Kind::kLink;
  int ifindex = 0;
  std::string name;    // links, when the message carries it
  unsigned flags = 0;  // links: IFF_UP, IFF_RUNNING, IFF_MULTICAST, IFF_LOOPBACK...
};

// Appends the events of one buffer of rtnetlink messages (what one recv
// returned). Other message types are skipped; a malformed message ends the
// buffer and counts in *malformed.
void ParseLinkMessages(std::span<const uint8_t> bytes, std::vector<LinkEvent>* out,
                       uint64_t* malformed);

// What a follower of the interfaces does with each kind of event. An empty
// handler ignores its kind. Address removals are not dispatched: the link
// going down says more, and a send from a removed address fails by itself.
struct LinkHandlers {
  std::function<void(const LinkEvent&)> link = nullptr;  // kLink: appeared or changed
  std::function<void(int ifindex)> link_gone = nullptr;
  std::function<void(int ifindex)> address = nullptr;  // an IPv6 address added or changed
  std::function<void()> lost = nullptr;  // events were lost: look at every interface again
};

// Calls the handler of each event in order, then `lost` if `lost_some`.
void DispatchLinkEvents(const std::vector<LinkEvent>& events, bool lost_some,
                        const LinkHandlers& handlers);

class LinkMonitor {
 public:
  // A NETLINK_ROUTE socket subscribed to link and IPv6 address changes.
  static Result<LinkMonitor> Open();
  LinkMonitor(LinkMonitor&&) noexcept = default;
  LinkMonitor& operator=(LinkMonitor&&) noexcept = default;

  int fd() const { return fd_.get(); }
  // Appends the events waiting. True if the kernel dropped some (its buffer
  // overran): the caller should look at the interfaces again.
  Result<bool> Read(std::vector<LinkEvent>* out);
  // Reads the events waiting and dispatches them (DispatchLinkEvents). An
  // error is the socket's; no handler was called then.
  Status Dispatch(const LinkHandlers& handlers);
  uint64_t malformed() const { return malformed_; }

 private:
  LinkMonitor() = default;
  UniqueFd fd_;
  uint64_t malformed_ = 0;
};

}  // namespace lcfs::net
