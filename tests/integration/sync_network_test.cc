// The sync engine over the virtual LAN, against a minimal in-test sender (it
// sends every object of a small export on its group, round-robin, without
// end): fetch and verify, shared duplicate fetches, whole-tree sync, loss,
// two receivers, a hostile host sending garbage, source filters, the sender
// going away mid-sync, and no sender at all.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <thread>

#include "common/wait.h"
#include "lcfs/index/indexer.h"
#include "lcfs/net/multicast_socket.h"
#include "lcfs/sync/fetcher.h"
#include "lcfs/sync/network_object_source.h"
#include "lcfs/sync/tree_sync.h"
#include "testbed/testbed.h"
#include "unit/sync/symbol_sender.h"
#include "unit/sync/tree_listing.h"

namespace lcfs::sync {
namespace {

using lcfs::testing::RandomString;
using testing::Object;
using testing::ScratchDir;
using testing::SymbolSender;
using testing::TreeListing;
using testing::WriteAll;

constexpr uint32_t kChunk = 64 << 10;

net::Ipv6Address AddressOf(const testbed::Host& h) {
  return net::Ipv6Address::FromIn6(h.link_local());
}

struct Export {
  ScratchDir dir;
  index::IndexResult index;
  std::vector<Object> objects;
};

std::unique_ptr<Export> MakeExport(size_t big_file_size = 3 * kChunk + 777) {
  auto e = std::make_unique<Export>();
  for (int i = 0; i < 30; ++i)
    WriteAll(e->dir / ("many/f" + std::to_string(i)), RandomString(200 + 331 * i, i), 0644);
  WriteAll(e->dir / "empty", "", 0600);
  WriteAll(e->dir / "big", RandomString(big_file_size, 77), 0755);
  symlink("big", (e->dir / "link").c_str());
  symlink("many/f1", (e->dir / "many/../link2").c_str());
  index::IndexOptions o;
  o.chunk_size = kChunk;
  o.warn = [](const std::string&) {};
  auto r = index::IndexPath(e->dir.path(), o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  e->index = std::move(r).value();
  Status s = testing::CollectObjects(*e->index.mdex, e->index.root, e->dir.path(), &e->objects);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return e;
}

// Runs SyncTree inside `host` (sockets and threads live in its namespace).
struct SyncOutcome {
  Result<uint64_t> result = Status::Error(EIO, "not run");
  SyncStats stats;
  FetcherStats fetcher;
};

SyncOutcome SyncIn(const testbed::Host& host, const Hash& root, const std::string& dest,
                   NetworkSourceOptions net_options = {}, SyncOptions options = {}) {
  SyncOutcome out;
  std::thread t([&] {
    auto guard = host.Enter();
    if (!guard.ok()) {
      out.result = guard.status();
      return;
    }
    net_options.iface = host.iface();
    auto source = NetworkObjectSource::Create(net_options);
    if (!source.ok()) {
      out.result = source.status();
      return;
    }
    out.result = SyncTree(**source, root, dest, options, &out.stats);
    out.fetcher = (*source)->fetcher().stats();
  });
  t.join();
  return out;
}

class SyncNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testbed::HaveTestbedPrivileges()) GTEST_SKIP() << "needs root";
    testbed::TestbedOptions o;
    o.hosts = 3;
    auto bed = testbed::Testbed::Create(o);
    ASSERT_TRUE(bed.ok()) << bed.status().ToString();
    bed_ = std::move(bed).value();
  }
  testbed::Host& exporter() { return bed_->host(0); }
  testbed::Host& receiver() { return bed_->host(1); }
  testbed::Host& other() { return bed_->host(2); }

  // Runs `body` with a fetcher started with `o` on the receiver's interface,
  // in its namespace (which is per thread: a thread of its own).
  void InReceiver(FetcherOptions o, const std::function<void(Fetcher&)>& body) {
    std::thread t([&] {
      auto guard = receiver().Enter();
      ASSERT_TRUE(guard.ok());
      o.ifindex = receiver().ifindex();
      auto fetcher = Fetcher::Start(o);
      ASSERT_TRUE(fetcher.ok()) << fetcher.status().ToString();
      body(**fetcher);
    });
    t.join();
  }

  std::unique_ptr<testbed::Testbed> bed_;
};

