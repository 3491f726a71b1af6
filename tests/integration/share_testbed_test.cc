// The share engine and lcfs-export on the virtual LAN, with the kernel's
// real MLD: host 0 exports, the other hosts receive with a minimal receiver
// (join the object's group, parse packets, RaptorQ-decode, check the hash).
//
// MLD timers are shortened (Query Interval 1 s, Last Listener Query Time
// 250 ms) so each test takes a few seconds.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/group_receiver.h"
#include "common/process_watch.h"
#include "common/testbed_fixture.h"
#include "common/wait.h"
#include "lcfs/fec/decoder.h"
#include "lcfs/fec/payload_id.h"
#include "lcfs/index/directory.h"
#include "lcfs/index/file_tree.h"
#include "lcfs/index/indexer.h"
#include "lcfs/net/group.h"
#include "lcfs/net/multicast_socket.h"
#include "lcfs/net/packet.h"
#include "lcfs/share/share.h"
#include "net/mld_message.h"
#include "net/mld_socket.h"
#include "share/group_map.h"
#include "share/object_stream.h"
#include "testbed/testbed.h"
#include "unit/share/share_test_util.h"

namespace lcfs::share {
namespace {

using namespace std::chrono_literals;
using testbed::Host;
using testbed::Testbed;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kChunk = 256 << 10;
const auto kQueryInterval = 1000ms;

net::MldTimers FastTimers() { return net::MldTimers::Fast(kQueryInterval); }

using lcfs::testing::CpuShare;
using lcfs::testing::kExportProgram;
using lcfs::testing::Occurrences;
using lcfs::testing::WaitUntil;

using lcfs::testing::RandomBytes;

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

// A receiver on one host (tests/common/group_receiver.h) that decodes,
// counts and times what it receives.
class Receiver : public lcfs::testing::GroupReceiver {
 public:
  using GroupReceiver::GroupReceiver;

  // Calls fn(view) for every valid packet of `hash` until fn returns true
  // or `timeout` passes; false on timeout.
  bool Receive(const Hash& hash, ObjectKind kind, std::chrono::milliseconds timeout,
               const std::function<bool(const net::PacketView&)>& fn) {
    return ReceivePackets(hash, kind, Clock::now() + timeout, fn);
  }

  // Joins, receives until the object decodes, checks its hash; leaves if asked.
  Result<std::vector<uint8_t>> Fetch(const Hash& hash, ObjectKind kind,
                                     std::chrono::milliseconds timeout = 10s, bool leave = true) {
    LCFS_RETURN_IF_ERROR(Join(hash));
    std::optional<fec::ObjectDecoder> decoder;
    const bool done = Receive(hash, kind, timeout, [&](const net::PacketView& v) {
      return Decode(v, &decoder) == fec::DecodeProgress::kComplete;
    });
    if (leave) LCFS_RETURN_IF_ERROR(Leave(hash));
    if (!done) return Status::Error(ETIMEDOUT, "object " + hash.ToHex() + " not received");
    std::vector<uint8_t> bytes = decoder->TakeObject();
    if (ObjectHash(kind, bytes) != hash)
      return Status::Error(EIO, "object " + hash.ToHex() + " decoded to bytes of another hash");
    return bytes;
  }

  // The ESIs of `hash`'s packets from the first (waited for up to
  // `first`) until `silence` passes without one.
  std::vector<uint32_t> Burst(const Hash& hash, ObjectKind kind, std::chrono::milliseconds first,
                              std::chrono::milliseconds silence) {
    std::vector<uint32_t> esis;
    auto deadline = Clock::now() + first;
    ReceivePackets(hash, kind, deadline, [&](const net::PacketView& v) {
      esis.push_back(fec::PayloadId::Decode(v.header.payload_id)->esi);
      deadline = Clock::now() + silence;
      return false;
    });
    return esis;
  }

  struct Tally {
    uint64_t packets = 0, bytes = 0, duplicates = 0;
  };
  // Counts packets of `hash` for `duration` (already joined).
  Tally Count(const Hash& hash, ObjectKind kind, std::chrono::milliseconds duration) {
    Tally t;
    std::set<uint64_t> seen;
    Receive(hash, kind, duration, [&](const net::PacketView& v) {
      ++t.packets;
      t.bytes += net::kPacketHeaderSize + v.symbol.size();
      auto id = fec::PayloadId::Decode(v.header.payload_id);
      if (!seen.insert(uint64_t{id->sbn} << 32 | id->esi).second) ++t.duplicates;
      return false;
    });
    return t;
  }

  // Counts every datagram for `duration`, whatever its object.
  Tally CountAll(std::chrono::milliseconds duration) {
    Tally t;
    ReceiveUntil(Clock::now() + duration, [&](std::span<const uint8_t> datagram) {
      ++t.packets;
      t.bytes += datagram.size();
      return false;
    });
    return t;
  }

  // Fetches `hashes` (all of `kind`) as the mount's fetcher does: up to
  // `window` groups joined at once, each left as soon as it decodes to its
  // hash. Counts in *packets those received for them.
  Status FetchMany(const std::vector<Hash>& hashes, ObjectKind kind, size_t window,
                   std::chrono::milliseconds timeout, uint64_t* packets) {
    std::map<net::ObjectId, size_t> joined;  // object id -> index in `hashes`
    std::vector<std::optional<fec::ObjectDecoder>> decoders(hashes.size());
    size_t next = 0, done = 0;
    auto join_more = [&]() -> Status {
      for (; next < hashes.size() && joined.size() < window; ++next) {
        LCFS_RETURN_IF_ERROR(Join(hashes[next]));
        joined[net::ObjectIdOf(hashes[next])] = next;
      }
      return Status::Ok();
    };
    Status error = join_more();
    if (!error.ok() || hashes.empty()) return error;
    const bool all = ReceiveUntil(Clock::now() + timeout, [&](std::span<const uint8_t> datagram) {
      net::PacketView v;
      if (net::ParsePacket(datagram, &v) != net::PacketDrop::kNone || v.header.kind != kind)
        return false;
      auto it = joined.find(v.header.object_id);
      if (it == joined.end()) return false;
      ++*packets;
      auto& decoder = decoders[it->second];
      if (Decode(v, &decoder) != fec::DecodeProgress::kComplete) return false;
      const Hash& hash = hashes[it->second];
      if (ObjectHash(kind, decoder->TakeObject()) != hash) {
        error = Status::Error(EIO, "object " + hash.ToHex() + " decoded to other bytes");
        return true;
      }
      decoder.reset();
      joined.erase(it);
      ++done;
      error = Leave(hash);
      if (error.ok()) error = join_more();
      return !error.ok() || done == hashes.size();
    });
    if (!error.ok()) return error;
    if (!all)
      return Status::Error(ETIMEDOUT, std::to_string(done) + " objects of " +
                                          std::to_string(hashes.size()) + " received");
    return Status::Ok();
  }

