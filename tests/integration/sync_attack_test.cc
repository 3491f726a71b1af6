// lcfs-sync against the real exporter while a third host attacks the groups
// it joins (issue 18 point 2, issue 14 point 4):
//  - under its own address, garbage under bogus OTIs on every group of the
//    tree, from before the exporter starts: what used to fill the reader's
//    decoder slots (EIO after 29 s, 1.1 GB resident);
//  - forging the exporter's address, one packet for each real one it hears:
//    alternately a copy with an altered tail and garbage at a position the
//    exporter sends shortly after (what used to stall a read until EIO).
// Each read is compared with the same read with the attacker host joined to
// every group but silent. The delay figures go to the test's output (the
// bound asserted here is generous: no error, well before the fetch timeout).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <random>
#include <regex>
#include <thread>

#include "common/testbed_fixture.h"
#include "common/wait.h"
#include "lcfs/fec/payload_id.h"
#include "lcfs/index/indexer.h"
#include "lcfs/net/group.h"
#include "lcfs/net/multicast_socket.h"
#include "lcfs/net/packet.h"
#include "lcfs/unique_fd.h"
#include "testbed/testbed.h"
#include "unit/sync/symbol_sender.h"
#include "unit/sync/tree_listing.h"

namespace lcfs::sync {
namespace {

using lcfs::testing::RandomString;
using testing::ScratchDir;
using testing::TreeListing;
using testing::WriteAll;
using namespace std::chrono_literals;

const std::string kExport = LCFS_TOOLS_DIR "/lcfs-export";
const std::string kSync = LCFS_TOOLS_DIR "/lcfs-sync";
constexpr uint64_t kChunk = 1 << 20;

// Joins every group of `objects` on `host` and, when `forge`, answers each
// packet the exporter sends with one forged under the exporter's address.
class Forger {
 public:
  Forger(const testbed::Host& host, const in6_addr& exporter,
         const std::vector<testing::Object>& objects, bool forge)
      : host_(host), exporter_(exporter), forge_(forge) {
    for (const auto& o : objects) groups_.push_back(net::GroupAddress(o.hash));
    thread_ = std::thread([this] { Run(); });
  }
  ~Forger() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t forged() const { return forged_.load(); }
  const Status& error() const { return error_; }