TEST_F(SyncNetworkTest, FetcherVerifiesAndSharesDuplicateRequests) {
  auto ex = MakeExport();
  SymbolSender sender(exporter(), ex->objects, {});
  FetcherOptions o;
  InReceiver(o, [&](Fetcher& fetcher) {
    const Object* chunk = nullptr;
    for (const auto& obj : ex->objects)
      if (obj.kind == ObjectKind::kChunk && obj.bytes.size() == kChunk) chunk = &obj;
    ASSERT_NE(chunk, nullptr);
    auto a = fetcher.FetchFuture({.hash = chunk->hash, .kind = chunk->kind});
    auto b =
        fetcher.FetchFuture({.hash = chunk->hash, .kind = chunk->kind, .expected_size = kChunk});
    auto ra = a.get(), rb = b.get();
    ASSERT_TRUE(ra.ok()) << ra.status().ToString();
    ASSERT_TRUE(rb.ok()) << rb.status().ToString();
    EXPECT_EQ(*ra, chunk->bytes);
    EXPECT_EQ(*rb, chunk->bytes);
    FetcherStats s = fetcher.stats();
    EXPECT_EQ(s.requests, 2u);
    EXPECT_EQ(s.shared, 1u);
    EXPECT_EQ(s.completed, 1u);
    EXPECT_GE(s.symbols, s.symbols_needed);
    EXPECT_EQ(s.joined, 0u);  // left once done
    // Asked as the wrong kind: the same packets never verify; it times out
    // with a message naming the cause.
    auto wrong = fetcher.Fetch({.hash = chunk->hash,
                                .kind = ObjectKind::kDirectory,
                                .timeout = std::chrono::milliseconds(500)});
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.status().code(), ETIMEDOUT);
    EXPECT_NE(wrong.status().message().find("another kind"), std::string::npos)
        << wrong.status().ToString();
  });
  EXPECT_TRUE(sender.error().ok()) << sender.error().ToString();
}

TEST_F(SyncNetworkTest, SyncsATreeOverTheNetwork) {
  auto ex = MakeExport();
  SymbolSender sender(exporter(), ex->objects, {});
  ScratchDir dest;
  auto out = SyncIn(receiver(), ex->index.root, dest / "copy");
  ASSERT_TRUE(out.result.ok()) << out.result.status().ToString();
  EXPECT_EQ(TreeListing(ex->dir.path()), TreeListing(dest / "copy"));
  EXPECT_GT(out.fetcher.completed, 3u);
  EXPECT_EQ(out.fetcher.verify_failures, 0u);
  EXPECT_EQ(*out.result, out.fetcher.bytes);
}

TEST_F(SyncNetworkTest, TenPercentLossStillCompletesCorrectly) {
  auto ex = MakeExport();
  ASSERT_TRUE(receiver().SetLoss(10, /*udp_only=*/true).ok());
  SymbolSender sender(exporter(), ex->objects, {});
  ScratchDir dest;
  auto out = SyncIn(receiver(), ex->index.root, dest.path());
  ASSERT_TRUE(out.result.ok()) << out.result.status().ToString();
  EXPECT_EQ(TreeListing(ex->dir.path()), TreeListing(dest.path()));
}

TEST_F(SyncNetworkTest, TwoReceiversAtOnce) {
  auto ex = MakeExport();
  SymbolSender sender(exporter(), ex->objects, {});
  ScratchDir d1, d2;
  auto f1 =
      std::async(std::launch::async, [&] { return SyncIn(receiver(), ex->index.root, d1.path()); });
  auto f2 =
      std::async(std::launch::async, [&] { return SyncIn(other(), ex->index.root, d2.path()); });
  auto o1 = f1.get(), o2 = f2.get();
  ASSERT_TRUE(o1.result.ok()) << o1.result.status().ToString();
  ASSERT_TRUE(o2.result.ok()) << o2.result.status().ToString();
  EXPECT_EQ(TreeListing(ex->dir.path()), TreeListing(d1.path()));
  EXPECT_EQ(TreeListing(ex->dir.path()), TreeListing(d2.path()));
}

TEST_F(SyncNetworkTest, HostileSenderIsCountedAndDoesNotStopTheSync) {
  auto ex = MakeExport();
  SymbolSender real(exporter(), ex->objects, {});
  SymbolSender::Options hostile;
  hostile.garbage = true;
  SymbolSender garbage(other(), ex->objects, hostile);
  ScratchDir d1, d2;
  auto out = SyncIn(receiver(), ex->index.root, d1.path());
  ASSERT_TRUE(out.result.ok()) << out.result.status().ToString();
  EXPECT_EQ(TreeListing(ex->dir.path()), TreeListing(d1.path()));
  EXPECT_GT(out.fetcher.discarded_symbols, 0u);
  EXPECT_GT(garbage.packets_sent(), 0u);

  // With the exporter as the only allowed source, the garbage is not even delivered.
  NetworkSourceOptions filtered;
  filtered.sources = {AddressOf(exporter())};
  auto out2 = SyncIn(receiver(), ex->index.root, d2.path(), filtered);
  ASSERT_TRUE(out2.result.ok()) << out2.result.status().ToString();
  EXPECT_EQ(TreeListing(ex->dir.path()), TreeListing(d2.path()));
  EXPECT_EQ(out2.fetcher.discarded_symbols, 0u);
  EXPECT_EQ(out2.fetcher.verify_failures, 0u);
  EXPECT_EQ(out2.fetcher.rejected_packets, 0u);  // filtered by the kernel, not by us
}