 private:
  // Adds v's symbol to *decoder (made from v's OTI if none yet); nullopt if
  // the packet could not be used.
  static std::optional<fec::DecodeProgress> Decode(const net::PacketView& v,
                                                   std::optional<fec::ObjectDecoder>* decoder) {
    if (!*decoder) {
      auto oti = fec::Oti::Decode(v.header.oti);
      if (!oti.ok()) return std::nullopt;
      auto d = fec::ObjectDecoder::Create(*oti);
      if (!d.ok()) return std::nullopt;
      decoder->emplace(std::move(*d));
    }
    auto id = fec::PayloadId::Decode(v.header.payload_id);
    auto r = (*decoder)->Add(id->sbn, id->esi, v.symbol);
    if (!r.ok()) return std::nullopt;
    return *r;
  }
};

// A tree to export: a directory with a few files, indexed with kChunk.
struct Export {
  std::string dir;
  index::IndexResult index;
  std::vector<uint8_t> big;  // "big": 4 chunks
  Hash big_chunk1;           // the hash of chunk 1 of "big"
};

Export MakeExport(Testbed& bed) {
  Export e;
  e.dir = *bed.MakeTempDir("share");
  e.big = RandomBytes(4 * kChunk, 7);
  WriteFile(e.dir + "/big", e.big);
  WriteFile(e.dir + "/small", RandomBytes(5000, 8));
  WriteFile(e.dir + "/sub/other", RandomBytes(kChunk + 100, 9));
  index::IndexOptions o;
  o.chunk_size = kChunk;
  auto index = index::IndexPath(e.dir, o);
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  e.index = std::move(*index);
  e.big_chunk1 = index::FileTree::FromData(e.big, kChunk)->leaves()[1];
  return e;
}

// Flips `bits` of byte `at` of "big" behind the exporter's back: same size,
// same times. Returns the file's new bytes.
std::vector<uint8_t> ChangeBehindItsBack(const Export& e, size_t at, uint8_t bits) {
  const std::string path = e.dir + "/big";
  struct stat before;
  EXPECT_EQ(stat(path.c_str(), &before), 0);
  std::vector<uint8_t> changed = e.big;
  changed[at] ^= bits;
  WriteFile(path, changed);
  const timespec times[2] = {before.st_atim, before.st_mtim};
  EXPECT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  return changed;
}

ShareOptions FastOptions(uint64_t rate = 50'000'000) {
  ShareOptions o;
  o.rate_bps = rate;
  o.mld_timers = FastTimers();
  return o;
}

// Starts the engine in `host` (its sockets and thread live there).
Result<ShareHandle> ShareIn(const Host& host, const index::IndexResult& index, ShareStats* stats,
                            ShareOptions options) {
  auto guard = host.Enter();
  if (!guard.ok()) return guard.status();
  return Share(index, host.ifindex(), stats, 0, std::move(options));
}

// What the engine tests start from: a testbed whose host 0 holds export_,
// and the engine serving it there (StartEngine), stopped before the testbed
// goes. `Base`: ::testing::Test, or TestWithParam for parameterised tests.
template <typename Base>
class EngineTestBase : public Base {
 protected:
  void StartBed(const testbed::TestbedOptions& options) {
    auto bed = Testbed::Create(options);
    ASSERT_TRUE(bed.ok()) << bed.status().ToString();
    bed_ = std::move(*bed);
    export_ = MakeExport(*bed_);
  }
  void StartEngine(ShareOptions options) {
    auto engine = ShareIn(exporter(), export_.index, &stats_, std::move(options));
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(*engine);
  }
  Host& exporter() { return bed_->host(0); }

