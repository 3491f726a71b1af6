// lcfs across a router that forwards with the kernel's multicast routing,
// no relay (docs/protocol.md section 16):
//
//   h0 exporter ── LAN A (br0) ── lan0 h1 router lan1 ── LAN B (br1) ── h2 reader
//
// h1 forwards IPv6 and runs smcrouted (Debian's smcroute) with one static
// (*,G) route for the lcfs groups, ff1e::/16 from lan0 to lan1. The other
// half of what a site's router does, an MLD proxy (join on the exporter's
// link what LAN B listens to), is MldProxy below. The hosts have ULA
// addresses (fd00::/8, inside these namespaces only), so the exporter's
// packets leave with a source a router forwards. With the default hop limit
// (1) nothing crosses the router; with --hop-limit 2 the reader syncs a tree
// that matches, accepting only the exporter's ULA as source.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/testbed_fixture.h"
#include "common/wait.h"
#include "lcfs/net/group.h"
#include "lcfs/net/mld_snooper.h"
#include "lcfs/net/multicast_socket.h"
#include "testbed/testbed.h"
#include "unit/sync/tree_listing.h"

namespace lcfs {
namespace {

namespace st = lcfs::sync::testing;
using lcfs::testing::WaitUntil;

const std::string kSmcrouted = "/usr/sbin/smcrouted";
const std::string kSmcroutectl = "/usr/sbin/smcroutectl";
const std::string kExport = LCFS_TOOLS_DIR "/lcfs-export";
const std::string kSync = LCFS_TOOLS_DIR "/lcfs-sync";
constexpr char kExporterUla[] = "fd00:a::10";

// The MLD proxy's half of a router: MLD snooping and querying on the
// readers' link (`down`), and for each lcfs group with listeners there a
// join on the exporter's link (`up`), which the router's kernel reports
// there with MLD; a leave when the last listener leaves.
class MldProxy {
 public:
  static Result<std::unique_ptr<MldProxy>> Start(const testbed::Host& router, int up, int down) {
    auto guard = router.Enter();
    if (!guard.ok()) return guard.status();
    std::unique_ptr<MldProxy> p(new MldProxy());
    p->up_ = up;
    auto socket = net::MulticastSocket::Open({});
    if (!socket.ok()) return socket.status();
    p->socket_.emplace(std::move(*socket));
    net::MldSnooperOptions o;
    o.interfaces = {down};
    o.timers = net::MldTimers::Fast(std::chrono::seconds(1));
    o.group_filter = [](const net::Ipv6Address& g) { return net::HasGroupPrefix(g); };
    MldProxy* self = p.get();
    auto snooper = net::MldSnooper::Open(o, [self](const net::MembershipEvent& e) {
      // On the snooper's thread, the only one that touches socket_.
      if (e.kind == net::MembershipEvent::Kind::kJoin) {
        (void)self->socket_->Join(e.group, self->up_);
      } else {
        (void)self->socket_->Leave(e.group, self->up_);
      }
    });
    if (!snooper.ok()) return snooper.status();
    auto thread = net::MldSnooperThread::Start(std::move(*snooper));
    if (!thread.ok()) return thread.status();
    p->thread_ = std::move(*thread);
    return p;
  }
  ~MldProxy() {
    if (thread_) thread_->Stop();
  }

