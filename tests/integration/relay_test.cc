// lcfs-relay between two LANs of the testbed:
//
//   h0 exporter ─┬─ LAN A (br0) ─┬─ lan0 h1 relay lan1 ─┬─ LAN B (br1) ─┬─ h2 reader
//   h3 hostile  ─┘               └─ lan0 h4 relay lan1 ─┘               └─ h5 reader
//
// A reader behind the relay syncs a tree that matches byte for byte while the
// exporter hears MLD reports for lcfs groups from the relay only; garbage
// sent upstream on a relayed group never reaches LAN B and is counted; with
// the exporter killed, the reader times out as it does on the exporter's own
// link. With a cache, a second reader of a file costs the upstream link
// almost nothing, and a host upstream forging the file's objects changes no
// byte downstream nor in the relay's cache. Of two relays between the same
// links one serves, and the other carries a read through when it is killed.
// A reader that joins a group another reader's read already brought is owed
// a whole set, and readers that stay on cached groups starve no other group.
#include <gtest/gtest.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "common/testbed_fixture.h"
#include "common/wait.h"
#include "lcfs/fec/encoder.h"
#include "lcfs/fec/oti.h"
#include "lcfs/fec/payload_id.h"
#include "lcfs/hash.h"
#include "lcfs/net/address.h"
#include "lcfs/net/group.h"
#include "lcfs/net/multicast_socket.h"
#include "lcfs/net/packet.h"
#include "lcfs/object.h"
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

class RelayTest : public lcfs::testing::ProgramsTestbedTest {
 protected:
  void SetUp() override {
    testbed::TestbedOptions o;
    o.hosts = 6;
    o.lans = 2;
    o.host_lans = {0, 0, 1, 0, 0, 1};
    o.extra_links = {{.host = 1, .lan = 1}, {.host = 4, .lan = 1}};
    StartTestbed({kExport, kSync, kRelay}, o, "relay");
  }

  testbed::Host& exporter_host() { return bed_->host(0); }
  testbed::Host& relay_host() { return bed_->host(1); }
  testbed::Host& reader_host() { return bed_->host(2); }
  testbed::Host& hostile_host() { return bed_->host(3); }
  testbed::Host& second_relay_host() { return bed_->host(4); }
  testbed::Host& second_reader_host() { return bed_->host(5); }

  std::string Export(const std::string& dir, const std::string& rate = "1G") {
    return StartExporter({kExport, "--iface", "lan0", "--no-watch", "--rate", rate,
                          "--mld-query-interval", "1s", "--quiet", dir});
  }

  // Runs lcfs-sync on the reader host until it exits; a test failure unless
  // it copied the tree.
  void SyncBehindTheRelay(const std::string& hash, const std::string& dst, size_t host = 2) {
    const Run run = RunOn(host, {kSync, "--iface", "lan0", "--timeout", "20", hash, dst},
                          std::chrono::seconds(180));
    ASSERT_EQ(run.code, 0) << run.err;
  }