  std::unique_ptr<Testbed> bed_;
  Export export_;
  ShareStats stats_;
  ShareHandle engine_;  // declared last: unshared first
};

class ShareEngineTest : public EngineTestBase<::testing::Test> {
 protected:
  void SetUp() override {
    LCFS_REQUIRE_TESTBED();
    StartBed({.hosts = 3});
  }
};

TEST_F(ShareEngineTest, JoinedObjectsDecodeToTheirHash) {
  ASSERT_NO_FATAL_FAILURE(StartEngine(FastOptions()));
  EXPECT_EQ(stats_.published_objects.load(), 3u + 4 + 1 + 2 + 1);  // dirs, chunks, nodes

  Receiver rx(bed_->host(1));
  auto dir = rx.Fetch(export_.index.root, ObjectKind::kDirectory);
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  auto chunk = rx.Fetch(export_.big_chunk1, ObjectKind::kChunk);
  ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
  EXPECT_EQ(*chunk,
            std::vector<uint8_t>(export_.big.begin() + kChunk, export_.big.begin() + 2 * kChunk));
  EXPECT_GE(stats_.objects_served.load(), 2u);
  EXPECT_GE(stats_.joins.load(), 2u);
  EXPECT_GT(stats_.symbols_sent.load(), 2 * kChunk / kShareSymbolSize / 2);
}

TEST_F(ShareEngineTest, TwoReceiversOnOneGroupAreServedByOneStream) {
  ASSERT_NO_FATAL_FAILURE(StartEngine(FastOptions(20'000'000)));
  Receiver a(bed_->host(1)), b(bed_->host(2));
  ASSERT_TRUE(a.Join(export_.big_chunk1).ok());
  ASSERT_TRUE(b.Join(export_.big_chunk1).ok());
  ASSERT_TRUE(WaitUntil(
      [&] { return stats_.active_groups.load() == 1 && stats_.tracked_hosts.load() == 2; }, 5s));
  // Both listen; over one window, what each receives is what the exporter sent.
  const uint64_t tx0 = *exporter().InterfaceCounter("tx_bytes");
  const uint64_t sent0 = stats_.symbols_sent.load();
  std::thread other([&] { b.Count(export_.big_chunk1, ObjectKind::kChunk, 1000ms); });
  const auto ta = a.Count(export_.big_chunk1, ObjectKind::kChunk, 1000ms);
  other.join();
  const uint64_t tx = *exporter().InterfaceCounter("tx_bytes") - tx0;
  const uint64_t sent = stats_.symbols_sent.load() - sent0;
  EXPECT_EQ(stats_.active_objects.load(), 1u);
  EXPECT_EQ(stats_.active_groups.load(), 1u);  // one group, one interface: one stream
  EXPECT_EQ(ta.duplicates, 0u);                // no symbol sent twice
  ASSERT_GT(ta.packets, 100u);
  EXPECT_LT(static_cast<double>(sent), 1.15 * static_cast<double>(ta.packets) + 20);
  // On the wire each packet is its datagram plus 62 bytes of headers (tx_bytes
  // counts those once per GSO batch, so it reads a little low).
  const uint64_t wire_a = ta.bytes + ta.packets * kPacketOverhead;
  EXPECT_LT(static_cast<double>(tx), 1.15 * static_cast<double>(wire_a))
      << "the exporter sent more than one stream's worth";
}

TEST_F(ShareEngineTest, StreamStopsWithinLastListenerQueryTimeAfterTheLastLeave) {
  ASSERT_NO_FATAL_FAILURE(StartEngine(FastOptions(20'000'000)));
  Receiver a(bed_->host(1)), b(bed_->host(2));
  ASSERT_TRUE(a.Join(export_.big_chunk1).ok());
  ASSERT_TRUE(b.Join(export_.big_chunk1).ok());
  ASSERT_TRUE(WaitUntil([&] { return stats_.active_objects.load() == 1; }, 5s));

  // One of two leaves: the stream goes on.
  ASSERT_TRUE(a.Leave(export_.big_chunk1).ok());
  const auto after_first =
      b.Count(export_.big_chunk1, ObjectKind::kChunk, FastTimers().last_listener_query_time() * 3);
  EXPECT_EQ(stats_.active_objects.load(), 1u);
  EXPECT_GT(after_first.packets, 50u);

  // The last leaves: the stream stops within the Last Listener Query Time
  // (plus the report's way there and one loop turn).
  const auto left_at = Clock::now();
  ASSERT_TRUE(b.Leave(export_.big_chunk1).ok());
  ASSERT_TRUE(WaitUntil([&] { return stats_.active_objects.load() == 0; }, 5s));
  const auto stopped_after = Clock::now() - left_at;
  EXPECT_LE(stopped_after, FastTimers().last_listener_query_time() + 200ms)
      << std::chrono::duration_cast<std::chrono::milliseconds>(stopped_after).count() << " ms";
  EXPECT_EQ(stats_.active_groups.load(), 0u);
  EXPECT_EQ(stats_.encoder_bytes.load(), 0u);  // the encoder was released
  const uint64_t sent = stats_.symbols_sent.load();
  const uint64_t tx0 = *exporter().InterfaceCounter("tx_packets");
  std::this_thread::sleep_for(300ms);  // an observation window, not synchronisation
  EXPECT_EQ(stats_.symbols_sent.load(), sent);
  EXPECT_LT(*exporter().InterfaceCounter("tx_packets") - tx0, 5u);  // MLD queries at most
}

// K of a kChunk-sized chunk: its source symbols.
constexpr uint64_t kChunkSymbols = (kChunk + kShareSymbolSize - 1) / kShareSymbolSize;

TEST_F(ShareEngineTest, LossFreeListenerIsSentOneSetOfSymbolsAndNoRepair) {
  // A hold long enough for any receiver here to decode and leave.
  ShareOptions o = FastOptions();
  o.min_hold = o.max_hold = 3000ms;
  ASSERT_NO_FATAL_FAILURE(StartEngine(std::move(o)));
  Receiver rx(bed_->host(1));
  auto got = rx.Fetch(export_.big_chunk1, ObjectKind::kChunk);  // decodes, then leaves
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(WaitUntil([&] { return stats_.active_objects.load() == 0; }, 5s));
  EXPECT_EQ(stats_.symbols_sent.load(), kChunkSymbols) << "K source symbols, nothing more";
  EXPECT_EQ(stats_.holds.load(), 1u);
  EXPECT_EQ(stats_.round_symbols.load(), 0u);
}

TEST_F(ShareEngineTest, ListenerThatStaysGetsRepairInGrowingRoundsAfterHolds) {
  ShareOptions o = FastOptions();
  o.min_hold = o.max_hold = 1000ms;
  ASSERT_NO_FATAL_FAILURE(StartEngine(std::move(o)));
  Receiver rx(bed_->host(1));
  ASSERT_TRUE(rx.Join(export_.big_chunk1).ok());
  // Symbols until a 300 ms silence (the exporter holds for 1 s).
  auto burst = [&](std::chrono::milliseconds wait_first) {
    return rx.Burst(export_.big_chunk1, ObjectKind::kChunk, wait_first, 300ms);
  };
  const auto first = burst(5s);
  ASSERT_EQ(first.size(), kChunkSymbols);
  for (uint32_t i = 0; i < first.size(); ++i) ASSERT_EQ(first[i], i) << "source symbols in order";
  const uint64_t round = std::max<uint64_t>(32, kChunkSymbols / 16);
  const auto second = burst(3s);
  ASSERT_EQ(second.size(), round);
  EXPECT_EQ(second.front(), kChunkSymbols) << "repair symbols follow";
  EXPECT_EQ(burst(3s).size(), 2 * round) << "each round twice the last";
  EXPECT_EQ(stats_.holds.load(), 3u);
}

TEST_F(ShareEngineTest, AChunkNothingWasSentOfWaitsBrieflyForAHostBehindInItsFile) {
  ASSERT_NO_FATAL_FAILURE(StartEngine(FastOptions(20'000'000)));
  const auto tree = index::FileTree::FromData(export_.big, kChunk);
  const std::vector<Hash> chunks(tree->leaves().begin(), tree->leaves().end());
  // Host 2 is at chunk 0 of "big" and stays there.
  Receiver behind(bed_->host(2));
  ASSERT_TRUE(behind.Join(chunks[0]).ok());
  ASSERT_TRUE(WaitUntil(
      [&] { return stats_.tracked_hosts.load() == 1 && stats_.symbols_sent.load() > 0; }, 5s));
  // Host 1 asks for chunk 1: it waits for host 2 (a bounded while), then
  // comes all the same.
  Receiver ahead(bed_->host(1));
  auto got = ahead.Fetch(chunks[1], ObjectKind::kChunk, 10s);
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_GT(stats_.start_delays.load(), 0u);
  // Without a host behind, a reader never waits.
  ASSERT_TRUE(behind.Leave(chunks[0]).ok());
  ASSERT_TRUE(WaitUntil([&] { return stats_.active_objects.load() == 0; }, 5s));
  const uint64_t delays = stats_.start_delays.load();
  for (size_t i = 2; i < chunks.size(); ++i) {
    got = ahead.Fetch(chunks[i], ObjectKind::kChunk, 10s);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
  }
  EXPECT_EQ(stats_.start_delays.load(), delays);
}

TEST_F(ShareEngineTest, RateLimitHoldsWithinTenPercent) {
  constexpr uint64_t kRate = 30'000'000;
  ASSERT_NO_FATAL_FAILURE(StartEngine(FastOptions(kRate)));
  Receiver a(bed_->host(1));
  ASSERT_TRUE(a.Join(export_.big_chunk1).ok());
  ASSERT_TRUE(a.Join(export_.index.root).ok());  // a second object shares the same budget
  ASSERT_TRUE(WaitUntil([&] { return stats_.active_objects.load() == 2; }, 5s));
  a.CountAll(300ms);  // past the initial burst, and the socket drained
  // Measured where it arrives: every datagram the receiver gets, as
  // Ethernet frames (the exporter's tx_bytes counts a GSO batch's headers
  // once, so it reads low).
  auto engine_wire_bytes = [&] {
    return stats_.bytes_sent.load() + stats_.symbols_sent.load() * kPacketOverhead;
  };
  const uint64_t e0 = engine_wire_bytes();
  const auto t0 = Clock::now();
  const auto got = a.CountAll(2s);
  const uint64_t e1 = engine_wire_bytes();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const double rate = static_cast<double>(got.bytes + got.packets * kPacketOverhead) * 8 / seconds;
  EXPECT_NEAR(rate, static_cast<double>(kRate), 0.10 * kRate)
      << "the engine counted " << static_cast<double>(e1 - e0) * 8 / seconds << " bit/s";
}

TEST_F(ShareEngineTest, RoundRobinServesSmallObjectsBesideAnEndlessLargeOne) {
  ASSERT_NO_FATAL_FAILURE(StartEngine(FastOptions(20'000'000)));
  Receiver big(bed_->host(1)), small(bed_->host(2));
  ASSERT_TRUE(big.Join(export_.big_chunk1).ok());  // a fountain that never ends
  ASSERT_TRUE(WaitUntil([&] { return stats_.symbols_sent.load() > 500; }, 5s));
  // 1 MiB of other objects while the fountain goes on: each arrives in
  // about its own share of the rate, not after the large one.
  for (const char* name : {"small", "sub"}) {
    auto entry = index::DecodeDirectory(*export_.index.mdex->Read(export_.index.root))->Find(name);
    ASSERT_NE(entry, nullptr);
    const auto kind =
        entry->type == index::EntryType::kDirectory ? ObjectKind::kDirectory : ObjectKind::kChunk;
    auto got = small.Fetch(entry->hash, kind, 3s);
    EXPECT_TRUE(got.ok()) << name << ": " << got.status().ToString();
  }
  // They stop once their receiver left; the fountain goes on.
  EXPECT_TRUE(WaitUntil([&] { return stats_.active_objects.load() == 1; }, 2s));
  EXPECT_GT(big.Count(export_.big_chunk1, ObjectKind::kChunk, 200ms).packets, 10u);
}

TEST_F(ShareEngineTest, JoinAllFloodLeavesAReaderAtLeast40PercentOfTheRate) {
  // 300 small files, and the 20 MB file a legitimate reader wants.
  const std::string dir = *bed_->MakeTempDir("flood");
  for (int i = 0; i < 300; ++i)
    WriteFile(dir + "/many/" + std::to_string(i), RandomBytes(32 << 10, 1000 + i));
  const auto wanted = RandomBytes(20 << 20, 99);
  WriteFile(dir + "/wanted", wanted);
  index::IndexOptions io;
  io.chunk_size = kChunk;
  auto index = index::IndexPath(dir, io);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  const auto tree = index::FileTree::FromData(wanted, kChunk);
  ASSERT_TRUE(tree.ok());
  const std::vector<Hash> chunks(tree->leaves().begin(), tree->leaves().end());
  auto engine = ShareIn(exporter(), *index, &stats_, FastOptions(50'000'000));
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();

  // Host 2 joins every group of the export and stays (its kernel answers
  // every query), 200 groups a socket.
  auto map = GroupMap::Build(*index, net::GroupScheme{});
  ASSERT_TRUE(map.ok());
  std::vector<std::unique_ptr<Receiver>> flood;
  for (size_t i = 0; i < map->size(); ++i) {
    if (i % 200 == 0) flood.push_back(std::make_unique<Receiver>(bed_->host(2)));
    ASSERT_TRUE(flood.back()->Join(map->hashes()[i]).ok());
  }
  ASSERT_TRUE(WaitUntil([&] { return stats_.active_objects.load() == map->size(); }, 20s))
      << stats_.active_objects.load() << " of " << map->size() << " objects active";

  // Host 1 reads the file, 8 chunks joined at a time. Both hosts listen
  // throughout, so each should get half of what is sent.
  Receiver reader(bed_->host(1));
  uint64_t mine = 0;
  const uint64_t before = stats_.symbols_sent.load();
  const auto start = Clock::now();
  ASSERT_TRUE(reader.FetchMany(chunks, ObjectKind::kChunk, 8, 120s, &mine).ok());
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  const uint64_t all = stats_.symbols_sent.load() - before;
  ASSERT_GT(all, 0u);
  const double share = static_cast<double>(mine) / static_cast<double>(all);
  std::cout << "reader got " << mine << " of " << all << " packets sent during its read (" << share
            << "), " << took.count() << " ms for 20 MB at 50 Mbit/s\n";
  EXPECT_GE(share, 0.40);
}

TEST_F(ShareEngineTest, EncoderMemoryCapMakesObjectsTakeTurnsWithTheirEncoders) {
  // A slow rate (a burst smaller than one chunk) and 30% loss: each receiver
  // needs more than the source symbols, so each object must get its encoder
  // back after yielding it to the other.
  ShareOptions o = FastOptions(4'000'000);
  o.encoder_memory = 1;  // room for one encoder at a time
  ASSERT_TRUE(bed_->host(1).SetLoss(30, /*udp_only=*/true).ok());
  ASSERT_TRUE(bed_->host(2).SetLoss(30, /*udp_only=*/true).ok());
  ASSERT_NO_FATAL_FAILURE(StartEngine(std::move(o)));
  const auto tree = index::FileTree::FromData(export_.big, kChunk);
  const std::vector<Hash> leaves(tree->leaves().begin(), tree->leaves().end());
  Receiver a(bed_->host(1)), b(bed_->host(2));
  Result<std::vector<uint8_t>> got_b = Status::Error(EINVAL, "not run");
  std::thread tb([&] { got_b = b.Fetch(leaves[2], ObjectKind::kChunk); });
  auto got_a = a.Fetch(leaves[3], ObjectKind::kChunk);
  tb.join();
  EXPECT_TRUE(got_a.ok()) << got_a.status().ToString();
  EXPECT_TRUE(got_b.ok()) << got_b.status().ToString();
  EXPECT_GE(stats_.encoder_loads.load(), 3u);  // one was evicted and loaded again
  ASSERT_TRUE(WaitUntil([&] { return stats_.active_objects.load() == 0; }, 3s));
  EXPECT_EQ(stats_.encoder_bytes.load(), 0u);
}

TEST_F(ShareEngineTest, LoopbackFlagServesReceiversOnTheExportingHost) {
  Result<ShareHandle> engine = Status::Error(EINVAL, "not started");
  {
    auto guard = exporter().Enter();
    engine = Share(export_.index, exporter().ifindex(), &stats_, kShareLoopback, FastOptions());
  }
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  Receiver local(exporter());
  auto dir = local.Fetch(export_.index.root, ObjectKind::kDirectory);
  EXPECT_TRUE(dir.ok()) << dir.status().ToString();
}

TEST_F(ShareEngineTest, WithoutLoopbackLocalReceiversGetNothing) {
  ASSERT_NO_FATAL_FAILURE(StartEngine(FastOptions()));
  Receiver local(exporter());
  ASSERT_TRUE(local.Join(export_.index.root).ok());
  ASSERT_TRUE(WaitUntil([&] { return stats_.symbols_sent.load() > 0; }, 5s));  // it is sent ...
  EXPECT_EQ(local.Count(export_.index.root, ObjectKind::kDirectory, 300ms).packets,
            0u);  // not here
}

TEST_F(ShareEngineTest, UnknownGroupsAreCountedAndIgnored) {
  ASSERT_NO_FATAL_FAILURE(StartEngine(FastOptions()));
  Receiver a(bed_->host(1));
  const Hash nothing = Sha256Of("not exported");
  ASSERT_TRUE(a.Join(nothing).ok());
  ASSERT_TRUE(WaitUntil([&] { return stats_.unknown_groups.load() >= 1; }, 5s));
  EXPECT_EQ(a.Count(nothing, ObjectKind::kChunk, 300ms).packets, 0u);
  EXPECT_EQ(stats_.active_objects.load(), 0u);
  EXPECT_EQ(stats_.symbols_sent.load(), 0u);
}

TEST_F(ShareEngineTest, FileModifiedBehindItsBackIsNeverSent) {
  std::atomic<int> stale_calls{0};
  Hash stale_hash;
  ShareOptions o = FastOptions();
  o.on_stale = [&](const Hash& h, const Status& why) {
    stale_hash = h;
    EXPECT_EQ(why.code(), EIO);
    ++stale_calls;
  };
  ASSERT_NO_FATAL_FAILURE(StartEngine(std::move(o)));

  ChangeBehindItsBack(export_, kChunk + 10, 1);

  Receiver a(bed_->host(1));
  ASSERT_TRUE(a.Join(export_.big_chunk1).ok());
  ASSERT_TRUE(WaitUntil([&] { return stale_calls.load() == 1; }, 5s));
  EXPECT_EQ(stale_hash, export_.big_chunk1);
  EXPECT_EQ(stats_.stale_objects.load(), 1u);
  EXPECT_EQ(a.Count(export_.big_chunk1, ObjectKind::kChunk, 300ms).packets, 0u);
  EXPECT_EQ(a.counters().accepted, 0u);
  // Unchanged objects are still served.
  const Hash chunk0 = index::FileTree::FromData(export_.big, kChunk)->leaves()[0];
  auto ok = a.Fetch(chunk0, ObjectKind::kChunk);
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST_F(ShareEngineTest, PublishedIndexReplacesTheOldOneAfterTheGracePeriod) {
  ShareOptions o = FastOptions();
  o.grace = 1500ms;
  ASSERT_NO_FATAL_FAILURE(StartEngine(std::move(o)));
  const Hash old_root = export_.index.root;
  WriteFile(export_.dir + "/new-file", RandomBytes(3000, 99));
  index::IndexOptions io;
  io.chunk_size = kChunk;
  auto next = index::IndexPath(export_.dir, io);
  ASSERT_TRUE(next.ok());
  ASSERT_NE(next->root, old_root);
  const auto published_at = Clock::now();
  ASSERT_TRUE(engine_->Serve(*next).ok());

  Receiver a(bed_->host(1));
  EXPECT_TRUE(a.Fetch(next->root, ObjectKind::kDirectory).ok());
  EXPECT_TRUE(a.Fetch(old_root, ObjectKind::kDirectory).ok()) << "old root cut off in grace";
  EXPECT_LT(Clock::now() - published_at, 1500ms);
  // Objects in both indexes outlive the grace period.
  EXPECT_TRUE(a.Join(export_.big_chunk1).ok());

  // After the grace period the old root is no longer served.
  // (and once the receiver's earlier leave of it has been seen).
  ASSERT_TRUE(WaitUntil([&] { return Clock::now() - published_at > 1600ms; }, 3s));
  ASSERT_TRUE(WaitUntil([&] { return stats_.leaves.load() >= 2; }, 3s));
  const uint64_t unknown = stats_.unknown_groups.load();
  a.Drain();
  ASSERT_TRUE(a.Join(old_root).ok());
  ASSERT_TRUE(WaitUntil([&] { return stats_.unknown_groups.load() > unknown; }, 5s));
  EXPECT_EQ(a.Count(old_root, ObjectKind::kDirectory, 300ms).packets, 0u);
  EXPECT_GT(a.Count(export_.big_chunk1, ObjectKind::kChunk, 300ms).packets, 10u);
}

// Drops CAP_NET_RAW from this thread's effective set (capabilities are per
// thread), so Share runs as an unprivileged exporter would.
Status DropNetRaw() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return Status::FromErrno(errno, "capget");
  data[CAP_NET_RAW / 32].effective &= ~(1u << (CAP_NET_RAW % 32));
  if (syscall(SYS_capset, &header, data) != 0) return Status::FromErrno(errno, "capset");
  return Status::Ok();
}

TEST_F(ShareEngineTest, ErrorsSayWhatIsMissing) {
  // No raw socket allowed: EACCES naming the capability.
  Result<ShareHandle> denied = Status::Error(EINVAL, "not run");
  std::thread t([&] {
    Status s = DropNetRaw();
    ASSERT_TRUE(s.ok()) << s.ToString();
    denied = ShareIn(exporter(), export_.index, &stats_, FastOptions());
  });
  t.join();
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), EACCES) << denied.status().ToString();
  EXPECT_NE(denied.status().message().find("CAP_NET_RAW"), std::string::npos);