TEST_F(SyncNetworkTest, SourceFilterRefusesASecondExporter) {
  auto ex = MakeExport();
  SymbolSender second(other(), ex->objects, {});  // a genuine, but unwanted, exporter
  ScratchDir dest;
  NetworkSourceOptions filtered;
  filtered.sources = {AddressOf(exporter())};  // nothing is sent from there
  SyncOptions o;
  o.timeout = std::chrono::milliseconds(700);
  auto out = SyncIn(receiver(), ex->index.root, dest / "dst", filtered, o);
  ASSERT_FALSE(out.result.ok());
  EXPECT_EQ(out.result.status().code(), ETIMEDOUT);
  EXPECT_FALSE(std::filesystem::exists(dest / "dst"));
  EXPECT_EQ(out.fetcher.packets.accepted, 0u);
  // Control: the same sync without the filter works.
  auto ok = SyncIn(receiver(), ex->index.root, dest / "dst");
  ASSERT_TRUE(ok.result.ok()) << ok.result.status().ToString();
}

TEST_F(SyncNetworkTest, NoExporterTimesOutAndLeavesDestUntouched) {
  ScratchDir dest;
  SyncOptions o;
  o.timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  auto out = SyncIn(receiver(), Sha256Of("no such tree"), dest / "dst", {}, o);
  ASSERT_FALSE(out.result.ok());
  EXPECT_EQ(out.result.status().code(), ETIMEDOUT);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_FALSE(std::filesystem::exists(dest / "dst"));
}

TEST_F(SyncNetworkTest, ExporterGoneMidSyncLeavesNoHalfWrittenFiles) {
  auto ex = MakeExport(40 * kChunk + 5);
  SymbolSender::Options slow;
  slow.packets_per_second = 4000;
  auto sender = std::make_unique<SymbolSender>(exporter(), ex->objects, slow);
  ScratchDir dest;
  std::atomic<bool> started{false};
  SyncOptions o;
  // A narrow window: the big file's chunks come a few at a time, over seconds.
  o.window = 4;
  NetworkSourceOptions narrow;
  narrow.window = 4;
  o.timeout = std::chrono::seconds(3);
  o.progress = [&](const SyncProgress& p) {
    if (p.chunk_bytes_received > 0) started = true;
  };
  auto fut = std::async(std::launch::async,
                        [&] { return SyncIn(receiver(), ex->index.root, dest.path(), narrow, o); });
  ASSERT_TRUE(lcfs::testing::WaitUntil([&] { return started.load(); }, std::chrono::seconds(10)));
  sender.reset();  // the exporter dies
  auto out = fut.get();
  ASSERT_FALSE(out.result.ok());
  EXPECT_EQ(out.result.status().code(), ETIMEDOUT) << out.result.status().ToString();
  for (auto& e : std::filesystem::recursive_directory_iterator(dest.path())) {
    const std::string name = e.path().filename().string();
    EXPECT_NE(name.rfind(".lcfs-sync.", 0), 0u) << "temporary file left: " << e.path();
    if (e.is_regular_file() && !e.is_symlink()) {
      const std::string rel = e.path().string().substr(dest.path().size());
      EXPECT_EQ(testing::ReadAll(e.path()), testing::ReadAll(ex->dir.path() + rel))
          << "incomplete file: " << rel;
    }
  }
  EXPECT_FALSE(std::filesystem::exists(dest / "big"));
}

// Whether this thread's network namespace has joined `group` (the kernel's
// own table, so a test sees the membership, not the fetcher's belief).
bool KernelJoined(const net::Ipv6Address& group) {
  std::ifstream in("/proc/thread-self/net/igmp6");
  char hex[33];
  for (int i = 0; i < 16; ++i) std::snprintf(hex + 2 * i, 3, "%02x", group.bytes[i]);
  const std::string want(hex, 32);
  std::string line;
  while (std::getline(in, line))
    if (line.find(want) != std::string::npos) return true;
  return false;
}

