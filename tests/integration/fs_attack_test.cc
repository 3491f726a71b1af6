// A mount read while a third host attacks the groups it joins (issue 18
// point 2, through the mount): under its own address, garbage under bogus
// OTIs on every group of the tree, before and while the exporter sends. The
// read is compared with the same read alone (another mount, a fresh cache);
// the daemon's peak resident memory is bounded, and its metrics show the
// refused packets. Bounds asserted generously (a loaded CI machine); the
// figures go to the output.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/http_get.h"
#include "common/mount_fixture.h"
#include "common/testbed_fixture.h"
#include "common/tool_run.h"
#include "common/wait.h"
#include "lcfs/index/indexer.h"
#include "unit/sync/symbol_sender.h"
#include "unit/sync/tree_listing.h"

namespace lcfs {
namespace {

using namespace std::chrono_literals;
using lcfs::testing::kExportProgram;
using lcfs::testing::kLcfsProgram;
using lcfs::testing::RandomString;
using lcfs::testing::Sh;
using sync::testing::WriteAll;

constexpr uint64_t kChunk = 1 << 20;
constexpr int kMetricsPort = 9466;

// The value of the sample `series` in a scrape; -1 if absent.
double Value(const std::string& exposition, const std::string& series) {
  const size_t pos = exposition.find("\n" + series + " ");
  if (pos == std::string::npos) return -1;
  return std::strtod(exposition.c_str() + pos + series.size() + 2, nullptr);
}

// A process's peak resident set (VmHWM), bytes; 0 if unknown.
uint64_t PeakResident(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  uint64_t kb = 0;
  while (in >> key) {
    if (key == "VmHWM:") {
      in >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

struct MountedRead {
  double seconds = 0;  // from starting the daemon to the last byte read
  uint64_t peak_resident = 0;
  std::string digest, metrics;
};

class FsAttackTest : public lcfs::testing::ExportTestbedTest {
 protected:
  void SetUp() override {
    if (!StartTestbedWithDirs({kExportProgram, kLcfsProgram}, 3, "fs-attack")) return;
    for (int i = 0; i < 12; ++i)
      WriteAll(src_ + "/f" + std::to_string(i), RandomString(3000 + 7 * i, i));
    WriteAll(src_ + "/sub/big", RandomString(6 * kChunk + 5, 42));
    index::IndexOptions io;
    io.chunk_size = kChunk;
    io.warn = [](const std::string&) {};
    auto index = index::IndexPath(src_, io);
    ASSERT_TRUE(index.ok());
    ASSERT_TRUE(sync::testing::CollectObjects(*index->mdex, index->root, src_, &objects_).ok());
    root_ = index->root.ToHex();
    ASSERT_EQ(StartExporter({kExportProgram, "--iface", "lan0", "--no-watch", "--no-index-cache",
                             "--rate", "200M", "--mld-query-interval", "1s", "--quiet", src_}),
              root_);
  }

  // Mounts the tree on host 1 (a fresh cache `tag`), reads every file and
  // unmounts; the daemon runs in the foreground so its pid is ours.
  MountedRead MountAndRead(const std::string& tag) {
    MountedRead r;
    const std::string mnt = base_ + "/mnt-" + tag;
    std::filesystem::create_directories(mnt);
    bed_->TrackMount(mnt);
    const auto start = std::chrono::steady_clock::now();
    auto daemon = bed_->host(1).Spawn({kLcfsProgram, root_, mnt, "-f", "-o",
                                       "iface=lan0,timeout=30,cache=" + base_ + "/cache-" + tag +
                                           ",metrics=127.0.0.1:" + std::to_string(kMetricsPort)});
    EXPECT_TRUE(daemon.ok()) << daemon.status().ToString();
    if (!daemon.ok()) return r;
    if (!lcfs::testing::WaitMounted(mnt, true, 120s)) {
      ADD_FAILURE() << "not mounted: " << daemon->Stderr();
      return r;
    }
    r.digest = Sh("cd " + mnt +
                  " && tar cf - --sort=name --owner=0 --group=0 --mtime=@0 . | "
                  "sha256sum");
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.peak_resident = PeakResident(daemon->pid());
    {
      auto in_host = bed_->host(1).Enter();
      if (in_host.ok()) r.metrics = lcfs::testing::HttpGetLoopback(kMetricsPort);
    }
    lcfs::testing::DetachMounts(mnt);
    daemon->Stop(SIGTERM, 10s);
    return r;
  }

  std::string root_;
  std::vector<sync::testing::Object> objects_;
};

TEST_F(FsAttackTest, BogusOtisFromAThirdHostCostAMountNeitherTimeNorMemory) {
  const std::string expected =
      Sh("cd " + src_ + " && tar cf - --sort=name --owner=0 --group=0 --mtime=@0 . | sha256sum");
  MountedRead under;
  {
    sync::testing::SymbolSender::Options hostile;
    hostile.bogus_otis = 4;
    hostile.packets_per_second = 5000;
    hostile.burst = 1;
    sync::testing::SymbolSender sender(bed_->host(2), objects_, hostile);
    ASSERT_TRUE(lcfs::testing::WaitUntil(
        [&] { return sender.packets_sent() > 1000 || !sender.error().ok(); }, 30s));
    ASSERT_TRUE(sender.error().ok()) << sender.error().ToString();
    under = MountAndRead("attacked");
  }
  const MountedRead alone = MountAndRead("alone");
  EXPECT_EQ(under.digest, expected);
  EXPECT_EQ(alone.digest, expected);
  // The attack reached the mount and was refused before it took memory.
  EXPECT_GT(Value(under.metrics, "lcfs_mount_wrong_oti_packets_total"), 0) << under.metrics;
  EXPECT_GE(Value(under.metrics, "lcfs_mount_decoder_memory_peak_bytes"), 0) << under.metrics;
  EXPECT_LT(under.seconds, alone.seconds + 10);
  EXPECT_LT(under.peak_resident, 400u << 20);
  printf(
      "figure: bogus-OTI attack through a mount: alone %.2f s, attacked %.2f s (delay %+.2f s); "
      "peak resident %.1f MB attacked, %.1f MB alone; %.0f packets of a wrong OTI, %.0f found "
      "no decoder, decoder memory peak %.0f bytes\n",
      alone.seconds, under.seconds, under.seconds - alone.seconds, under.peak_resident / 1e6,
      alone.peak_resident / 1e6, Value(under.metrics, "lcfs_mount_wrong_oti_packets_total"),
      Value(under.metrics, "lcfs_mount_no_decoder_packets_total"),
      Value(under.metrics, "lcfs_mount_decoder_memory_peak_bytes"));
}

}  // namespace
}  // namespace lcfs