  // An interface that is not there.
  {
    auto guard = exporter().Enter();
    auto r = Share(export_.index, 9999, &stats_, 0, FastOptions());
    EXPECT_EQ(r.status().code(), ENODEV) << r.status().ToString();
  }
  // IPv6 disabled on the host's only interface: no MLD.
  ASSERT_TRUE(bed_->host(2).Run({"sysctl", "-qw", "net.ipv6.conf.lan0.disable_ipv6=1"}).ok());
  {
    auto guard = bed_->host(2).Enter();
    auto r = Share(export_.index, 0, &stats_, 0, FastOptions());
    EXPECT_EQ(r.status().code(), ENOTSUP) << r.status().ToString();
  }
}

// ---- lcfs-export -----------------------------------------------------------

// Reads the child's stdout lines (the HASH lines).
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    out.push_back(text.substr(start, nl - start));
  return out;
}

// Explicit listener tracking on the real kernel (docs/protocol.md section 8):
// the Last Listener Query Time is 2 s here, so a stop within 50 ms is
// tracking's doing, not the RFC timers'. Run with bridge snooping off and on.
class ListenerTrackingTest : public EngineTestBase<::testing::TestWithParam<bool>> {
 protected:
  void SetUp() override {
    LCFS_REQUIRE_TESTBED();
    StartBed({.hosts = 4, .snooping = GetParam()});
  }
  // The engine with a 2 s Last Listener Query Time.
  void Start(uint64_t rate = 20'000'000) {
    ShareOptions o = FastOptions(rate);
    o.mld_timers.last_listener_query_interval = 1000ms;
    StartEngine(std::move(o));
  }
  // Leaves `hash` on `rx` and returns how long the exporter took to stop
  // sending it, or nullopt if it did not within 5 s.
  std::optional<std::chrono::milliseconds> LeaveAndTimeTheStop(Receiver& rx, const Hash& hash) {
    const auto left_at = Clock::now();
    if (!rx.Leave(hash).ok()) return std::nullopt;
    if (!WaitUntil([&] { return stats_.active_objects.load() == 0; }, 5s)) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - left_at);
  }
  // The last listener leaving `hash` on `rx` stops its stream within 50 ms:
  // explicit tracking's fast leave, not the RFC timers.
  void ExpectStopWithin50ms(Receiver& rx, const Hash& hash) {
    const auto stopped_after = LeaveAndTimeTheStop(rx, hash);
    ASSERT_TRUE(stopped_after) << "the stream did not stop";
    EXPECT_LE(stopped_after->count(), 50) << "ms from the last leave to the stop";
    EXPECT_EQ(stats_.fast_leaves.load(), 1u);
  }
};