 private:
  void Run() {
    net::MulticastSocketOptions ro;
    ro.port = net::kDefaultPort;
    std::optional<testbed::NetnsGuard> guard;
    auto in = testing::SocketInHost(host_, ro, &guard);
    if (!in.ok()) {
      error_ = in.status();
      return;
    }
    for (const auto& g : groups_) {
      Status s = in->Join(g, host_.ifindex(), {});
      if (!s.ok()) {
        error_ = s;
        return;
      }
    }
    // A socket that sends under the exporter's address: IPV6_TRANSPARENT
    // lets it bind an address this host does not have.
    UniqueFd out(socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    const int one = 1, hops = 1;
    const unsigned ifindex = static_cast<unsigned>(host_.ifindex());
    sockaddr_in6 self{};
    self.sin6_family = AF_INET6;
    self.sin6_addr = exporter_;
    self.sin6_scope_id = ifindex;
    if (!out || setsockopt(out.get(), SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof one) != 0 ||
        setsockopt(out.get(), IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex) != 0 ||
        setsockopt(out.get(), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) != 0 ||
        bind(out.get(), reinterpret_cast<sockaddr*>(&self), sizeof self) != 0) {
      error_ = Status::FromErrno(errno, "forging socket");
      return;
    }
    net::Ipv6Address exporter;
    std::memcpy(exporter.bytes.data(), &exporter_, 16);
    std::mt19937 rng(7);
    std::vector<uint8_t> buffers(64 * 2048), packet(2048), symbol;
    std::vector<net::IncomingDatagram> datagrams(64);
    for (size_t i = 0; i < datagrams.size(); ++i)
      datagrams[i].buffer = std::span(buffers.data() + i * 2048, 2048);
    uint64_t n = 0;
    while (!stop_) {
      pollfd p{in->fd(), POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      auto got = in->Receive(datagrams);
      if (!got.ok()) continue;
      for (size_t i = 0; i < *got && forge_; ++i) {
        const auto& d = datagrams[i];
        net::PacketView view;
        if (d.source != exporter ||
            net::ParsePacket(d.buffer.first(d.length), &view) != net::PacketDrop::kNone)
          continue;
        net::PacketHeader h = view.header;
        symbol.assign(view.symbol.begin(), view.symbol.end());
        if (n++ % 2 == 0) {
          for (size_t b = symbol.size() > 8 ? symbol.size() - 8 : 0; b < symbol.size(); ++b)
            symbol[b] ^= 0xa5;  // the real packet, its tail altered
        } else {
          auto id = fec::PayloadId::Decode(h.payload_id).value();
          id.esi += 1 + rng() % 64;  // a position the exporter sends soon
          h.payload_id = id.Encode();
          for (auto& x : symbol) x = static_cast<uint8_t>(rng());
        }
        auto len = net::EncodePacket(h, symbol, packet);
        if (!len.ok()) continue;
        sockaddr_in6 to{};
        to.sin6_family = AF_INET6;
        to.sin6_port = htons(net::kDefaultPort);
        std::memcpy(&to.sin6_addr, d.destination.bytes.data(), 16);
        to.sin6_scope_id = ifindex;
        if (sendto(out.get(), packet.data(), *len, 0, reinterpret_cast<sockaddr*>(&to),
                   sizeof to) == static_cast<ssize_t>(*len))
          ++forged_;
      }
    }
  }

  const testbed::Host& host_;
  const in6_addr exporter_;
  const bool forge_;
  std::vector<net::Ipv6Address> groups_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> forged_{0};
  Status error_;
  std::thread thread_;
};

class SyncAttackTest : public lcfs::testing::ProgramsTestbedTest {
 protected:
  void SetUp() override {
    StartTestbed({kExport, kSync}, 3, "sync-attack");
    if (IsSkipped() || HasFatalFailure()) return;
    for (int i = 0; i < 12; ++i)
      WriteAll(src_ / ("f" + std::to_string(i)), RandomString(3000 + 7 * i, i));
    WriteAll(src_ / "sub/big", RandomString(6 * kChunk + 5, 42));
    index::IndexOptions io;
    io.chunk_size = kChunk;
    io.warn = [](const std::string&) {};
    auto index = index::IndexPath(src_.path(), io);
    ASSERT_TRUE(index.ok());
    ASSERT_TRUE(testing::CollectObjects(*index->mdex, index->root, src_.path(), &objects_).ok());
    root_ = index->root.ToHex();
  }

  // `quiet`: only errors; otherwise the exporter answers SIGUSR1 (SentBytes).
  void StartExporter(bool quiet = true) {
    std::vector<std::string> argv = {kExport,
                                     "--iface",
                                     "lan0",
                                     "--no-watch",
                                     "--no-index-cache",
                                     "--rate",
                                     "200M",
                                     "--mld-query-interval",
                                     "1s"};
    if (quiet) argv.push_back("--quiet");
    argv.push_back(src_.path());
    ASSERT_EQ(ProgramsTestbedTest::StartExporter(argv), root_) << exporter_->Stderr();
  }

  // What the exporter has sent so far on the wire (UDP payload plus 62
  // bytes of headers per packet), from its statistics line (SIGUSR1).
  uint64_t SentBytes() {
    const size_t before = exporter_->Stderr().size();
    kill(exporter_->pid(), SIGUSR1);
    std::smatch m;
    const std::regex line(R"(symbols sent (\d+), bytes sent (\d+))");
    std::string err;
    const bool answered = lcfs::testing::WaitUntil(
        [&] {
          err = exporter_->Stderr().substr(before);
          return std::regex_search(err, m, line);
        },
        10s);
    EXPECT_TRUE(answered) << "no statistics line: " << err;
    return answered ? std::stoull(m[2]) + 62 * std::stoull(m[1]) : 0;
  }

  Run Sync(const std::string& dest) {
    return RunOn(1, {kSync, "--iface", "lan0", "--timeout", "30", root_, dest}, 300s);
  }

  // Syncs into `dest` while host 2 joins every group, silent or, when
  // `forge`, forging the exporter's packets (Forger). *forged: the packets it
  // forged; *sent: the exporter's wire bytes meanwhile (needs
  // StartExporter(/*quiet=*/false)).
  Run SyncBesideForger(bool forge, const std::string& dest, uint64_t* forged = nullptr,
                       uint64_t* sent = nullptr) {
    Forger forger(bed_->host(2), bed_->host(0).link_local(), objects_, forge);
    const uint64_t before = sent ? SentBytes() : 0;
    Run run = Sync(dest);
    if (sent) *sent = SentBytes() - before;
    EXPECT_TRUE(forger.error().ok()) << forger.error().ToString();
    if (forged) *forged = forger.forged();
    return run;
  }

  // Both reads succeeded and the attacked one copied the tree.
  void ExpectCopied(const Run& alone, const Run& under, const std::string& attacked) {
    ASSERT_EQ(alone.code, 0) << alone.out << alone.err;
    ASSERT_EQ(under.code, 0) << under.out << under.err;
    EXPECT_EQ(TreeListing(src_.path()), TreeListing(attacked));
  }

  // A figure of lcfs-sync's "hostile:" summary line.
  static uint64_t Figure(const std::string& out, const std::string& what) {
    std::smatch m;
    if (!std::regex_search(out, m, std::regex(R"((\d+) )" + what))) return ~0ull;
    return std::stoull(m[1]);
  }
  static uint64_t PeakResident(const std::string& out) {
    std::smatch m;
    if (!std::regex_search(out, m, std::regex(R"(peak resident (\d+) bytes)"))) return ~0ull;
    return std::stoull(m[1]);
  }

  ScratchDir src_;
  std::vector<testing::Object> objects_;
  std::string root_;
};

TEST_F(SyncAttackTest, BogusOtisFromAThirdHostCostNeitherTimeNorMemory) {
  ScratchDir quiet, attacked;
  // Before the exporter's first packet: the hostile host floods every group.
  testing::SymbolSender::Options hostile;
  hostile.bogus_otis = 4;
  hostile.packets_per_second = 5000;
  hostile.burst = 1;
  auto sender = std::make_unique<testing::SymbolSender>(bed_->host(2), objects_, hostile);
  lcfs::testing::WaitUntil([&] { return sender->packets_sent() > 1000 || !sender->error().ok(); },
                           std::chrono::seconds(30));
  ASSERT_TRUE(sender->error().ok()) << sender->error().ToString();
  StartExporter();
  const Run under = Sync(attacked.path());
  sender.reset();
  const Run alone = Sync(quiet.path());

  ASSERT_NO_FATAL_FAILURE(ExpectCopied(alone, under, attacked.path()));
  EXPECT_GT(Figure(under.out, "packets of a wrong OTI"), 0u) << under.out;  // the attack ran
  // Generous bound here (a loaded CI machine); the figure is in the output.
  EXPECT_LT(under.seconds, alone.seconds + 10) << under.out;
  EXPECT_LT(PeakResident(under.out), 400u << 20) << under.out;
  printf("figure: bogus-OTI attack: alone %.2f s, attacked %.2f s (delay %+.2f s)\n%s",
         alone.seconds, under.seconds, under.seconds - alone.seconds, under.out.c_str());
}

TEST_F(SyncAttackTest, ForgedSourceAndBogusOtisTogetherOnlyDelayTheRead) {
  ScratchDir quiet, attacked;
  StartExporter();
  const Run alone = SyncBesideForger(/*forge=*/false, quiet.path());
  Run under;
  uint64_t forged = 0;
  {
    testing::SymbolSender::Options hostile;
    hostile.bogus_otis = 4;
    hostile.packets_per_second = 5000;
    hostile.burst = 1;
    testing::SymbolSender sender(bed_->host(2), objects_, hostile);
    under = SyncBesideForger(/*forge=*/true, attacked.path(), &forged);
  }
  ASSERT_NO_FATAL_FAILURE(ExpectCopied(alone, under, attacked.path()));
  EXPECT_GT(forged, 0u);
  EXPECT_GT(Figure(under.out, "conflicting symbols"), 0u) << under.out;
  EXPECT_LT(under.seconds, alone.seconds + 20) << under.out;
  EXPECT_LT(PeakResident(under.out), 400u << 20) << under.out;
  printf(
      "figure: forged source + bogus OTIs: %llu forged packets; alone %.2f s, attacked %.2f s "
      "(delay %+.2f s)\nalone:\n%sattacked:\n%s",
      static_cast<unsigned long long>(forged), alone.seconds, under.seconds,
      under.seconds - alone.seconds, alone.out.c_str(), under.out.c_str());
}

// Issue 14 point 4 alone: only the forger, one forged packet for each packet
// the exporter sends. Prints the figures bench/e2e/forged_source.sh takes
// medians of (read time and the exporter's wire bytes, alone and forged).
TEST_F(SyncAttackTest, ForgedSourceStallIsBounded) {
  ScratchDir quiet, attacked;
  StartExporter(/*quiet=*/false);
  uint64_t alone_bytes = 0, under_bytes = 0, forged = 0;
  const Run alone = SyncBesideForger(/*forge=*/false, quiet.path(), nullptr, &alone_bytes);
  const Run under = SyncBesideForger(/*forge=*/true, attacked.path(), &forged, &under_bytes);
  ASSERT_NO_FATAL_FAILURE(ExpectCopied(alone, under, attacked.path()));
  EXPECT_GT(forged, 0u);
  // (Whether forged packets reached the reader before each object completed
  // depends on the forger thread keeping up on a loaded machine: counted in
  // the figure, not asserted.)
  // Generous (a loaded 2-core machine); the tight figure is the bench's.
  EXPECT_LT(under.seconds, alone.seconds + 10) << under.out;
  printf(
      "figure: forged source: alone %.3f s %llu B, forged %.3f s %llu B, %llu forged packets, "
      "%llu conflicting symbols, %llu decodes retried\nforged:\n%s",
      alone.seconds, static_cast<unsigned long long>(alone_bytes), under.seconds,
      static_cast<unsigned long long>(under_bytes), static_cast<unsigned long long>(forged),
      static_cast<unsigned long long>(Figure(under.out, "conflicting symbols")),
      static_cast<unsigned long long>(Figure(under.out, "decodes retried")), under.out.c_str());
}

}  // namespace
}  // namespace lcfs::sync
