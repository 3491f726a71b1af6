// lcfs-relay between two LANs of the testbed:
//
//   h0 exporter ── LAN A (br0) ── lan0 h1 relay lan1 ── LAN B (br1) ── h2 reader
//
// A reader behind the relay syncs a tree that matches byte for byte while the
// exporter hears MLD reports for lcfs groups from the relay only; garbage
// sent upstream on a relayed group never reaches LAN B and is counted; with
// the exporter killed, the reader times out as it does on the exporter's own
// link.
#include <gtest/gtest.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "common/wait.h"
#include "lcfs/hash.h"
#include "lcfs/net/address.h"
#include "lcfs/net/group.h"
#include "lcfs/net/multicast_socket.h"
#include "lcfs/net/packet.h"
#include "lcfs/unique_fd.h"
#include "testbed/testbed.h"
#include "unit/sync/tree_listing.h"

namespace lcfs::relay {
namespace {

using lcfs::sync::testing::ScratchDir;
using lcfs::sync::testing::TreeListing;
using lcfs::sync::testing::WriteAll;
using lcfs::testing::RandomString;
using lcfs::testing::WaitUntil;

const std::string kExport = LCFS_TOOLS_DIR "/lcfs-export";
const std::string kSync = LCFS_TOOLS_DIR "/lcfs-sync";
const std::string kRelay = LCFS_TOOLS_DIR "/lcfs-relay";
constexpr uint64_t kChunk = 1 << 20;  // the exporter's default

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testbed::HaveTestbedPrivileges()) GTEST_SKIP() << "needs root";
    for (const auto& tool : {kExport, kSync, kRelay})
      ASSERT_TRUE(std::filesystem::exists(tool)) << tool << " not built";
    testbed::TestbedOptions o;
    o.hosts = 3;
    o.lans = 2;
    o.host_lans = {0, 0, 1};
    o.extra_links = {{.host = 1, .lan = 1}};
    auto bed = testbed::Testbed::Create(o);
    ASSERT_TRUE(bed.ok()) << bed.status().ToString();
    bed_ = std::move(bed).value();
  }

  testbed::Host& exporter_host() { return bed_->host(0); }
  testbed::Host& relay_host() { return bed_->host(1); }
  testbed::Host& reader_host() { return bed_->host(2); }

  std::string StartExporter(const std::string& dir, const std::string& rate = "1G") {
    auto p = exporter_host().Spawn({kExport, "--iface", "lan0", "--no-watch", "--rate", rate,
                                    "--mld-query-interval", "1s", "--quiet", dir});
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    exporter_.emplace(std::move(p).value());
    std::string out;
    WaitUntil(
        [&] {
          out = exporter_->Stdout();
          return out.find('\n') != std::string::npos || !exporter_->running();
        },
        std::chrono::seconds(30));
    if (auto nl = out.find('\n'); nl != std::string::npos) return out.substr(0, nl);
    ADD_FAILURE() << "lcfs-export printed no HASH: " << exporter_->Stderr();
    return "";
  }

  void StartRelay() {
    auto p = relay_host().Spawn(
        {kRelay, "--upstream", "lan0", "--downstream", "lan1", "--mld-query-interval", "1s"});
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    relay_.emplace(std::move(p).value());
    ASSERT_TRUE(WaitUntil(
        [&] {
          return relay_->Stderr().find("relaying lan0 -> lan1") != std::string::npos ||
                 !relay_->running();
        },
        std::chrono::seconds(30)));
    ASSERT_TRUE(relay_->running()) << relay_->Stderr();
  }

  // Stops the relay (SIGTERM) and returns its final counter `name`.
  uint64_t StopRelayAndCount(const std::string& name) {
    if (relay_->running()) {
      int st = relay_->Stop(SIGTERM, std::chrono::seconds(10));
      EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << testbed::DescribeWaitStatus(st);
    }
    std::smatch m;
    const std::string err = relay_->Stderr();
    if (!std::regex_search(err, m, std::regex(" " + name + " ([0-9]+)"))) {
      ADD_FAILURE() << "no counter " << name << " in: " << err;
      return 0;
    }
    return std::stoull(m[1]);
  }

  std::unique_ptr<testbed::Testbed> bed_;
  std::optional<testbed::Subprocess> exporter_, relay_;
};

// A raw ICMPv6 socket in `host` joined to all-MLDv2-routers on lan0, as the
// exporter's snooper: every MLDv2 report on LAN A arrives here.
UniqueFd MldListener(const testbed::Host& host) {
  auto guard = host.Enter();
  EXPECT_TRUE(guard.ok());
  UniqueFd raw(socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMPV6));
  EXPECT_TRUE(raw.valid()) << strerror(errno);
  int big = 8 << 20;
  setsockopt(raw.get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  ipv6_mreq mr{};
  mr.ipv6mr_multiaddr = net::Ipv6Address::Parse("ff02::16")->ToIn6();
  mr.ipv6mr_interface = static_cast<unsigned>(host.ifindex());
  EXPECT_EQ(setsockopt(raw.get(), IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof mr), 0);
  return raw;
}