TEST_P(ListenerTrackingTest, SendingStopsWithin50msOfTheLastLeaveAndNotBefore) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Receiver a(bed_->host(1)), b(bed_->host(2));
  ASSERT_TRUE(a.Join(export_.big_chunk1).ok());
  ASSERT_TRUE(b.Join(export_.big_chunk1).ok());
  ASSERT_TRUE(WaitUntil([&] { return stats_.tracked_hosts.load() == 2; }, 5s))
      << stats_.tracked_hosts.load() << " tracked, " << stats_.joins.load() << " joins, "
      << stats_.rfc_fallbacks.load() << " on RFC timers";
  // Both get the stream (and the start-up General Query gets its answers).
  EXPECT_GT(b.Count(export_.big_chunk1, ObjectKind::kChunk, 500ms).packets, 50u);

  // One of two leaves: the other keeps its stream.
  ASSERT_TRUE(a.Leave(export_.big_chunk1).ok());
  ASSERT_TRUE(WaitUntil([&] { return stats_.tracked_hosts.load() == 1; }, 5s));
  EXPECT_GT(b.Count(export_.big_chunk1, ObjectKind::kChunk, 500ms).packets, 50u);
  EXPECT_EQ(stats_.active_objects.load(), 1u);

  ASSERT_NO_FATAL_FAILURE(ExpectStopWithin50ms(b, export_.big_chunk1));
  const uint64_t sent = stats_.symbols_sent.load();
  std::this_thread::sleep_for(200ms);  // an observation window, not synchronisation
  EXPECT_EQ(stats_.symbols_sent.load(), sent);
}

TEST_P(ListenerTrackingTest, ForgedLeavesFromAThirdHostDoNotStopALegitimateStream) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Receiver a(bed_->host(1));
  ASSERT_TRUE(a.Join(export_.big_chunk1).ok());
  ASSERT_TRUE(WaitUntil([&] { return stats_.tracked_hosts.load() == 1; }, 5s));
  EXPECT_GT(a.Count(export_.big_chunk1, ObjectKind::kChunk, 500ms).packets, 50u);

  // Host 3 sends, from its own address, every leave MLD has for the group.
  const Host& attacker = bed_->host(3);
  const net::Ipv6Address group = net::GroupAddress(export_.big_chunk1);
  {
    auto guard = attacker.Enter();
    ASSERT_TRUE(guard.ok());
    auto raw = net::MldSocket::Open();
    ASSERT_TRUE(raw.ok()) << raw.status().ToString();
    const auto self = net::Ipv6Address::FromIn6(attacker.link_local());
    const auto v2 = *net::Ipv6Address::Parse(net::kAllMldv2Routers);
    const std::vector<net::MldRecord> leaves = {{net::RecordType::kChangeToInclude, group, {}},
                                                {net::RecordType::kModeIsInclude, group, {}},
                                                {net::RecordType::kBlockOldSources, group, {self}}};
    for (int round = 0; round < 3; ++round) {
      ASSERT_TRUE(raw->Send(attacker.ifindex(), self, v2, net::EncodeMldv2Report(leaves)).ok());
      ASSERT_TRUE(raw->Send(attacker.ifindex(), self, *net::Ipv6Address::Parse(net::kAllRouters),
                            net::EncodeMldv1(net::MldType::kV1Done, group))
                      .ok());
    }
  }
  ASSERT_TRUE(WaitUntil([&] { return stats_.refused_leaves.load() >= 3; }, 5s))
      << stats_.refused_leaves.load() << " leaves refused";
  // The stream goes on past the Last Listener Query Time (2 s).
  const auto tally = a.Count(export_.big_chunk1, ObjectKind::kChunk, 2500ms);
  EXPECT_GT(tally.packets, 1000u);
  EXPECT_EQ(stats_.active_objects.load(), 1u);
  EXPECT_EQ(stats_.leaves.load(), 0u);
}

// Maximum Response Code 0xffff: the longest delay MLDv2 can ask for (2.3 h).
constexpr net::Millis kLongestResponseDelay{8'387'584};

// Sends MLD messages from `host` with any link-local source address
// (net.ipv6.ip_nonlocal_bind in its namespace), as a forger on the link would.
class MldForger {
 public:
  explicit MldForger(const Host& host) : host_(host) {
    EXPECT_TRUE(host.Run({"sysctl", "-qw", "net.ipv6.ip_nonlocal_bind=1"}).ok());
    auto guard = host.Enter();
    EXPECT_TRUE(guard.ok()) << guard.status().ToString();
    auto raw = net::MldSocket::Open();
    EXPECT_TRUE(raw.ok()) << raw.status().ToString();
    if (raw.ok()) raw_.emplace(std::move(*raw));
  }
  Status Send(const net::Ipv6Address& from, const net::Ipv6Address& to,
              std::span<const uint8_t> message) {
    if (!raw_) return Status::Error(EBADF, "no raw MLD socket");
    return raw_->Send(host_.ifindex(), from, to, message);
  }

 private:
  const Host& host_;
  std::optional<net::MldSocket> raw_;
};

TEST_P(ListenerTrackingTest, SpecificQueryWithTheLongestDelayNeitherStopsNorProlongsAStream) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Receiver a(bed_->host(1));
  ASSERT_TRUE(a.Join(export_.big_chunk1).ok());
  ASSERT_TRUE(WaitUntil([&] { return stats_.tracked_hosts.load() == 1; }, 5s));

  // Host 3, from an address above the exporter's (so it does not take over
  // as querier), asks the group's listeners to answer within 2.3 hours. The
  // reader's kernel may take that long: the group must not end by the
  // timers meanwhile.
  MldForger forger(bed_->host(3));
  const net::Ipv6Address group = net::GroupAddress(export_.big_chunk1);
  net::MldQuery q;
  q.group = group;
  q.max_response_delay = kLongestResponseDelay;
  const auto from = *net::Ipv6Address::Parse("fe80::ffff:ffff:ffff:fffe");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(forger.Send(from, group, net::EncodeMldv2Query(q)).ok());

  // The stream goes on past the Last Listener Query Time (2 s) ...
  EXPECT_GT(a.Count(export_.big_chunk1, ObjectKind::kChunk, 2500ms).packets, 1000u);
  EXPECT_EQ(stats_.leaves.load(), 0u);
  // ... and the listener's own leave still ends it at once.
  ExpectStopWithin50ms(a, export_.big_chunk1);
}