TEST_F(SyncNetworkTest, CancelAnswersAtOnceAndLeavesTheGroup) {
  FetcherOptions o;
  InReceiver(o, [&](Fetcher& fetcher) {
    const Hash absent = Sha256Of("an object nobody sends");
    const net::Ipv6Address group = net::GroupAddress(absent, o.scheme);
    std::promise<Result<std::vector<uint8_t>>> answer;
    const FetchTicket ticket = fetcher.FetchAsync(
        {.hash = absent, .kind = ObjectKind::kChunk, .timeout = std::chrono::seconds(60)},
        [&](Result<std::vector<uint8_t>> r) { answer.set_value(std::move(r)); });
    ASSERT_TRUE(
        lcfs::testing::WaitUntil([&] { return KernelJoined(group); }, std::chrono::seconds(10)));
    fetcher.Cancel(ticket);
    auto future = answer.get_future();
    ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    auto r = future.get();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), ECANCELED);
    // The group is left before the callback runs.
    EXPECT_FALSE(KernelJoined(group));
    FetcherStats s = fetcher.stats();
    EXPECT_EQ(s.cancelled, 1u);
    EXPECT_EQ(s.abandoned, 1u);
    EXPECT_EQ(s.joined, 0u);
    fetcher.Cancel(ticket);  // a finished ticket is ignored
  });
}

TEST_F(SyncNetworkTest, ABlockedFetchTakesTheSlotOfAPrefetch) {
  auto ex = MakeExport();
  SymbolSender sender(exporter(), ex->objects, {});
  FetcherOptions o;
  o.window = 2;
  o.blocking_reserve = 0;
  o.metadata_reserve = 0;
  InReceiver(o, [&](Fetcher& fetcher) {
    // Two prefetches that never complete fill the window.
    std::vector<std::future<Result<std::vector<uint8_t>>>> prefetches;
    for (const char* name : {"absent 1", "absent 2"}) {
      prefetches.push_back(fetcher.FetchFuture({.hash = Sha256Of(name),
                                                .kind = ObjectKind::kChunk,
                                                .timeout = std::chrono::seconds(60),
                                                .priority = FetchPriority::kPrefetch}));
    }
    ASSERT_TRUE(lcfs::testing::WaitUntil([&] { return fetcher.stats().joined == 2; },
                                         std::chrono::seconds(10)));
    const Object* chunk = nullptr;
    for (const auto& obj : ex->objects)
      if (obj.kind == ObjectKind::kChunk && obj.bytes.size() == kChunk) chunk = &obj;
    ASSERT_NE(chunk, nullptr);
    auto got = fetcher.Fetch({.hash = chunk->hash,
                              .kind = chunk->kind,
                              .expected_size = kChunk,
                              .timeout = std::chrono::seconds(10)});
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, chunk->bytes);
    FetcherStats s = fetcher.stats();
    EXPECT_EQ(s.preempted, 1u);
    // The preempted prefetch is joined again once the slot is free.
    EXPECT_TRUE(lcfs::testing::WaitUntil([&] { return fetcher.stats().joined == 2; },
                                         std::chrono::seconds(10)));
  });
  EXPECT_TRUE(sender.error().ok()) << sender.error().ToString();
}

// A channel record (docs/protocol.md section 11) reaching a fetcher's group
// is another reader's datagram, not a malformed one: counted as foreign.
TEST_F(SyncNetworkTest, AChannelRecordIsCountedAsForeignNotMalformed) {
  const Hash absent = Sha256Of("an object nobody sends");
  const net::Ipv6Address group = net::GroupAddress(absent, net::GroupScheme{});
  std::atomic<bool> stop{false};
  std::thread announcer([&] {  // sends record-shaped datagrams until told to stop
    auto guard = exporter().Enter();
    ASSERT_TRUE(guard.ok());
    net::MulticastSocketOptions so;
    so.send_ifindex = exporter().ifindex();
    so.receive_buffer = 0;
    auto socket = net::MulticastSocket::Open(so);
    ASSERT_TRUE(socket.ok()) << socket.status().ToString();
    socket->set_destination_port(net::kDefaultPort);
    std::vector<uint8_t> record(156, 0);
    record[0] = 0x4c, record[1] = 0x43, record[2] = 1, record[3] = 2;  // "LC", v1, type 2
    const net::OutgoingDatagram d{group, record};
    while (!stop) {
      (void)socket->Send(std::span(&d, 1));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a pace, not synchronisation
    }
  });
  FetcherOptions o;
  InReceiver(o, [&](Fetcher& fetcher) {
    const FetchTicket ticket = fetcher.FetchAsync(
        {.hash = absent, .kind = ObjectKind::kChunk, .timeout = std::chrono::seconds(60)},
        [](Result<std::vector<uint8_t>>) {});
    EXPECT_TRUE(lcfs::testing::WaitUntil([&] { return fetcher.stats().foreign_packets >= 3; },
                                         std::chrono::seconds(20)));
    const FetcherStats s = fetcher.stats();
    EXPECT_EQ(s.packets[net::PacketDrop::kBadType], 0u);
    EXPECT_EQ(s.packets[net::PacketDrop::kForeignObject], s.foreign_packets);
    fetcher.Cancel(ticket);
  });
  stop = true;
  announcer.join();
}

}  // namespace
}  // namespace lcfs::sync
