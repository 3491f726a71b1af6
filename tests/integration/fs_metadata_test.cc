// Metadata at scale through a real mount (the `lcfs` program, local=
// source): a tree of 20,000 files in 2,000 directories listed cold with
// `ls -lR` and `find`, complete and correct; the daemon forgets the inodes
// the kernel forgot (FORGET/BATCH_FORGET), so its inode count falls back
// and its memory stays flat over repeated `find` runs.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "common/mount_fixture.h"
#include "lcfs/index/indexer.h"
#include "testbed/subprocess.h"
#include "testbed/testbed.h"

namespace lcfs {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

using lcfs::testing::IsMounted;
const std::string& kLcfs = lcfs::testing::kLcfsProgram;

// Listings of the large tree take a while on a loaded machine.
std::string Sh(const std::string& script) { return lcfs::testing::Sh(script, nullptr, 600s); }

// A field of /proc/PID/status in kB ("VmRSS").
uint64_t StatusKb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1));
  return 0;
}

// Inodes the daemon holds: statfs's f_files (Filesystem::StatFs).
uint64_t DaemonInodes(const std::string& mnt) { return std::stoull(Sh("stat -f -c %c " + mnt)); }

// Makes the kernel drop unused dentries and inodes (and so send FORGETs).
void DropKernelInodes() { Sh("sync; echo 2 > /proc/sys/vm/drop_caches"); }

class FsMetadataTest : public lcfs::testing::MountTest {
 protected:
  FsMetadataTest() : MountTest("lcfs-fs-meta") {}
  void SetUp() override {
    LCFS_REQUIRE_TESTBED();
    MountTest::SetUp();
    // 2,000 directories (40 of 50 subdirectories) of 10 files each, sizes
    // from inline to a few chunks' worth of metadata.
    for (int a = 0; a < 40; ++a) {
      for (int b = 0; b < 50; ++b) {
        const std::string dir = src_ + "/d" + std::to_string(a) + "/s" + std::to_string(b);
        stdfs::create_directories(dir);
        for (int f = 0; f < 10; ++f) {
          std::ofstream out(dir + "/f" + std::to_string(f));
          out << std::string(static_cast<size_t>((a * 131 + b * 17 + f * 613) % 3000), 'x');
        }
      }
    }
    auto indexed = index::IndexPath(src_);
    ASSERT_TRUE(indexed.ok()) << indexed.status().ToString();
    root_ = indexed->root.ToHex();
  }
  void TearDown() override {
    lcfs::testing::DetachMounts(mnt_);
    if (daemon_) daemon_->Stop(SIGTERM, 10s);
  }

  void Mount() {
    auto daemon = testbed::Subprocess::Spawn(
        {kLcfs, "-f", root_, mnt_, "-o", "local=" + src_ + ",cache=" + base_ + "/cache"});
    ASSERT_TRUE(daemon.ok()) << daemon.status().ToString();
    daemon_.emplace(std::move(*daemon));
    // The foreground daemon mounts once the root is loaded: wait (bounded)
    // for the mount to appear.
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!IsMounted(mnt_) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(IsMounted(mnt_)) << daemon_->Stderr();
  }

  std::string root_;
  std::optional<testbed::Subprocess> daemon_;
};

TEST_F(FsMetadataTest, ColdListingOfTwentyThousandFilesIsCompleteAndCorrect) {
  Mount();
  const std::string find_fmt = " -printf '%P %y %s %m\\n' | sort";
  // Directories' sizes are their objects' lengths by design: compare the
  // rest for them.
  const std::string files = " ! -type d" + find_fmt;
  const std::string dirs = " -type d -printf '%P %m\\n' | sort";
  const std::string from_mount = Sh("find " + mnt_ + files);
  EXPECT_EQ(std::count(from_mount.begin(), from_mount.end(), '\n'), 20000);
  EXPECT_EQ(from_mount, Sh("find " + src_ + files));
  EXPECT_EQ(Sh("find " + mnt_ + dirs), Sh("find " + src_ + dirs));
  // ls -lR: the same names, modes and sizes of every file, per directory.
  const std::string ls = " && ls -lR --time-style=+ . | awk '/^-/ {print $1, $5, $7} /:$/'";
  EXPECT_EQ(Sh("cd " + mnt_ + ls), Sh("cd " + src_ + ls));
}

TEST_F(FsMetadataTest, ForgottenInodesLeaveTheDaemonAndItsMemoryStaysFlat) {
  Mount();
  ASSERT_TRUE(daemon_);
  const pid_t pid = daemon_->pid();
  std::vector<uint64_t> rss;
  for (int run = 0; run < 3; ++run) {
    Sh("find " + mnt_ + " -type f | wc -l");
    EXPECT_GE(DaemonInodes(mnt_), 20000u) << "run " << run;
    DropKernelInodes();
    // The kernel forgot (almost) everything, and so did the daemon.
    EXPECT_LT(DaemonInodes(mnt_), 100u) << "run " << run;
    rss.push_back(StatusKb(pid, "VmRSS"));
  }
  // The first run fills the allocator and the directory cache; later runs
  // reuse that memory instead of adding to it.
  EXPECT_LE(rss[2], rss[1] + 4096) << rss[0] << " " << rss[1] << " " << rss[2] << " kB";
}

}  // namespace
}  // namespace lcfs
