#include <gtest/gtest.h>
#include <net/if.h>

#include <string>
#include <vector>

#include "lcfs/net/link_monitor.h"

namespace lcfs::net {
namespace {

LinkEvent Event(LinkEvent::Kind kind, int ifindex, std::string name = {}, unsigned flags = 0) {
  LinkEvent e;
  e.kind = kind;
  e.ifindex = ifindex;
  e.name = std::move(name);
  e.flags = flags;
  return e;
}

// Records each handler call as one line, in the order made.
struct Recorder {
  std::vector<std::string> calls;
  LinkHandlers Handlers() {
    return {
        .link =
            [this](const LinkEvent& e) {
              calls.push_back("link " + std::to_string(e.ifindex) + " " + e.name + " " +
                              std::to_string(e.flags));
            },
        .link_gone = [this](int ifindex) { calls.push_back("gone " + std::to_string(ifindex)); },
        .address = [this](int ifindex) { calls.push_back("address " + std::to_string(ifindex)); },
        .lost = [this] { calls.push_back("lost"); },
    };
  }
};

TEST(DispatchLinkEvents, EachKindReachesItsHandlerInOrder) {
  Recorder r;
  DispatchLinkEvents(
      {Event(LinkEvent::Kind::kLink, 3, "eth0", IFF_UP), Event(LinkEvent::Kind::kAddress, 3),
       Event(LinkEvent::Kind::kAddressGone, 3), Event(LinkEvent::Kind::kLinkGone, 4)},
      /*lost_some=*/false, r.Handlers());
  EXPECT_EQ(r.calls, (std::vector<std::string>{"link 3 eth0 " + std::to_string(IFF_UP), "address 3",
                                               "gone 4"}));
}

TEST(DispatchLinkEvents, LostEventsCallLostAfterTheEventsRead) {
  Recorder r;
  DispatchLinkEvents({Event(LinkEvent::Kind::kLinkGone, 7)}, /*lost_some=*/true, r.Handlers());
  EXPECT_EQ(r.calls, (std::vector<std::string>{"gone 7", "lost"}));
}

TEST(DispatchLinkEvents, EmptyHandlersIgnoreTheirKind) {
  std::vector<int> gone;
  DispatchLinkEvents({Event(LinkEvent::Kind::kLink, 1, "lo"), Event(LinkEvent::Kind::kAddress, 1),
                      Event(LinkEvent::Kind::kLinkGone, 2)},
                     /*lost_some=*/true,
                     {.link_gone = [&](int ifindex) { gone.push_back(ifindex); }});
  EXPECT_EQ(gone, std::vector<int>{2});
}

}  // namespace
}  // namespace lcfs::net
