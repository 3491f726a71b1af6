// A hostile publisher's "path bomb" over the network (issue 18 point 6): a
// root directory whose 100,000 entries all name one shared directory,
// encoded as docs/protocol.md section 3 says and served on the testbed's LAN
// by the share engine (host 0) from an in-memory index (a fake publisher).
//  - The real `lcfs` mount (host 1) walks `stat` over 2,000 distinct paths
//    root/dN/child of a 20,000-entry shared directory (about 3 MB decoded).
//  - The real `lcfs-sync` (host 1) syncs a tree whose shared directory holds
//    1,000 inline files of 4 KiB (about 4 MB decoded) until it has begun the
//    41st copy (the whole tree is 100,000 copies), then is killed.
// Each process's resident memory must stay under 128 MiB throughout: one
// decoded copy of each distinct object (the mount's and lcfs-sync's
// DirectoryCache hold at most 64 MiB), the root object (6.3 MB on the wire,
// about 20 MB decoded), a decoder, lcfs-sync's batch of pending files and the
// program itself fit with room to spare (measured: under 50 MB). A copy per
// path would pass the bound within 45 paths: the memory is sampled every 10
// paths (the mount) or every 5 ms (lcfs-sync), and the walk stops and fails
// as soon as the bound is passed, so a regression fails fast instead of
// exhausting the machine. (Checked by hand against a build that decodes and
// keeps a copy per path: the mount passes 1 GB within 50 paths, lcfs-sync
// the bound within its first 40 copies.)
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "common/mount_fixture.h"
#include "common/testbed_fixture.h"
#include "common/tool_run.h"
#include "common/wait.h"
#include "lcfs/index/directory.h"
#include "lcfs/index/indexer.h"
#include "lcfs/index/mdex.h"
#include "lcfs/net/mld_timers.h"
#include "lcfs/object.h"
#include "lcfs/share/share.h"

