// The exporter's view of listeners on a real kernel: hosts B and C join and
// leave an lcfs group with their kernels' MLD (v2, and v1 forced), and A's
// MldSnooper turns what it hears into join/leave events; A's querier makes
// the last leave end the group within the Last Listener Query Time, keeps
// reports flowing through a snooping bridge, sends queries tshark accepts,
// and keeps working after the process drops CAP_NET_RAW.
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <memory>

#include "lcfs/net/group.h"
#include "lcfs/net/mld_snooper.h"
#include "lcfs/net/multicast_socket.h"
#include "net/membership_table.h"
#include "net/mld_querier.h"
#include "net/mld_socket.h"
#include "testbed/testbed.h"

namespace lcfs::net {
namespace {

using testbed::Host;
using testbed::Testbed;
using testbed::TestbedOptions;
using Kind = MembershipEvent::Kind;

Ipv6Address TestGroup(uint8_t n) {
  Hash h;
  h.bytes[0] = n;
  return GroupAddress(h);
}

// Short intervals so each test takes seconds: a long query interval keeps
// General Queries out of the way, so only the specific queries after a
// leave decide when a group ends (LLQT = 200 ms, MALI = 11 s).
MldTimers TestTimers() {
  MldTimers t;
  t.query_interval = Millis(5000);
  t.query_response_interval = Millis(1000);
  t.last_listener_query_interval = Millis(100);
  t.last_listener_query_count = 2;
  t.startup_query_count = 1;
  t.startup_query_interval = Millis(1250);
  return t;
}

// A snooper in host A, pumped on the test thread as an event loop would.
class Snoop {
 public:
  static std::unique_ptr<Snoop> Open(const Host& host, MldSnooperOptions options) {
    auto s = std::make_unique<Snoop>();
    auto guard = host.Enter();
    EXPECT_TRUE(guard.ok()) << guard.status().ToString();
    if (options.interfaces.empty()) options.interfaces = {host.ifindex()};
    auto opened = MldSnooper::Open(
        options, [p = s.get()](const MembershipEvent& e) { p->events.push_back(e); });
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    if (!opened.ok()) return nullptr;
    s->snooper = std::move(*opened);
    return s;
  }

  // Runs the loop until `done` holds or `timeout` passes; returns done().
  bool PumpUntil(const std::function<bool()>& done, Millis timeout) {
    const MldTime end = MldClock::now() + timeout;
    for (;;) {
      if (done()) return true;
      MldTime now = MldClock::now();
      if (now >= end) return false;
      snooper->ProcessTimers(now);
      if (done()) return true;
      MldTime wake = end;
      if (auto next = snooper->NextDeadline()) wake = std::min(wake, *next);
      const auto ms = std::chrono::ceil<Millis>(wake - MldClock::now()).count();
      pollfd p{snooper->fd(), POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(std::clamp<int64_t>(ms, 0, 1000))) > 0) {
        Status s = snooper->HandleReadable(MldClock::now());
        EXPECT_TRUE(s.ok()) << s.ToString();
      }
    }
  }
  void PumpFor(Millis d) {
    PumpUntil([] { return false; }, d);
  }

  std::vector<Kind> EventsFor(const Ipv6Address& group) const {
    std::vector<Kind> out;
    for (const auto& e : events)
      if (e.group == group) out.push_back(e.kind);
    return out;
  }
  bool Saw(const Ipv6Address& group, size_t n) const { return EventsFor(group).size() >= n; }