// The sources of the MLDv2 reports waiting on `raw` that carry a record for
// an lcfs group (prefix ff1e).
std::set<std::string> LcfsReporters(int raw) {
  std::set<std::string> from;
  for (;;) {
    uint8_t buf[1500];
    sockaddr_in6 src{};
    socklen_t slen = sizeof src;
    ssize_t n = recvfrom(raw, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&src), &slen);
    if (n < 0) break;
    if (n < 8 || buf[0] != 143) continue;
    size_t records = static_cast<size_t>(buf[6] << 8 | buf[7]), off = 8;
    for (size_t r = 0; r < records && off + 20 <= static_cast<size_t>(n); ++r) {
      size_t aux = buf[off + 1], nsrc = static_cast<size_t>(buf[off + 2] << 8 | buf[off + 3]);
      if (buf[off + 4] == 0xff && buf[off + 5] == 0x1e)
        from.insert(net::Ipv6Address::FromIn6(src.sin6_addr).ToString());
      off += 20 + 16 * nsrc + 4 * aux;
    }
  }
  return from;
}

void MakeTree(const ScratchDir& src) {
  for (int i = 0; i < 20; ++i) WriteAll(src / ("f" + std::to_string(i)), RandomString(3000 + i, i));
  WriteAll(src / "sub/big", RandomString(5 * kChunk + 3, 99));
  WriteAll(src / "sub/empty", "");
  symlink("sub/big", (src / "link").c_str());
}

TEST_F(RelayTest, ReaderBehindTheRelaySyncsTheTreeAndTheExporterHearsOnlyTheRelay) {
  UniqueFd mld = MldListener(exporter_host());
  ScratchDir src, dst;
  MakeTree(src);
  const std::string hash = StartExporter(src.path());
  ASSERT_EQ(hash.size(), 64u);
  StartRelay();

  auto sync = reader_host().Spawn({kSync, "--iface", "lan0", "--timeout", "20", hash, dst.path()});
  ASSERT_TRUE(sync.ok());
  auto status = sync->Wait(std::chrono::seconds(120));
  ASSERT_TRUE(status.has_value()) << "lcfs-sync did not exit";
  ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << testbed::DescribeWaitStatus(*status) << sync->Stderr();
  EXPECT_EQ(TreeListing(dst.path()), TreeListing(src.path()));

  // Every lcfs join the exporter's link carried came from the relay.
  const std::set<std::string> reporters = LcfsReporters(mld.get());
  EXPECT_EQ(reporters, std::set<std::string>{relay_host().link_local_str()});

  EXPECT_GT(StopRelayAndCount("forwarded"), 5 * kChunk / 1452);
  EXPECT_GE(StopRelayAndCount("upstream-joins"), 1u);
  EXPECT_EQ(StopRelayAndCount("join-failures"), 0u);
  EXPECT_EQ(StopRelayAndCount("malformed"), 0u);
}