namespace lcfs {
namespace {

using namespace std::chrono_literals;
using lcfs::testing::kLcfsProgram;
using lcfs::testing::kSyncProgram;

constexpr int kRootEntries = 100'000;
constexpr int kPathsWalked = 2'000;
constexpr int kCopiesSynced = 40;
constexpr uint64_t kResidentBound = uint64_t{128} << 20;

std::string Name(const char* prefix, int i) {
  char buf[48];
  snprintf(buf, sizeof buf, "%s%06d", prefix, i);
  return buf;
}

// A field of /proc/PID/status in bytes (VmRSS, VmHWM); 0 if unknown.
uint64_t StatusBytes(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  uint64_t kb = 0;
  while (in >> key) {
    if (key == field + ":") {
      in >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

// The path bomb as an index the share engine serves: two directory objects
// owned by the mdex, no file behind them. The shared directory holds
// `files` inline files of `file_size` bytes.
index::IndexResult PathBombIndex(int files, size_t file_size) {
  index::IndexResult result;
  result.mdex = std::make_shared<index::Mdex>();
  result.chunk_size = 1 << 20;
  auto put = [&](const index::Directory& dir) {
    std::vector<uint8_t> bytes = index::EncodeDirectory(dir).value();
    const Hash h = ObjectHash(ObjectKind::kDirectory, bytes);
    const uint64_t size = bytes.size();
    result.mdex->Put(h, ObjectKind::kDirectory, std::move(bytes));
    return std::make_pair(h, size);
  };
  index::Directory inner;
  inner.chunk_size = result.chunk_size;
  for (int i = 0; i < files; ++i) {
    index::DirEntry e;
    e.name = Name("file-with-a-longish-name-", i);
    e.mode = 0644;
    e.is_inline = true;
    e.size = file_size;
    e.inline_data.assign(file_size, static_cast<uint8_t>('a' + i % 26));
    inner.entries.push_back(e);
  }
  const auto [inner_hash, inner_size] = put(inner);
  index::Directory root;
  root.chunk_size = result.chunk_size;
  for (int i = 0; i < kRootEntries; ++i) {
    index::DirEntry e;
    e.name = Name("d", i);
    e.type = index::EntryType::kDirectory;
    e.mode = 0755;
    e.hash = inner_hash;
    e.size = inner_size;
    root.entries.push_back(e);
  }
  std::tie(result.root, result.root_size) = put(root);
  return result;
}

class PathBombTest : public lcfs::testing::ProgramsTestbedTest {
 protected:
  void SetUp() override { StartTestbed({kLcfsProgram, kSyncProgram}, 2, "path-bomb"); }
  // Serves `index` from host 0.
  void Serve(index::IndexResult index) {
    index_ = std::move(index);
    share::ShareOptions o;
    o.rate_bps = 200'000'000;
    o.mld_timers = net::MldTimers::Fast(1000ms);
    auto guard = bed_->host(0).Enter();
    ASSERT_TRUE(guard.ok()) << guard.status().ToString();
    auto engine = share::Share(index_, bed_->host(0).ifindex(), &stats_, 0, o);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(*engine);
  }
  void TearDown() override {
    if (engine_) share::Unshare(std::move(engine_));
  }

  index::IndexResult index_;
  share::ShareStats stats_;
  share::ShareHandle engine_;
};

TEST_F(PathBombTest, MountStatsManyPathsUnderAFixedMemoryBound) {
  constexpr int kFiles = 20'000;
  ASSERT_NO_FATAL_FAILURE(Serve(PathBombIndex(kFiles, 0)));  // empty files
  const std::string mnt = base_ + "/mnt";
  std::filesystem::create_directories(mnt);
  bed_->TrackMount(mnt);
  auto daemon = bed_->host(1).Spawn({kLcfsProgram, index_.root.ToHex(), mnt, "-f", "-o",
                                     "iface=lan0,timeout=60,cache=" + base_ + "/cache"});
  ASSERT_TRUE(daemon.ok()) << daemon.status().ToString();
  ASSERT_TRUE(lcfs::testing::WaitMounted(mnt, true, 120s)) << daemon->Stderr();

  const auto start = std::chrono::steady_clock::now();
  int walked = 0;
  uint64_t resident = 0;
  for (; walked < kPathsWalked; ++walked) {
    // Distinct paths: a new dN each time, and a different child in it.
    const std::string path = mnt + "/" + Name("d", walked * (kRootEntries / kPathsWalked)) + "/" +
                             Name("file-with-a-longish-name-", (walked * 7) % kFiles);
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path << ": " << strerror(errno);
    ASSERT_TRUE(S_ISREG(st.st_mode)) << path;
    ASSERT_EQ(st.st_size, 0) << path;
    if (walked % 10 == 0) {
      resident = StatusBytes(daemon->pid(), "VmRSS");
      ASSERT_LT(resident, kResidentBound) << "after " << walked << " paths";
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const uint64_t peak = StatusBytes(daemon->pid(), "VmHWM");
  EXPECT_EQ(walked, kPathsWalked);
  EXPECT_GT(peak, 0u);
  EXPECT_LT(peak, kResidentBound);
  lcfs::testing::DetachMounts(mnt);
  daemon->Stop(SIGTERM, 10s);
  printf(
      "figure: path bomb through a mount: %d distinct paths stat'ed in %.2f s; the daemon's peak "
      "resident %.1f MB (bound %.0f MB)\n",
      walked, seconds, peak / 1e6, kResidentBound / 1e6);
}

TEST_F(PathBombTest, SyncWritesCopiesUnderAFixedMemoryBound) {
  constexpr int kFiles = 1'000;
  constexpr size_t kFileSize = 4096;
  ASSERT_NO_FATAL_FAILURE(Serve(PathBombIndex(kFiles, kFileSize)));
  const std::string dest = base_ + "/dest";
  auto sync = bed_->host(1).Spawn(
      {kSyncProgram, "--iface", "lan0", "--timeout", "60", index_.root.ToHex(), dest});
  ASSERT_TRUE(sync.ok()) << sync.status().ToString();
  // The whole tree is 100 million files: watch the memory until copy
  // kCopiesSynced + 1 is begun (files are written in batches of at most
  // 4,096, so by then the first kCopiesSynced - 4 are whole).
  uint64_t peak = 0;
  const bool begun = lcfs::testing::WaitUntil(
      [&] {
        peak = std::max(peak, StatusBytes(sync->pid(), "VmHWM"));
        return peak >= kResidentBound || !sync->running() ||
               std::filesystem::exists(dest + "/" + Name("d", kCopiesSynced));
      },
      300s);
  peak = std::max(peak, StatusBytes(sync->pid(), "VmHWM"));
  const bool was_running = sync->running();
  sync->Stop(SIGKILL, 10s);
  ASSERT_LT(peak, kResidentBound);
  ASSERT_TRUE(begun) << "copy " << kCopiesSynced + 1 << " not begun within the time";
  ASSERT_TRUE(was_running) << "lcfs-sync ended: " << sync->Stdout() << sync->Stderr();
  for (int d = 0; d < kCopiesSynced - 4; d += 7) {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dest + "/" + Name("d", d))) {
      EXPECT_EQ(e.file_size(), kFileSize) << e.path();
      ++n;
    }
    EXPECT_EQ(n, static_cast<size_t>(kFiles)) << Name("d", d);
  }
  printf(
      "figure: path bomb through lcfs-sync: %d copies of the %d-file directory written; peak "
      "resident %.1f MB (bound %.0f MB)\n",
      kCopiesSynced, kFiles, peak / 1e6, kResidentBound / 1e6);
}

}  // namespace
}  // namespace lcfs