TEST_P(ListenerTrackingTest, RogueQuerierSendingOnlyGeneralQueriesCannotKeepAStreamGoing) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Receiver a(bed_->host(1));
  ASSERT_TRUE(a.Join(export_.big_chunk1).ok());
  ASSERT_TRUE(WaitUntil([&] { return stats_.tracked_hosts.load() == 1; }, 5s));
  const uint64_t changes = stats_.querier_changes.load();

  // Host 3 takes over as querier from the lowest address there is and sends
  // General Queries only (never a specific one after a leave), asking for
  // answers within 2.3 hours: a router relying on the querier's timers
  // would keep the group for the listener interval after the leave.
  MldForger rogue(bed_->host(3));
  const auto from = *net::Ipv6Address::Parse("fe80::1");
  const auto all_nodes = *net::Ipv6Address::Parse(net::kAllNodes);
  net::MldQuery q;
  q.max_response_delay = kLongestResponseDelay;
  const auto query = net::EncodeMldv2Query(q);
  ASSERT_TRUE(rogue.Send(from, all_nodes, query).ok());
  std::atomic<bool> done{false};
  std::thread querier([&] {
    while (!done) {  // the rogue's query interval, not synchronisation
      (void)rogue.Send(from, all_nodes, query);
      std::this_thread::sleep_for(200ms);
    }
  });
  ASSERT_TRUE(WaitUntil([&] { return stats_.querier_changes.load() > changes; }, 5s));
  EXPECT_GT(a.Count(export_.big_chunk1, ObjectKind::kChunk, 500ms).packets, 50u);

  // Tracking resumes within our own query response interval (250 ms) of the
  // rogue's first query, so the leave ends the group long before the
  // listener interval (2.25 s here, 260 s by default).
  const auto stopped_after = LeaveAndTimeTheStop(a, export_.big_chunk1);
  done = true;
  querier.join();
  ASSERT_TRUE(stopped_after) << "the stream did not stop";
  EXPECT_LE(stopped_after->count(), 1000) << "ms from the leave to the stop";
}

TEST_P(ListenerTrackingTest, MldV1HostGetsItsObjectAndTheRfcTimersEndTheGroup) {
  ASSERT_TRUE(bed_->host(1).SetMldVersion(1).ok());
  ASSERT_NO_FATAL_FAILURE(Start());
  Receiver a(bed_->host(1));
  auto chunk = a.Fetch(export_.big_chunk1, ObjectKind::kChunk, 10s, /*leave=*/false);
  ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
  EXPECT_GE(stats_.rfc_fallbacks.load(), 1u);
  const auto stopped_after = LeaveAndTimeTheStop(a, export_.big_chunk1);
  ASSERT_TRUE(stopped_after) << "the Done and the queries did not end the group";
  // Done, two queries 1 s apart, no answer: the Last Listener Query Time.
  EXPECT_GE(stopped_after->count(), 1500);
  EXPECT_LE(stopped_after->count(), 3000);
  EXPECT_EQ(stats_.fast_leaves.load(), 0u);
}

TEST_P(ListenerTrackingTest, LateJoinerKeepsTheStreamInFlightAndNeedsOnlyTheRest) {
  ASSERT_NO_FATAL_FAILURE(Start(10'000'000));
  Receiver a(bed_->host(1)), b(bed_->host(2));
  ASSERT_TRUE(a.Join(export_.big_chunk1).ok());
  // A counts every symbol of the stream while B comes and goes: a stream
  // restarted for B would send A symbols it already has.
  Receiver::Tally seen_by_a;
  std::thread counter([&] { seen_by_a = a.Count(export_.big_chunk1, ObjectKind::kChunk, 2500ms); });
  const uint64_t k = kChunk / kShareSymbolSize + 1;
  ASSERT_TRUE(WaitUntil([&] { return stats_.symbols_sent.load() >= k / 2; }, 5s));
  const uint64_t at_join = stats_.symbols_sent.load();
  auto got = b.Fetch(export_.big_chunk1, ObjectKind::kChunk, 10s, /*leave=*/false);
  const uint64_t at_decode = stats_.symbols_sent.load();
  counter.join();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(seen_by_a.duplicates, 0u) << "the stream restarted when B joined";
  EXPECT_GT(at_join, 0u);
  // From its join B needed about K symbols (plus one turn in flight), not
  // the object from the start.
  EXPECT_LE(at_decode - at_join, k + k / 10 + 64) << "K = " << k;
}

INSTANTIATE_TEST_SUITE_P(Snooping, ListenerTrackingTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "On" : "Off"; });