TEST_F(RelayTest, GarbageUpstreamIsDroppedAndCountedNeverForwarded) {
  StartRelay();
  const Hash object = Sha256Of("relay test object");
  const net::Ipv6Address group = net::GroupAddress(object);

  // The reader joins the object's group behind the relay.
  std::optional<net::MulticastSocket> reader;
  {
    auto guard = reader_host().Enter();
    ASSERT_TRUE(guard.ok());
    auto s = net::MulticastSocket::Open({.port = net::kDefaultPort});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    reader.emplace(std::move(*s));
    ASSERT_TRUE(reader->Join(group, reader_host().ifindex()).ok());
  }
  // A host on LAN A sends garbage, then a valid packet, on that group, again
  // and again until the reader gets something: the relay joins upstream
  // once it has seen the reader's report.
  std::optional<net::MulticastSocket> sender;
  {
    auto guard = exporter_host().Enter();
    ASSERT_TRUE(guard.ok());
    auto s = net::MulticastSocket::Open({.send_ifindex = exporter_host().ifindex()});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    sender.emplace(std::move(*s));
    sender->set_destination_port(net::kDefaultPort);
  }
  net::PacketHeader h;
  h.object_id = net::ObjectIdOf(object);
  h.oti = {0, 0, 0, 0, 4, 0, 0, 4, 1, 0, 1, 4};  // F = 4, T = 4, Z = 1, N = 1, Al = 4
  auto valid = net::EncodePacket(h, std::vector<uint8_t>{'a', 'b', 'c', 'd'});
  ASSERT_TRUE(valid.ok());
  std::vector<uint8_t> garbage = *valid;
  garbage[0] = 'X';                                                     // bad magic
  std::vector<uint8_t> short_one(valid->begin(), valid->begin() + 20);  // too short
  std::vector<uint8_t> got;
  const bool received = WaitUntil(
      [&] {
        std::vector<net::OutgoingDatagram> out = {{.group = group, .data = garbage},
                                                  {.group = group, .data = short_one},
                                                  {.group = group, .data = *valid}};
        (void)sender->Send(out);
        std::array<uint8_t, 2048> buf;
        std::array<net::IncomingDatagram, 1> in{net::IncomingDatagram{.buffer = buf}};
        pollfd p{reader->fd(), POLLIN, 0};
        if (poll(&p, 1, 20) != 1) return false;
        auto n = reader->Receive(in);
        if (!n.ok() || *n == 0) return false;
        got.assign(buf.begin(), buf.begin() + static_cast<long>(in[0].length));
        EXPECT_EQ(in[0].source, net::Ipv6Address::FromIn6(relay_host().interfaces()[1].link_local))
            << "forwarded from the relay's own downstream address";
        return true;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(0));
  ASSERT_TRUE(received) << relay_->Stderr();
  EXPECT_EQ(got, *valid) << "the first datagram behind the relay is the valid one";
  EXPECT_GE(StopRelayAndCount("malformed"), 2u);
}

TEST_F(RelayTest, ExporterKilledTheReaderBehindTheRelayTimesOut) {
  ScratchDir src, dst;
  WriteAll(src / "a", RandomString(3000, 1));
  WriteAll(src / "big", RandomString(24 << 20, 2));
  const std::string hash = StartExporter(src.path(), "40M");  // ~5 s for big
  ASSERT_EQ(hash.size(), 64u);
  StartRelay();
  auto sync = reader_host().Spawn(
      {kSync, "--iface", "lan0", "--timeout", "1", "--window", "4", hash, dst.path()});
  ASSERT_TRUE(sync.ok());
  // Bounded wait until big is being written behind the relay.
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (auto& e : std::filesystem::directory_iterator(dst.path()))
          if (e.path().filename().string().rfind(".lcfs-sync.big", 0) == 0) return true;
        return !sync->running();
      },
      std::chrono::seconds(60)));
  ASSERT_TRUE(sync->running()) << sync->Stderr();
  exporter_->Stop(SIGKILL, std::chrono::seconds(1));
  const auto killed = std::chrono::steady_clock::now();
  auto status = sync->Wait(std::chrono::seconds(30));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 3)
      << testbed::DescribeWaitStatus(*status) << sync->Stderr();
  EXPECT_NE(sync->Stderr().find("timed out"), std::string::npos) << sync->Stderr();
  // Its timeout is 1 s a fetch: well under 10 s even on a loaded machine.
  EXPECT_LT(std::chrono::steady_clock::now() - killed, std::chrono::seconds(10));
  EXPECT_FALSE(std::filesystem::exists(dst / "big"));
  EXPECT_TRUE(relay_->running()) << "the relay outlives its exporter";
}

TEST(RelayUnit, UnitInDocsPassesSystemdAnalyzeVerify) {
  if (::access("/usr/bin/systemd-analyze", X_OK) != 0) GTEST_SKIP() << "no systemd-analyze";
  ScratchDir dir;
  std::ifstream in(std::string(LCFS_SOURCE_DIR) + "/docs/lcfs-relay.service");
  std::stringstream unit;
  unit << in.rdbuf();
  // ExecStart= must name an executable that exists here: the built one.
  const std::string text =
      std::regex_replace(unit.str(), std::regex("/usr/local/bin/lcfs-relay"), kRelay);
  ASSERT_NE(text, unit.str()) << "the unit no longer runs /usr/local/bin/lcfs-relay";
  std::ofstream(dir / "lcfs-relay.service") << text;
  std::string out;
  // Warnings do not change the exit status: the output must be empty too.
  Status st = testbed::RunCommand(
      {"sh", "-c",
       "cd " + dir.path() + " && systemd-analyze verify --man=no ./lcfs-relay.service 2>&1"},
      &out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out, "");
}

TEST(RelayUsage, BadCommandLinesAreUsageErrors) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"--upstream", "lo"},
           {"--downstream", "lo"},
           {"--upstream", "no-such-if0", "--downstream", "lo"},
           {"--upstream", "lo", "--downstream", "lo", "--rate", "fast"},
           {"--upstream", "lo", "--downstream", "lo", "extra"}}) {
    std::vector<std::string> argv = {kRelay};
    argv.insert(argv.end(), args.begin(), args.end());
    auto p = testbed::Subprocess::Spawn(argv);
    ASSERT_TRUE(p.ok());
    auto st = p->Wait(std::chrono::seconds(30));
    ASSERT_TRUE(st.has_value());
    EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 2)
        << testbed::DescribeWaitStatus(*st) << " for " << ::testing::PrintToString(args) << ": "
        << p->Stderr();
  }
}

}  // namespace
}  // namespace lcfs::relay