  std::unique_ptr<MldSnooper> snooper;
  std::vector<MembershipEvent> events;
};

// A receiver's socket in `host`, joined to `group` on lan0.
MulticastSocket JoinIn(const Host& host, const Ipv6Address& group) {
  auto guard = host.Enter();
  EXPECT_TRUE(guard.ok());
  auto s = MulticastSocket::Open({.port = kDefaultPort});
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  Status j = s->Join(group, host.ifindex());
  EXPECT_TRUE(j.ok()) << j.ToString();
  return std::move(*s);
}

class MldEventsTest : public ::testing::TestWithParam<int> {};

TEST_P(MldEventsTest, JoinsAndLeavesOfTwoListenersAreSeenInOrder) {
  LCFS_REQUIRE_TESTBED();
  const int version = GetParam();
  auto created = Testbed::Create({.hosts = 3});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  Testbed& bed = **created;
  Host &a = bed.host(0), &b = bed.host(1), &c = bed.host(2);
  if (version == 1) {
    ASSERT_TRUE(b.SetMldVersion(1).ok());
    ASSERT_TRUE(c.SetMldVersion(1).ok());
  }
  MldSnooperOptions opts;
  opts.timers = TestTimers();
  auto snoop = Snoop::Open(a, opts);
  ASSERT_TRUE(snoop);
  if (version == 1) {
    ASSERT_TRUE(snoop->snooper->receives_mldv1_reports());
  }
  const Ipv6Address g = TestGroup(1);

  MulticastSocket rb = JoinIn(b, g);
  ASSERT_TRUE(snoop->PumpUntil([&] { return snoop->Saw(g, 1); }, Millis(3000)))
      << "A never saw B's join";
  EXPECT_EQ(snoop->EventsFor(g), std::vector<Kind>{Kind::kJoin});
  for (const auto& e : snoop->events)
    if (e.group == g) {
      EXPECT_EQ(e.ifindex, a.ifindex());
    }

  MulticastSocket rc = JoinIn(c, g);
  snoop->PumpFor(Millis(500));
  EXPECT_EQ(snoop->EventsFor(g), std::vector<Kind>{Kind::kJoin}) << "C's join is no new event";

  // One of two listeners leaves: A queries the group, C answers, it lives.
  ASSERT_TRUE(rb.Leave(g, b.ifindex()).ok());
  snoop->PumpFor(Millis(1000));
  EXPECT_EQ(snoop->EventsFor(g), std::vector<Kind>{Kind::kJoin}) << "group ended with C listening";
  EXPECT_TRUE(snoop->snooper->table().HasListeners(a.ifindex(), g));

  // The last one leaves: with MLDv2 every leave is reported, so the group ends
  // within LLQT (plus the time reports take), long before the listening
  // interval would have ended it. An MLDv1 host sends Done only if it sent
  // the group's most recent report (RFC 2710 4); if B's report suppressed
  // C's, C leaves silently and the group ends when its listening interval
  // runs out, which is the most the test can ask of MLDv1.
  const auto left = MldClock::now();
  ASSERT_TRUE(rc.Leave(g, c.ifindex()).ok());
  const Millis bound = version == 1 ? opts.timers.listening_interval() + Millis(1000)
                                    : opts.timers.last_listener_query_time() + Millis(1000);
  ASSERT_TRUE(snoop->PumpUntil([&] { return snoop->Saw(g, 2); }, bound + Millis(2000)))
      << "the group did not end after the last leave";
  const auto took = std::chrono::duration_cast<Millis>(MldClock::now() - left);
  EXPECT_EQ(snoop->EventsFor(g), (std::vector<Kind>{Kind::kJoin, Kind::kLeave}));
  EXPECT_LE(took, bound);
  if (version == 2) {
    EXPECT_LT(took, opts.timers.listening_interval());
  }

  const MldCounters& n = snoop->snooper->counters();
  if (version == 1) {
    EXPECT_GT(n.v1_reports, 0u);
  } else {
    EXPECT_GT(n.v2_reports, 0u);
  }
  EXPECT_EQ(n.malformed, 0u);
  // Specific queries follow a reported leave, which MLDv1 may not send.
  if (version == 2) {
    EXPECT_GT(snoop->snooper->querier()->counters().specific_queries, 0u);
  }
  EXPECT_EQ(snoop->snooper->querier()->counters().send_errors, 0u);
}

INSTANTIATE_TEST_SUITE_P(Version, MldEventsTest, ::testing::Values(2, 1),
                         [](const auto& info) { return "MLDv" + std::to_string(info.param); });

// With bridge snooping on and a querier present, the bridge forwards
// reports only to router ports, which it learns from queries: our queries
// must make A's port one, or A would hear nothing.
TEST(MldQuerier, ReportsCrossASnoopingBridgeBecauseAIsQuerier) {
  LCFS_REQUIRE_TESTBED();
  auto created = Testbed::Create({.hosts = 3, .snooping = true});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  Testbed& bed = **created;
  Host &a = bed.host(0), &b = bed.host(1), &c = bed.host(2);
  MldSnooperOptions opts;
  opts.timers = MldTimers::Fast(Millis(1000));
  auto snoop = Snoop::Open(a, opts);
  ASSERT_TRUE(snoop);
  snoop->PumpFor(Millis(300));  // the start-up queries reach the bridge
  std::string mdb;
  ASSERT_TRUE(bed.RunInBridge({"bridge", "-d", "mdb", "show"}, &mdb).ok());
  EXPECT_NE(mdb.find("router ports on br0: p0"), std::string::npos)
      << "the bridge did not take A's port for a router port:\n"
      << mdb;

  const Ipv6Address g = TestGroup(2), other = TestGroup(5);
  MulticastSocket rb = JoinIn(b, g);
  MulticastSocket rc = JoinIn(c, other);
  ASSERT_TRUE(
      snoop->PumpUntil([&] { return snoop->Saw(g, 1) && snoop->Saw(other, 1); }, Millis(3000)))
      << "reports never reached A through the snooping bridge";
  ASSERT_TRUE(bed.RunInBridge({"bridge", "-d", "mdb", "show"}, &mdb).ok());
  // The bridge snoops too: B's group goes to B's port only.
  EXPECT_NE(mdb.find("port p1 grp " + g.ToString()), std::string::npos) << mdb;
  EXPECT_EQ(mdb.find("port p2 grp " + g.ToString()), std::string::npos) << mdb;
  // B leaves: the bridge forwards the leave to A too, and A's queries end
  // the group.
  ASSERT_TRUE(rb.Leave(g, b.ifindex()).ok());
  ASSERT_TRUE(snoop->PumpUntil([&] { return snoop->Saw(g, 2); }, Millis(3000)));
  EXPECT_EQ(snoop->EventsFor(g), (std::vector<Kind>{Kind::kJoin, Kind::kLeave}));
  EXPECT_EQ(snoop->EventsFor(other), std::vector<Kind>{Kind::kJoin});
}

// Our queries as a dissector sees them: valid MLDv2 queries, correct
// checksum, Router Alert, hop limit 1, link-local source.
TEST(MldQuerier, QueriesAreValidMldv2ForTshark) {
  LCFS_REQUIRE_TESTBED();
  if (access("/usr/bin/tshark", X_OK) != 0) GTEST_SKIP() << "tshark not installed";
  auto created = Testbed::Create({.hosts = 2});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  Testbed& bed = **created;
  Host &a = bed.host(0), &b = bed.host(1);
  auto dir = bed.MakeTempDir("tshark");
  ASSERT_TRUE(dir.ok());
  const std::string pcap = *dir + "/q.pcap";
  // Four queries from A: General Queries (start-up, then periodic) and the
  // two Multicast Address Specific Queries after B's leave. B speaks MLDv1,
  // so its Done is queried (an MLDv2 leave of a tracked host needs no query).
  // Filter: from A, hop-by-hop header (8 bytes) then ICMPv6 type 130.
  auto cap =
      a.Spawn({"tshark", "-i", "lan0", "-c", "4", "-w", pcap, "-f",
               "ip6 src host " + a.link_local_str() + " and ip6[6] == 0 and ip6[48] == 130"});
  ASSERT_TRUE(cap.ok()) << cap.status().ToString();
  // tshark says "Capturing on" once it listens: wait for that (bounded).
  for (int i = 0; i < 200 && cap->Stderr().find("Capturing on") == std::string::npos; ++i)
    cap->Wait(Millis(50));
  ASSERT_NE(cap->Stderr().find("Capturing on"), std::string::npos) << cap->Stderr();

  MldSnooperOptions opts;
  opts.timers = MldTimers::Fast(Millis(1000));
  auto snoop = Snoop::Open(a, opts);
  ASSERT_TRUE(snoop);
  snoop->PumpFor(Millis(1500));  // start-up General Queries
  const Ipv6Address g = TestGroup(3);
  ASSERT_TRUE(b.SetMldVersion(1).ok());
  MulticastSocket rb = JoinIn(b, g);
  ASSERT_TRUE(snoop->PumpUntil([&] { return snoop->Saw(g, 1); }, Millis(3000)));
  ASSERT_TRUE(rb.Leave(g, b.ifindex()).ok());
  ASSERT_TRUE(snoop->PumpUntil([&] { return snoop->Saw(g, 2); }, Millis(3000)));
  // tshark exits after 4 packets; keep querying until it has them.
  const bool captured =
      snoop->PumpUntil([&] { return cap->Wait(Millis(0)).has_value(); }, Millis(10000));
  const auto& sent = snoop->snooper->querier()->counters();
  ASSERT_TRUE(captured) << "tshark captured fewer than 4 queries: " << cap->Stderr() << "\nsent "
                        << sent.general_queries << " general, " << sent.specific_queries
                        << " specific";

  std::string text;
  Status read = a.Run({"tshark", "-r", pcap, "-V"}, &text);
  ASSERT_TRUE(read.ok()) << read.ToString();
  size_t queries = 0;
  for (size_t p = 0; (p = text.find("Multicast Listener Query", p)) != std::string::npos; ++p)
    ++queries;
  EXPECT_GE(queries, 3u) << text;
  EXPECT_NE(text.find("Multicast Address: " + g.ToString()), std::string::npos) << text;
  EXPECT_NE(text.find("Router Alert"), std::string::npos) << text;
  EXPECT_NE(text.find("Hop Limit: 1"), std::string::npos) << text;
  EXPECT_NE(text.find("[Checksum Status: Good]"), std::string::npos) << text;
  EXPECT_EQ(text.find("Malformed"), std::string::npos) << text;
  EXPECT_EQ(text.find("[Checksum Status: Bad]"), std::string::npos) << text;
  EXPECT_EQ(text.find("Expert Info (Error"), std::string::npos) << text;
}

// After the raw socket is open the process drops every capability and
// becomes nobody; snooping and querying go on.
TEST(MldSnooper, KeepsWorkingAfterDroppingPrivileges) {
  LCFS_REQUIRE_TESTBED();
  auto created = Testbed::Create({.hosts = 2});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  Testbed& bed = **created;
  Host &a = bed.host(0), &b = bed.host(1);
  MldSnooperOptions opts;
  opts.timers = MldTimers::Fast(Millis(400));
  auto snoop = Snoop::Open(a, opts);
  ASSERT_TRUE(snoop);
  const Ipv6Address g = TestGroup(4);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child: drop to nobody (clearing all capabilities), prove it can no
    // longer open a raw socket, then snoop and query with what it has.
    close(ready[0]);
    if (prctl(PR_SET_KEEPCAPS, 0) != 0 || setgroups(0, nullptr) != 0 ||
        setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
      _exit(10);
    const int raw = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    if (raw >= 0 || errno != EPERM) _exit(11);
    const uint64_t before = snoop->snooper->querier()->counters().general_queries;
    if (write(ready[1], "r", 1) != 1) _exit(12);
    const bool joined = snoop->PumpUntil([&] { return snoop->Saw(g, 1); }, Millis(5000));
    // Two more query intervals: General Queries must still go out.
    snoop->PumpFor(Millis(900));
    const auto& q = snoop->snooper->querier()->counters();
    if (!joined) _exit(13);
    if (q.general_queries < before + 2) _exit(14);
    if (q.send_errors != 0) _exit(15);
    _exit(0);
  }
  close(ready[1]);
  char r = 0;
  ASSERT_EQ(read(ready[0], &r, 1), 1) << "child failed before it was ready";
  close(ready[0]);
  MulticastSocket rb = JoinIn(b, g);
  int status = 0;
  pid_t w = 0;
  for (int i = 0; i < 200 && (w = waitpid(child, &status, WNOHANG)) == 0; ++i) usleep(50'000);
  if (w == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
  }
  ASSERT_TRUE(WIFEXITED(status)) << "child did not finish";
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10: drop failed, 11: raw socket still allowed, 13: no join event, 14: no queries, "
         "15: query send errors";
}

// Without CAP_NET_RAW the snooper cannot start, and says why.
TEST(MldSnooper, ExplainsMissingCapability) {
  LCFS_REQUIRE_TESTBED();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (setresuid(65534, 65534, 65534) != 0) _exit(10);
    auto s = MldSocket::Open();
    if (s.ok()) _exit(11);
    if (s.status().message().find("CAP_NET_RAW") == std::string::npos) _exit(12);
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace lcfs::net
