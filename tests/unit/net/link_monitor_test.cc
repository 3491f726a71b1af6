#include "lcfs/net/link_monitor.h"

#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <vector>

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

// Appends one rtnetlink message: header, `body`, then `name` as an
// IFLA_IFNAME attribute when not empty; each part padded to 4 bytes.
void AppendMessage(std::vector<uint8_t>* buf, uint16_t type, const void* body, size_t size,
                   const std::string& name = "") {
  const size_t body_size = NLMSG_ALIGN(size);
  const size_t attr_size = name.empty() ? 0 : RTA_ALIGN(sizeof(rtattr) + name.size() + 1);
  nlmsghdr h{};
  h.nlmsg_len = static_cast<uint32_t>(sizeof h + body_size + attr_size);
  h.nlmsg_type = type;
  std::vector<uint8_t> m(h.nlmsg_len);
  std::memcpy(m.data(), &h, sizeof h);
  std::memcpy(m.data() + sizeof h, body, size);
  if (!name.empty()) {
    rtattr a{};
    a.rta_len = static_cast<uint16_t>(sizeof a + name.size() + 1);
    a.rta_type = IFLA_IFNAME;
    std::memcpy(m.data() + sizeof h + body_size, &a, sizeof a);
    std::memcpy(m.data() + sizeof h + body_size + sizeof a, name.c_str(), name.size() + 1);
  }
  buf->insert(buf->end(), m.begin(), m.end());
}

TEST(ParseLinkMessages, LinksAndIpv6AddressesMakeEventsAndAShortBodyEndsTheBuffer) {
  std::vector<uint8_t> buf;
  ifinfomsg link{};
  link.ifi_index = 5;
  link.ifi_flags = IFF_UP | IFF_MULTICAST;
  AppendMessage(&buf, RTM_NEWLINK, &link, sizeof link, "lan0");
  ifaddrmsg v4{};
  v4.ifa_family = AF_INET;
  v4.ifa_index = 5;
  AppendMessage(&buf, RTM_NEWADDR, &v4, sizeof v4);  // not IPv6: no event
  ifaddrmsg v6 = v4;
  v6.ifa_family = AF_INET6;
  AppendMessage(&buf, RTM_DELADDR, &v6, sizeof v6);
  AppendMessage(&buf, RTM_DELLINK, &link, 4);            // shorter than its ifinfomsg
  AppendMessage(&buf, RTM_DELLINK, &link, sizeof link);  // after the malformed one: not read
  std::vector<LinkEvent> events;
  uint64_t malformed = 0;
  ParseLinkMessages(buf, &events, &malformed);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, LinkEvent::Kind::kLink);
  EXPECT_EQ(events[0].ifindex, 5);
  EXPECT_EQ(events[0].name, "lan0");
  EXPECT_EQ(events[0].flags, unsigned{IFF_UP | IFF_MULTICAST});
  EXPECT_EQ(events[1].kind, LinkEvent::Kind::kAddressGone);
  EXPECT_EQ(events[1].ifindex, 5);
  EXPECT_EQ(malformed, 1u);
}

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