 private:
  MldProxy() = default;
  int up_ = 0;
  std::optional<net::MulticastSocket> socket_;
  std::unique_ptr<net::MldSnooperThread> thread_;  // last: stopped first
};

class RoutedTest : public lcfs::testing::ProgramsTestbedTest {
 protected:
  void SetUp() override {
    if (::access(kSmcrouted.c_str(), X_OK) != 0)
      GTEST_SKIP() << "no smcrouted (apt-get install smcroute)";
    testbed::TestbedOptions o;
    o.hosts = 3;
    o.lans = 2;
    o.host_lans = {0, 0, 1};
    o.extra_links = {{.host = 1, .lan = 1}};
    StartTestbed({kExport, kSync}, o, "routed");
    if (IsSkipped() || HasFatalFailure()) return;
    // ULAs (no DAD: usable at once), and forwarding on the router.
    ASSERT_NO_FATAL_FAILURE(Address(0, "lan0", std::string(kExporterUla) + "/64"));
    ASSERT_NO_FATAL_FAILURE(Address(1, "lan0", "fd00:a::1/64"));
    ASSERT_NO_FATAL_FAILURE(Address(1, "lan1", "fd00:b::1/64"));
    ASSERT_NO_FATAL_FAILURE(Address(2, "lan0", "fd00:b::20/64"));
    Status s = router().Run({"sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"});
    ASSERT_TRUE(s.ok()) << s.ToString();

    // smcrouted first: it must own the namespace's multicast routing socket
    // (the proxy's snooper then does without, as its MLDv2 needs nothing).
    auto dir = bed_->MakeTempDir("smcroute");
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    const std::string conf = *dir + "/smcroute.conf";
    socket_ = *dir + "/smcroute.sock";
    std::ofstream(conf) << "mroute from lan0 group ff1e::/16 to lan1\n";
    auto smcrouted = router().Spawn(
        {kSmcrouted, "-n", "-f", conf, "-u", socket_, "-P", *dir + "/smcroute.pid", "-l", "info"});
    ASSERT_TRUE(smcrouted.ok()) << smcrouted.status().ToString();
    smcrouted_.emplace(std::move(*smcrouted));
    ASSERT_TRUE(WaitUntil(
        [&] {
          return !smcrouted_->running() || router().Run({kSmcroutectl, "-u", socket_, "show"}).ok();
        },
        std::chrono::seconds(30)));
    ASSERT_TRUE(smcrouted_->running()) << smcrouted_->Stderr();

    auto proxy = MldProxy::Start(router(), router().interface("lan0")->ifindex,
                                 router().interface("lan1")->ifindex);
    ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
    proxy_ = std::move(*proxy);
  }

  void TearDown() override {
    proxy_.reset();
    if (smcrouted_ && smcrouted_->running()) smcrouted_->Stop(SIGTERM, std::chrono::seconds(10));
  }

  testbed::Host& router() { return bed_->host(1); }

  void Address(int host, const std::string& iface, const std::string& address) {
    Status s = bed_->host(host).Run({"ip", "-6", "addr", "add", address, "dev", iface, "nodad"});
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  std::string Export(const std::string& dir, const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {kExport,  "--iface", "lan0",    "--no-watch",
                                     "--rate", "200M",    "--quiet", "--mld-query-interval",
                                     "1s"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(dir);
    return StartExporter(argv);
  }

  std::string socket_;
  std::optional<testbed::Subprocess> smcrouted_;
  std::unique_ptr<MldProxy> proxy_;
};

TEST_F(RoutedTest, WithHopLimitTwoAReaderBehindAMulticastRouterSyncsTheTree) {
  st::ScratchDir src, dst1, dst2;
  st::WriteAll(src / "small", lcfs::testing::RandomString(3000, 1));
  st::WriteAll(src / "big", lcfs::testing::RandomString((3 << 20) + 5, 2));

  // Hop limit 1, the default: the router does not forward.
  std::string hash = Export(src.path(), {});
  ASSERT_EQ(hash.size(), 64u);
  Run run = RunOn(2, {kSync, "--iface", "lan0", "--timeout", "3", hash, dst1.path()},
                  std::chrono::seconds(60));
  EXPECT_EQ(run.code, 3) << run.err;
  EXPECT_NE(run.err.find("timed out"), std::string::npos) << run.err;
  exporter_->Stop(SIGTERM, std::chrono::seconds(10));

  // Hop limit 2: one router between exporter and reader. The reader takes
  // data from the exporter's ULA only: what crossed is the exporter's own.
  hash = Export(src.path(), {"--hop-limit", "2"});
  ASSERT_EQ(hash.size(), 64u);
  run = RunOn(
      2, {kSync, "--iface", "lan0", "--timeout", "20", "--source", kExporterUla, hash, dst2.path()},
      std::chrono::seconds(180));
  ASSERT_EQ(run.code, 0) << run.err << smcrouted_->Stderr();
  EXPECT_EQ(st::TreeListing(dst2.path()), st::TreeListing(src.path()));
}

TEST(RoutedUsage, AHopLimitOutOfRangeIsAUsageError) {
  for (const std::string bad : {"0", "256", "-1", "two", ""}) {
    auto p = testbed::Subprocess::Spawn({kExport, "--hop-limit", bad, "/"});
    ASSERT_TRUE(p.ok());
    auto st = p->Wait(std::chrono::seconds(30));
    ASSERT_TRUE(st.has_value());
    EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 2)
        << testbed::DescribeWaitStatus(*st) << " for '" << bad << "': " << p->Stderr();
    EXPECT_NE(p->Stderr().find("--hop-limit: \"" + bad + "\" is not from 1 to 255"),
              std::string::npos)
        << p->Stderr();
  }
}

}  // namespace
}  // namespace lcfs