  // Starts lcfs-relay lan0 -> lan1 on `host` (the relay host) as `*process`
  // (relay_) and waits until it serves, or stands by for another relay.
  void StartRelay(const std::vector<std::string>& extra = {}, testbed::Host* host = nullptr,
                  std::optional<testbed::Subprocess>* process = nullptr) {
    if (!host) host = &relay_host();
    if (!process) process = &relay_;
    std::vector<std::string> argv = {kRelay, "--upstream",           "lan0", "--downstream",
                                     "lan1", "--mld-query-interval", "1s"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto p = host->Spawn(argv);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    process->emplace(std::move(p).value());
    testbed::Subprocess& r = **process;
    // The election's first decision is logged; alone, a relay serves.
    ASSERT_TRUE(WaitUntil(
        [&] {
          const std::string err = r.Stderr();
          return err.find("lcfs-relay: active") != std::string::npos ||
                 err.find("lcfs-relay: standby") != std::string::npos || !r.running();
        },
        std::chrono::seconds(30)))
        << r.Stderr();
    ASSERT_TRUE(r.running()) << r.Stderr();
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

  std::optional<testbed::Subprocess> relay_, relay2_;
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

// Waits (bounded) until lcfs-sync `sync` writes `file` into `dst`; false if
// it exited first.
bool SyncWritesFile(testbed::Subprocess& sync, const ScratchDir& dst, const std::string& file) {
  return WaitUntil(
             [&] {
               for (auto& e : std::filesystem::directory_iterator(dst.path()))
                 if (e.path().filename().string().rfind(".lcfs-sync." + file, 0) == 0) return true;
               return !sync.running();
             },
             std::chrono::seconds(60)) &&
         sync.running();
}

// The chunks of `content` (the exporter's default chunk size).
std::vector<std::string> Chunks(const std::string& content) {
  std::vector<std::string> chunks;
  for (size_t off = 0; off < content.size(); off += kChunk)
    chunks.push_back(content.substr(off, kChunk));
  return chunks;
}

TEST_F(RelayTest, ReaderBehindTheRelaySyncsTheTreeAndTheExporterHearsOnlyTheRelay) {
  UniqueFd mld = MldListener(exporter_host());
  ScratchDir src, dst;
  MakeTree(src);
  const std::string hash = Export(src.path());
  ASSERT_EQ(hash.size(), 64u);
  StartRelay();

  ASSERT_NO_FATAL_FAILURE(SyncBehindTheRelay(hash, dst.path()));
  EXPECT_EQ(TreeListing(dst.path()), TreeListing(src.path()));

  // Every lcfs join the exporter's link carried came from the relay.
  const std::set<std::string> reporters = LcfsReporters(mld.get());
  EXPECT_EQ(reporters, std::set<std::string>{relay_host().link_local_str()});

  EXPECT_GT(StopRelayAndCount("forwarded"), 5 * kChunk / 1452);
  EXPECT_GE(StopRelayAndCount("upstream-joins"), 1u);
  EXPECT_EQ(StopRelayAndCount("join-failures"), 0u);
  EXPECT_EQ(StopRelayAndCount("malformed"), 0u);
}

// A socket on the lcfs port in `host`, joined to `groups` on its lan0: a
// reader that does not read; nullopt (and a test failure) if it cannot be.
std::optional<net::MulticastSocket> JoinedSocket(const testbed::Host& host,
                                                 const std::vector<net::Ipv6Address>& groups) {
  auto guard = host.Enter();
  EXPECT_TRUE(guard.ok());
  auto s = net::MulticastSocket::Open({.port = net::kDefaultPort});
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!guard.ok() || !s.ok()) return std::nullopt;
  for (const net::Ipv6Address& g : groups) EXPECT_TRUE(s->Join(g, host.ifindex()).ok());
  return std::move(*s);
}

TEST_F(RelayTest, GarbageUpstreamIsDroppedAndCountedNeverForwarded) {
  StartRelay();
  const Hash object = Sha256Of("relay test object");
  const net::Ipv6Address group = net::GroupAddress(object);

  // The reader joins the object's group behind the relay.
  std::optional<net::MulticastSocket> reader = JoinedSocket(reader_host(), {group});
  ASSERT_TRUE(reader.has_value());
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
  const std::string hash = Export(src.path(), "40M");  // ~5 s for big
  ASSERT_EQ(hash.size(), 64u);
  StartRelay();
  auto sync = reader_host().Spawn(
      {kSync, "--iface", "lan0", "--timeout", "1", "--window", "4", hash, dst.path()});
  ASSERT_TRUE(sync.ok());
  // Bounded wait until big is being written behind the relay.
  ASSERT_TRUE(SyncWritesFile(*sync, dst, "big")) << sync->Stderr();
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

// Waits (bounded) until `host`'s lan0 sends nothing for half a second: the
// exporter has heard the relay's leaves and stopped.
uint64_t QuietTxBytes(testbed::Host& host) {
  uint64_t last = *host.InterfaceCounter("tx_bytes");
  WaitUntil(
      [&] {
        const uint64_t now = *host.InterfaceCounter("tx_bytes");
        const bool quiet = now - last < 2000;  // MLD queries, not symbols
        last = now;
        return quiet;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(500));
  return last;
}

Status CheckCache(const testbed::Host& host, const std::string& dir, std::string* out) {
  return host.Run({LCFS_TOOLS_DIR "/lcfs-cache", "check", dir}, out);
}

TEST_F(RelayTest, SecondReaderOfACachedFileCostsTheUpstreamLinkUnderATenthOfIt) {
  ScratchDir src, dst1, dst2, cache;
  const uint64_t size = 8 * kChunk + 5;
  WriteAll(src / "file", RandomString(size, 7));
  const std::string hash = Export(src.path(), "200M");
  ASSERT_EQ(hash.size(), 64u);
  StartRelay({"--cache", cache.path(), "--cache-size", "1G"});

  SyncBehindTheRelay(hash, dst1.path());
  const uint64_t before = QuietTxBytes(exporter_host());
  SyncBehindTheRelay(hash, dst2.path());
  const uint64_t upstream = QuietTxBytes(exporter_host()) - before;

  EXPECT_EQ(TreeListing(dst1.path()), TreeListing(src.path()));
  EXPECT_EQ(TreeListing(dst2.path()), TreeListing(src.path()));
  EXPECT_LT(upstream, size / 10) << "the exporter sent " << upstream
                                 << " bytes for the second read";
  std::string out;
  EXPECT_TRUE(CheckCache(relay_host(), cache.path(), &out).ok()) << out;
  // The second read was served from the cache: the root, the file's node
  // (or its only chunk) and its 9 chunks at least.
  EXPECT_GE(StopRelayAndCount("served-objects"), 9u);
  // During the first read, groups whose object verified went on from the
  // cache (their listeners had not all left yet).
  EXPECT_GE(StopRelayAndCount("taken-over"), 1u);
  EXPECT_GE(StopRelayAndCount("verified"), 9u);
  EXPECT_EQ(StopRelayAndCount("forged"), 0u);
}

TEST_F(RelayTest, EveryDatagramReceivedUpstreamIsForwardedOrCountedAsDropped) {
  // The symbol that completes an object at the relay is passed on too:
  // kept back (as it was), it left every reader one symbol short of the
  // relay's set, and each waited for a round of repair from the cache.
  ScratchDir src, dst, cache;
  WriteAll(src / "file", RandomString(4 * kChunk + 11, 51));
  const std::string hash = Export(src.path(), "200M");
  ASSERT_EQ(hash.size(), 64u);
  StartRelay({"--cache", cache.path()});
  SyncBehindTheRelay(hash, dst.path());
  EXPECT_EQ(TreeListing(dst.path()), TreeListing(src.path()));

  const uint64_t received = StopRelayAndCount("received");
  uint64_t accounted = 0;
  for (const char* c : {"forwarded", "send-dropped", "malformed", "truncated", "wrong-interface",
                        "unwanted", "over-rate", "forged-dropped", "standby-dropped"})
    accounted += StopRelayAndCount(c);
  // One downstream link: each datagram is forwarded (or fails to be) once.
  EXPECT_EQ(accounted, received);
  // The objects were relayed, then their groups served from the cache.
  EXPECT_GE(StopRelayAndCount("taken-over"), 5u);
}

TEST_F(RelayTest, AReaderJoiningAGroupAlreadyRelayedIsOwedAWholeSet) {
  // The exporter hears the relay only: a second reader that joins a group
  // the relay joined upstream for the first is invisible to it. The relay
  // counts it and, once the object verifies, sends a whole set from its
  // cache; the second reader's copy completes and matches.
  ScratchDir src, dst1, dst2, cache;
  WriteAll(src / "file", RandomString(16 * kChunk + 7, 31));
  const std::string hash = Export(src.path(), "40M");  // ~3.5 s for the file
  ASSERT_EQ(hash.size(), 64u);
  StartRelay({"--cache", cache.path()});
  auto first =
      reader_host().Spawn({kSync, "--iface", "lan0", "--timeout", "20", hash, dst1.path()});
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(SyncWritesFile(*first, dst1, "file")) << first->Stderr();
  ASSERT_NO_FATAL_FAILURE(SyncBehindTheRelay(hash, dst2.path(), 5));
  auto status = first->Wait(std::chrono::seconds(120));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << testbed::DescribeWaitStatus(*status) << first->Stderr();
  EXPECT_EQ(TreeListing(dst1.path()), TreeListing(src.path()));
  EXPECT_EQ(TreeListing(dst2.path()), TreeListing(src.path()));
  EXPECT_GE(StopRelayAndCount("newcomers"), 1u);
}

TEST_F(RelayTest, ReadersThatStayOnCachedGroupsStarveNoOtherGroupOfTheCache) {
  // Listeners that never leave get their groups streamed from the cache
  // without end; the relay's cached streams share one rate, and each must
  // still get its turns: a read of other cached objects completes. (The
  // 256 MiB benchmark stalled on one chunk behind such streams.)
  ScratchDir src, dst1, dst2, cache;
  const std::string held = RandomString(4 * kChunk, 41);
  WriteAll(src / "held", held);
  WriteAll(src / "file", RandomString(8 * kChunk + 3, 42));
  const std::string hash = Export(src.path(), "200M");
  ASSERT_EQ(hash.size(), 64u);
  StartRelay({"--cache", cache.path()});
  ASSERT_NO_FATAL_FAILURE(SyncBehindTheRelay(hash, dst1.path()));

  // The second reader host joins the groups of held's chunks and stays.
  std::vector<net::Ipv6Address> groups;
  for (const std::string& chunk : Chunks(held))
    groups.push_back(net::GroupAddress(
        ObjectHash(ObjectKind::kChunk,
                   std::span(reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()))));
  std::optional<net::MulticastSocket> stay = JoinedSocket(second_reader_host(), groups);
  ASSERT_TRUE(stay.has_value());
  ASSERT_NO_FATAL_FAILURE(SyncBehindTheRelay(hash, dst2.path()));
  EXPECT_EQ(TreeListing(dst2.path()), TreeListing(src.path()));
  EXPECT_GE(StopRelayAndCount("served-objects"), 4u + 9u);
}

// Sends, until stopped, on the group of each of `chunks`, under its id and
// canonical OTI, the encoding of other bytes of the same length (a forged
// object that decodes cleanly), mixed with datagrams that do not parse.
class Forger {
 public:
  Forger(const testbed::Host& host, const std::vector<std::string>& chunks) {
    auto guard = host.Enter();
    EXPECT_TRUE(guard.ok());
    auto s = net::MulticastSocket::Open({.send_ifindex = host.ifindex()});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return;
    socket_.emplace(std::move(*s));
    socket_->set_destination_port(net::kDefaultPort);
    for (size_t i = 0; i < chunks.size(); ++i) {
      const std::span<const uint8_t> real(reinterpret_cast<const uint8_t*>(chunks[i].data()),
                                          chunks[i].size());
      const Hash name = ObjectHash(ObjectKind::kChunk, real);
      const std::string fake = RandomString(chunks[i].size(), 1000 + i);
      auto oti = fec::OtiForObject(fake.size());
      EXPECT_TRUE(oti.ok());
      auto encoder = fec::ObjectEncoder::Create(
          *oti, std::span(reinterpret_cast<const uint8_t*>(fake.data()), fake.size()));
      EXPECT_TRUE(encoder.ok());
      net::PacketHeader h;
      h.object_id = net::ObjectIdOf(name);
      h.oti = oti->Encode();
      std::vector<uint8_t> symbol(oti->symbol_size);
      const uint32_t k = encoder->SourceSymbols(0);
      for (uint32_t esi = 0; esi < k + 8; ++esi) {
        h.payload_id = fec::PayloadId{.sbn = 0, .esi = esi}.Encode();
        EXPECT_TRUE(encoder->Symbol(0, esi, symbol).ok());
        auto packet = net::EncodePacket(h, symbol);
        EXPECT_TRUE(packet.ok());
        packets_.push_back({net::GroupAddress(name), std::move(*packet)});
        if (esi % 16 == 0)
          packets_.push_back({net::GroupAddress(name), std::vector<uint8_t>(40, 0xee)});
      }
    }
    thread_ = std::thread([this] { Flood(); });
  }
  ~Forger() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t sent() const { return sent_; }

 private:
  void Flood() {
    while (!stop_) {
      for (size_t i = 0; i < packets_.size() && !stop_; i += 32) {
        std::vector<net::OutgoingDatagram> batch;
        for (size_t j = i; j < std::min(packets_.size(), i + 32); ++j)
          batch.push_back({.group = packets_[j].first, .data = packets_[j].second});
        if (auto n = socket_->Send(batch); n.ok()) sent_ += *n;
        // About 40 Mbit/s, twice the exporter's rate: each forged object
        // arrives whole while its real one is being sent.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  }
  std::optional<net::MulticastSocket> socket_;
  std::vector<std::pair<net::Ipv6Address, std::vector<uint8_t>>> packets_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0};
  std::thread thread_;
};

TEST_F(RelayTest, AHostForgingTheFileUpstreamChangesNoByteDownstreamNorInTheCache) {
  ScratchDir src, dst1, dst2, cache;
  const std::string content = RandomString(4 * kChunk, 11);
  WriteAll(src / "file", content);
  const std::vector<std::string> chunks = Chunks(content);
  // ~0.8 s a chunk: the forger (about a second a cycle over the 4 chunks)
  // comes back to each chunk while it is still relayed. The relay decodes a
  // batch only after passing it on, so what the forger sent in the batch that
  // completed its object went on; its next symbols of the object do not.
  const std::string hash = Export(src.path(), "10M");
  ASSERT_EQ(hash.size(), 64u);
  StartRelay({"--cache", cache.path()});
  {
    Forger forger(hostile_host(), chunks);
    SyncBehindTheRelay(hash, dst1.path());
    SyncBehindTheRelay(hash, dst2.path());
    EXPECT_GT(forger.sent(), 0u);
  }
  EXPECT_EQ(TreeListing(dst1.path()), TreeListing(src.path()));
  EXPECT_EQ(TreeListing(dst2.path()), TreeListing(src.path()));
  std::string out;
  EXPECT_TRUE(CheckCache(relay_host(), cache.path(), &out).ok()) << out;
  // The relay decoded the forger's objects, refused them and stopped
  // passing them on; what it did pass on, the reader refused too.
  EXPECT_GE(StopRelayAndCount("forged"), 1u);
  EXPECT_GE(StopRelayAndCount("forged-dropped"), 1u);
  EXPECT_GE(StopRelayAndCount("verified"), 4u);
}

// Bytes `host` has sent on lan1, its downstream link.
uint64_t DownstreamTx(testbed::Host& host) { return *host.InterfaceCounter("tx_bytes", "lan1"); }

TEST_F(RelayTest, OfTwoRelaysOneServesAndTheOtherTakesOverWhenItIsKilled) {
  ScratchDir src, dst1, dst2;
  const uint64_t size = 16 * kChunk;
  WriteAll(src / "file", RandomString(size, 21));
  const std::string hash = Export(src.path(), "40M");  // ~3.5 s for the file
  ASSERT_EQ(hash.size(), 64u);
  StartRelay();
  ASSERT_NO_FATAL_FAILURE(StartRelay({}, &second_relay_host(), &relay2_));

  // Both live: one stream downstream, not two.
  const uint64_t a0 = DownstreamTx(relay_host()), b0 = DownstreamTx(second_relay_host());
  SyncBehindTheRelay(hash, dst1.path());
  const uint64_t a = DownstreamTx(relay_host()) - a0;
  const uint64_t b = DownstreamTx(second_relay_host()) - b0;
  EXPECT_EQ(TreeListing(dst1.path()), TreeListing(src.path()));
  EXPECT_GT(a + b, size);
  EXPECT_LT(a + b, size + size / 2) << "relays sent " << a << " and " << b;
  EXPECT_LT(std::min(a, b), size / 20) << "the standby sent " << std::min(a, b);
  std::optional<testbed::Subprocess>& active = a > b ? relay_ : relay2_;
  std::optional<testbed::Subprocess>& standby = a > b ? relay2_ : relay_;

  // The active one killed mid-read: the standby carries the read through.
  auto sync = reader_host().Spawn({kSync, "--iface", "lan0", "--timeout", "20", hash, dst2.path()});
  ASSERT_TRUE(sync.ok());
  ASSERT_TRUE(SyncWritesFile(*sync, dst2, "file"))
      << "the read ended before the kill: " << sync->Stderr();
  active->Stop(SIGKILL, std::chrono::seconds(5));
  auto status = sync->Wait(std::chrono::seconds(120));
  ASSERT_TRUE(status.has_value()) << "lcfs-sync did not exit";
  ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << testbed::DescribeWaitStatus(*status) << sync->Stderr();
  EXPECT_EQ(TreeListing(dst2.path()), TreeListing(src.path()));
  EXPECT_NE(standby->Stderr().find("lcfs-relay: active"), std::string::npos) << standby->Stderr();
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
           {"--upstream", "lo", "--downstream", "lo", "extra"},
           {"--upstream", "lo", "--downstream", "lo", "--cache-size", "1G"},
           {"--upstream", "lo", "--downstream", "lo", "--cache", "/tmp", "--cache-size", "big"},
           {"--upstream", "lo", "--downstream", "lo", "--cache", ""},
           {"--upstream", "lo", "--downstream", "lo", "--serve-rate", "1G"},
           {"--upstream", "lo", "--downstream", "lo", "--cache", "/tmp", "--serve-rate", "x"}}) {
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