class LcfsExportTest : public ShareEngineTest {
 protected:
  Result<testbed::Subprocess> Start(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {kExportProgram, "--iface",      "lan0", "--mld-query-interval",
                                     "1s",           "--chunk-size", "256K", "--rate",
                                     "50M",          "--settle",     "200ms"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(export_.dir);
    return exporter().Spawn(argv);
  }
  // Waits for the `n`th stdout line of `p`.
  std::optional<std::string> Line(const testbed::Subprocess& p, size_t n,
                                  std::chrono::milliseconds timeout = 10s) {
    std::optional<std::string> line;
    WaitUntil(
        [&] {
          auto lines = Lines(p.Stdout());
          if (lines.size() >= n) line = lines[n - 1];
          return line.has_value();
        },
        timeout);
    return line;
  }
};

TEST_F(LcfsExportTest, PrintsTheRootHashFirstAndServesIt) {
  auto p = Start();
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto hash = Line(*p, 1);
  ASSERT_TRUE(hash) << p->Stderr();
  EXPECT_EQ(*hash, export_.index.root.ToHex());
  // The hint follows the HASH line: wait for it, bounded.
  EXPECT_TRUE(WaitUntil(
      [&] { return p->Stderr().find("mount -t fuse.lcfs " + *hash) != std::string::npos; }, 5s))
      << p->Stderr();
  Receiver a(bed_->host(1));
  auto dir = a.Fetch(export_.index.root, ObjectKind::kDirectory);
  EXPECT_TRUE(dir.ok()) << dir.status().ToString();
  auto chunk = a.Fetch(export_.big_chunk1, ObjectKind::kChunk);
  EXPECT_TRUE(chunk.ok()) << chunk.status().ToString();
  ASSERT_TRUE(p->Signal(SIGUSR1).ok());
  EXPECT_TRUE(WaitUntil([&] { return p->Stderr().find("statistics:") != std::string::npos; }, 5s));
  EXPECT_EQ(p->Stop(SIGTERM, 5s), 0);
}

TEST_F(LcfsExportTest, ChangeInDirPublishesANewHashAndTheOldOneKeepsServing) {
  auto p = Start({"--grace", "30s"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto first = Line(*p, 1);
  ASSERT_TRUE(first) << p->Stderr();
  WriteFile(export_.dir + "/sub/added", RandomBytes(20'000, 5));
  auto second = Line(*p, 2);
  ASSERT_TRUE(second) << p->Stderr();
  EXPECT_NE(*second, *first);
  index::IndexOptions io;
  io.chunk_size = kChunk;
  auto now = index::IndexPath(export_.dir, io);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(*second, now->root.ToHex());

  Receiver a(bed_->host(1));
  auto fresh = a.Fetch(now->root, ObjectKind::kDirectory);
  EXPECT_TRUE(fresh.ok()) << fresh.status().ToString();
  auto old = a.Fetch(*Hash::FromHex(*first), ObjectKind::kDirectory);
  EXPECT_TRUE(old.ok()) << "old root not served in the grace period: " << old.status().ToString();
  EXPECT_EQ(p->Stop(SIGTERM, 5s), 0);
}

TEST_F(LcfsExportTest, SighupReindexes) {
  auto p = Start({"--no-watch"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto first = Line(*p, 1);
  ASSERT_TRUE(first) << p->Stderr();
  WriteFile(export_.dir + "/added", RandomBytes(2000, 6));
  ASSERT_TRUE(p->Signal(SIGHUP).ok());
  auto second = Line(*p, 2);
  ASSERT_TRUE(second) << p->Stderr();
  EXPECT_NE(*second, *first);
  EXPECT_EQ(p->Stop(SIGTERM, 5s), 0);
}

TEST_F(LcfsExportTest, FileModifiedBehindItsBackIsNotSentAndTriggersAReindex) {
  auto p = Start({"--no-watch"});  // only the exporter's own check can notice
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto first = Line(*p, 1);
  ASSERT_TRUE(first) << p->Stderr();
  const std::vector<uint8_t> changed = ChangeBehindItsBack(export_, kChunk + 99, 0x80);

  Receiver a(bed_->host(1));
  ASSERT_TRUE(a.Join(export_.big_chunk1).ok());
  auto second = Line(*p, 2);  // re-indexed because of the mismatch
  ASSERT_TRUE(second) << p->Stderr();
  EXPECT_NE(*second, *first);
  // Still joined to the old chunk, which the old index keeps in its grace
  // period: it stays refused, without a re-index loop.
  EXPECT_EQ(a.Count(export_.big_chunk1, ObjectKind::kChunk, 1000ms).packets, 0u);
  EXPECT_EQ(a.counters().accepted, 0u);
  const std::string err = p->Stderr();
  EXPECT_EQ(Occurrences(err, "changed behind our back"), 1u) << err;
  // The changed chunk is served under its new name.
  auto tree = index::FileTree::FromData(changed, kChunk);
  auto fresh = a.Fetch(tree->leaves()[1], ObjectKind::kChunk);
  EXPECT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_EQ(p->Stop(SIGTERM, 5s), 0);
}

TEST_F(LcfsExportTest, SigtermMidTransferExitsZeroAndLeavesNothingBehind) {
  auto p = Start({"--rate", "5M"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE(Line(*p, 1)) << p->Stderr();
  Receiver a(bed_->host(1));
  ASSERT_TRUE(a.Join(export_.big_chunk1).ok());
  ASSERT_GT(a.Count(export_.big_chunk1, ObjectKind::kChunk, 500ms).packets, 10u);
  const pid_t pid = p->pid();
  const int status = p->Stop(SIGTERM, 5s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << testbed::DescribeWaitStatus(status);
  EXPECT_NE(kill(pid, 0), 0);  // gone (reaped)
  // Nothing is sent any more, and the multicast-routing socket was released:
  // a new one in the same host gets it.
  a.Drain();
  EXPECT_EQ(a.Count(export_.big_chunk1, ObjectKind::kChunk, 300ms).packets, 0u);
  auto guard = exporter().Enter();
  auto mld = net::MldSocket::Open();
  ASSERT_TRUE(mld.ok()) << mld.status().ToString();
  EXPECT_TRUE(mld->receives_mldv1_reports());
}

// Waits until `rx` receives packets of `hash` again (the stream is back).
bool StreamComesBack(Receiver& rx, const Hash& hash, std::chrono::seconds timeout) {
  return WaitUntil([&] { return rx.Count(hash, ObjectKind::kChunk, 200ms).packets > 0; }, timeout);
}

TEST_F(LcfsExportTest, LinkDownPausesWithoutSpinningAndTheStreamResumesWhenItIsBack) {
  auto p = Start();
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE(Line(*p, 1)) << p->Stderr();
  Receiver rx(bed_->host(1));
  ASSERT_TRUE(rx.Join(export_.big_chunk1).ok());  // stays: the stream never ends by itself
  ASSERT_TRUE(StreamComesBack(rx, export_.big_chunk1, 10s)) << p->Stderr();

  ASSERT_TRUE(exporter().Run({"ip", "link", "set", "lan0", "down"}).ok());
  ASSERT_TRUE(WaitUntil([&] { return p->Stderr().find("lan0 is down") != std::string::npos; }, 10s))
      << p->Stderr();
  EXPECT_LT(CpuShare(p->pid(), 2s), 0.05) << "share of a core used while the link is down";

  ASSERT_TRUE(exporter().Run({"ip", "link", "set", "lan0", "up"}).ok());
  rx.Drain();
  EXPECT_TRUE(StreamComesBack(rx, export_.big_chunk1, 20s)) << p->Stderr();
  EXPECT_NE(p->Stderr().find("lan0 is up"), std::string::npos) << p->Stderr();
  // Errors are told once per episode, not per packet.
  EXPECT_LE(Occurrences(p->Stderr(), "pausing this interface"), 1u) << p->Stderr();
}

TEST_F(LcfsExportTest, InterfaceDeletedAndRecreatedIsServedAgain) {
  auto p = Start();
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE(Line(*p, 1)) << p->Stderr();
  Receiver rx(bed_->host(1));
  ASSERT_TRUE(rx.Join(export_.big_chunk1).ok());
  ASSERT_TRUE(StreamComesBack(rx, export_.big_chunk1, 10s)) << p->Stderr();

  // Deleting lan0 deletes its veth pair: host 0 is off the LAN.
  ASSERT_TRUE(exporter().Run({"ip", "link", "del", "lan0"}).ok());
  ASSERT_TRUE(
      WaitUntil([&] { return p->Stderr().find("lan0 went away") != std::string::npos; }, 10s))
      << p->Stderr();
  EXPECT_LT(CpuShare(p->pid(), 1s), 0.05) << "share of a core used without an interface";

  // A new lan0 (another ifindex) on the bridge: served again by name.
  ASSERT_TRUE(exporter()
                  .Run({"ip", "link", "add", "name", "lan0", "type", "veth", "peer", "name", "p0",
                        "netns", bed_->bridge_netns()})
                  .ok());
  ASSERT_TRUE(bed_->RunInBridge({"ip", "link", "set", "p0", "master", "br0", "up"}).ok());
  ASSERT_TRUE(exporter().Run({"ip", "link", "set", "lan0", "up"}).ok());
  ASSERT_TRUE(
      WaitUntil([&] { return p->Stderr().find("lan0 appeared") != std::string::npos; }, 20s))
      << p->Stderr();
  rx.Drain();
  EXPECT_TRUE(StreamComesBack(rx, export_.big_chunk1, 20s)) << p->Stderr();
}

// The uid of a running process, from /proc/PID/status ("Uid: real effective ...").
std::optional<uid_t> EffectiveUid(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "Uid:") {
      uid_t real, effective;
      in >> real >> effective;
      return effective;
    }
  }
  return std::nullopt;
}

// The value of `name` in the last statistics line of lcfs-export's stderr.
std::optional<uint64_t> LastStat(const std::string& err, const std::string& name) {
  const size_t line = err.rfind("statistics:");
  if (line == std::string::npos) return std::nullopt;
  const size_t at = err.find(", " + name + " ", line);
  if (at == std::string::npos) return std::nullopt;
  return std::stoull(err.substr(at + name.size() + 3));
}

// Asks `p` for its statistics (SIGUSR1) and returns the value of `name`.
std::optional<uint64_t> Stat(testbed::Subprocess& p, const std::string& name) {
  const size_t before = Occurrences(p.Stderr(), "statistics:");
  if (!p.Signal(SIGUSR1).ok()) return std::nullopt;
  if (!WaitUntil([&] { return Occurrences(p.Stderr(), "statistics:") > before; }, 5s))
    return std::nullopt;
  return LastStat(p.Stderr(), name);
}

// Resident memory of a process, in KiB (0 if unknown).
uint64_t RssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

TEST_F(LcfsExportTest, ReportFloodForUnservedGroupsCostsNoMemoryAndReadsGoOn) {
  auto p = Start({"--no-index-cache"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE(Line(*p, 1)) << p->Stderr();
  Receiver a(bed_->host(1));
  // One read first, so the baseline has had an encoder's buffers.
  ASSERT_TRUE(a.Fetch(export_.big_chunk1, ObjectKind::kChunk).ok());
  ASSERT_TRUE(WaitUntil([&] { return Stat(*p, "active objects") == 0u; }, 10s));
  const uint64_t baseline = RssKiB(p->pid());
  ASSERT_GT(baseline, 0u);

  // Host 2 reports joins of random groups with the lcfs prefix, 64 a
  // report, each report from another forged address: 192,000 records.
  MldForger forger(bed_->host(2));
  const auto routers = *net::Ipv6Address::Parse(net::kAllMldv2Routers);
  std::mt19937_64 rng(18);
  uint64_t sent = 0;
  std::thread flood([&] {
    for (int m = 0; m < 3000; ++m) {
      auto from = *net::Ipv6Address::Parse("fe80::");
      for (int i = 8; i < 16; ++i) from.bytes[i] = static_cast<uint8_t>(rng());
      std::vector<net::MldRecord> records;
      for (int r = 0; r < 64; ++r) {
        Hash h;
        for (auto& b : h.bytes) b = static_cast<uint8_t>(rng());
        records.push_back({net::RecordType::kChangeToExclude, net::GroupAddress(h), {}});
      }
      if (forger.Send(from, routers, net::EncodeMldv2Report(records)).ok()) sent += records.size();
    }
  });
  // A legitimate read during the flood.
  const Hash chunk2 = index::FileTree::FromData(export_.big, kChunk)->leaves()[2];
  auto got = a.Fetch(chunk2, ObjectKind::kChunk, 30s);
  flood.join();
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_GT(sent, 0u);

  // Counted, refused, and no memory kept for them.
  const auto ignored = Stat(*p, "reports for unserved groups");
  ASSERT_TRUE(ignored);
  EXPECT_GE(*ignored, 1000u) << sent << " records sent";
  EXPECT_LE(*ignored, sent + 1000) << "records of other hosts aside";
  EXPECT_EQ(Stat(*p, "tracked listeners"), 0u);
  const uint64_t after = RssKiB(p->pid());
  std::cout << "exporter RSS " << baseline << " KiB before, " << after << " KiB after " << sent
            << " records (" << *ignored << " counted as unserved)\n";
  EXPECT_LE(after, baseline + 4096) << "KiB";
  EXPECT_EQ(p->Stop(SIGTERM, 5s), 0);
}

TEST_F(LcfsExportTest, KilledAndRestartedMidReadTheReadResumesWithinAboutASecond) {
  // Default MLD timers: the start-up queries' response delay sets the stall.
  const std::vector<std::string> argv = {
      kExportProgram, "--iface",  "lan0",  "--chunk-size",     "256K",     "--rate",
      "1M",           "--settle", "200ms", "--no-index-cache", export_.dir};
  auto first = exporter().Spawn(argv);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(Line(*first, 1)) << first->Stderr();
  Receiver a(bed_->host(1));
  const Hash& chunk = export_.big_chunk1;
  ASSERT_TRUE(a.Join(chunk).ok());

  std::optional<fec::ObjectDecoder> decoder;
  std::optional<testbed::Subprocess> second;
  Status restart;
  size_t packets = 0;
  uint32_t next_esi = 0;  // past the highest ESI the first exporter sent
  Clock::time_point restarted{}, resumed{};
  const bool done = a.Receive(chunk, ObjectKind::kChunk, 60s, [&](const net::PacketView& v) {
    if (!decoder) {
      auto d = fec::ObjectDecoder::Create(*fec::Oti::Decode(v.header.oti));
      if (!d.ok()) return false;
      decoder.emplace(std::move(*d));
    }
    if (++packets == 30) {  // mid-object: SIGKILL and start again
      (void)first->Signal(SIGKILL);
      first->Wait(5s);
      a.Drain();  // what the first one sent
      restarted = Clock::now();
      auto p = exporter().Spawn(argv);
      if (!p.ok()) {
        restart = p.status();
        return true;
      }
      second.emplace(std::move(*p));
      return false;
    }
    auto id = fec::PayloadId::Decode(v.header.payload_id);
    // The new exporter starts the stream over from ESI 0; packets of the
    // first one still in flight come from where it was.
    if (restarted == Clock::time_point{}) {
      next_esi = std::max(next_esi, id->esi + 1);
    } else if (resumed == Clock::time_point{} && id->esi + 10 < next_esi) {
      resumed = Clock::now();
    }
    auto r = decoder->Add(id->sbn, id->esi, v.symbol);
    return r.ok() && *r == fec::DecodeProgress::kComplete;
  });
  ASSERT_TRUE(restart.ok()) << restart.ToString();
  ASSERT_TRUE(done) << packets << " packets";
  ASSERT_NE(resumed, Clock::time_point{});
  EXPECT_EQ(ObjectHash(ObjectKind::kChunk, decoder->TakeObject()), chunk);
  const auto stall = std::chrono::duration_cast<std::chrono::milliseconds>(resumed - restarted);
  std::cout << "stream resumed " << stall.count() << " ms after the exporter was started again\n";
  // Indexing, then the listener answers the start-up query within its 1 s
  // delay (the 10 s query response interval would allow up to 10 s).
  EXPECT_LE(stall.count(), 4000);
  EXPECT_EQ(second->Stop(SIGTERM, 5s), 0);
}

TEST_F(LcfsExportTest, UserOptionDropsRootAfterOpeningTheRawSocket) {
  // nobody must be able to read the tree it serves.
  ASSERT_EQ(chmod(export_.dir.c_str(), 0755), 0);
  auto p = Start({"--user", "nobody"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE(Line(*p, 1)) << p->Stderr();
  EXPECT_EQ(EffectiveUid(p->pid()), 65534u);
  Receiver a(bed_->host(1));  // MLD snooping and sending still work
  auto chunk = a.Fetch(export_.big_chunk1, ObjectKind::kChunk);
  EXPECT_TRUE(chunk.ok()) << chunk.status().ToString() << "\n" << p->Stderr();
  EXPECT_EQ(p->Stop(SIGTERM, 5s), 0);
}

TEST_F(LcfsExportTest, WithoutCapNetRawItFailsWithAClearError) {
  auto p = exporter().Spawn({"setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw",
                             kExportProgram, "--iface", "lan0", export_.dir});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto status = p->Wait(20s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1)
      << testbed::DescribeWaitStatus(*status);
  EXPECT_NE(p->Stderr().find("CAP_NET_RAW"), std::string::npos) << p->Stderr();
  EXPECT_EQ(p->Stdout(), "");  // no HASH for something that is not served
}

TEST_F(LcfsExportTest, SpecialFilesAreSkippedWithAWarningAndSymlinksKept) {
  ASSERT_EQ(mkfifo((export_.dir + "/fifo").c_str(), 0644), 0);
  std::filesystem::create_symlink("/etc/passwd", export_.dir + "/link");
  auto p = Start();
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto hash = Line(*p, 1);
  ASSERT_TRUE(hash) << p->Stderr();
  EXPECT_NE(p->Stderr().find("fifo"), std::string::npos) << p->Stderr();
  Receiver a(bed_->host(1));
  auto dir = a.Fetch(*Hash::FromHex(*hash), ObjectKind::kDirectory);
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  auto decoded = index::DecodeDirectory(*dir);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->Find("fifo"), nullptr);
  const index::DirEntry* link = decoded->Find("link");
  ASSERT_NE(link, nullptr);
  EXPECT_EQ(link->type, index::EntryType::kSymlink);
  EXPECT_EQ(link->symlink_target, "/etc/passwd");
  EXPECT_EQ(p->Stop(SIGTERM, 5s), 0);
}

// Bad input fails before any network is touched: no testbed needed.
TEST(LcfsExportCli, BadInputGivesAClearErrorAndNonZeroExit) {
  struct Case {
    std::vector<std::string> args;
    int exit;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"/nonexistent/dir"}, 1, "No such file or directory"},
      {{"/etc/hostname"}, 1, "not a directory"},
      {{"--frobnicate", "/tmp"}, 2, "unknown option '--frobnicate'"},
      {{"--rate", "fast", "/tmp"}, 2, "--rate"},
      {{"--chunk-size", "1000", "/tmp"}, 2, "--chunk-size"},
      {{}, 2, "missing DIR"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {kExportProgram};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const auto run = lcfs::testing::RunProgram(argv);
    EXPECT_EQ(run.code, c.exit) << c.args.size() << ": " << run.err;
    EXPECT_NE(run.err.find(c.message), std::string::npos) << run.err;
    EXPECT_EQ(run.out, "");
  }
  const auto help = lcfs::testing::RunProgram({kExportProgram, "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--rate"), std::string::npos);
}

}  // namespace
}  // namespace lcfs::share
