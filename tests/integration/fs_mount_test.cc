// The `lcfs` program mounted for real (local=DIR source) and exercised with
// ordinary tools: ls, find, stat, cat, cp, sha256sum, diff, tar, dd, head;
// writes refused; xattrs; mount -t fuse.lcfs through mount.fuse3 and an
// fstab line; unmount with open files; cache limit, restart reuse and
// offline use. Every mount is undone by a guard, even when a test fails.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "common/mount_fixture.h"
#include "common/random_bytes.h"
#include "lcfs/hash.h"
#include "lcfs/index/indexer.h"
#include "testbed/subprocess.h"
#include "testbed/testbed.h"

namespace lcfs {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;
using testbed::RunCommand;

using lcfs::testing::IsMounted;
using lcfs::testing::Sh;
using lcfs::testing::WaitMounted;
using lcfs::testing::WriteRandomFile;
const std::string& kLcfs = lcfs::testing::kLcfsProgram;

std::string GetXattr(const std::string& path, const std::string& name) {
  char buf[256];
  ssize_t n = ::getxattr(path.c_str(), name.c_str(), buf, sizeof buf);
  return n < 0 ? "<" + std::string(strerror(errno)) + ">"
               : std::string(buf, static_cast<size_t>(n));
}

class FsMountTest : public lcfs::testing::MountTest {
 protected:
  FsMountTest() : MountTest("lcfs-fs-test") {}
  void SetUp() override {
    LCFS_REQUIRE_TESTBED();
    MountTest::SetUp();
    stdfs::create_directories(src_ + "/dir/deeper");
    std::ofstream(src_ + "/hello.txt") << "hello, lcfs\n";
    std::ofstream(src_ + "/with space.txt") << "spaces are fine\n";
    std::ofstream(src_ + "/empty");
    std::ofstream(src_ + "/dir/deeper/note") << "deep\n";
    WriteRandomFile(src_ + "/dir/medium.bin", 3 * 1024 * 1024 + 17, 1);  // 4 chunks
    WriteRandomFile(src_ + "/big.bin", 24 * 1024 * 1024, 2);
    WriteRandomFile(src_ + "/dir/small.bin", 5000, 3);
    stdfs::create_symlink("hello.txt", src_ + "/link");
    stdfs::create_symlink("/nonexistent/target", src_ + "/dir/dangling");
    stdfs::permissions(src_ + "/dir/small.bin", stdfs::perms(0750));
    auto indexed = index::IndexPath(src_);
    ASSERT_TRUE(indexed.ok()) << indexed.status().ToString();
    root_ = indexed->root.ToHex();
  }

  // Mounts with the program (daemonizing: it returns once mounted).
  void MountLcfs(const std::string& extra = "") {
    std::string opts = "local=" + src_ + ",cache=" + cache_ + ",timeout=5";
    if (!extra.empty()) opts += "," + extra;
    std::string out;
    Status st = RunCommand({kLcfs, root_, mnt_, "-o", opts}, &out);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_TRUE(IsMounted(mnt_));
  }
  void Unmount() {
    std::string out;
    Status st = RunCommand({"fusermount3", "-u", mnt_}, &out);
    EXPECT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(WaitMounted(mnt_, false));
  }

  std::string root_;
};

TEST_F(FsMountTest, OrdinaryToolsSeeTheExportedTree) {
  MountLcfs();
  // Same names, types, sizes and modes as the source, in every tool's view.
  EXPECT_EQ(Sh("cd " + mnt_ + " && find . | sort"), Sh("cd " + src_ + " && find . | sort"));
  // Directory sizes differ by design (a directory's size is its object's).
  const std::string stat_fmt =
      "find . ! -type d -print0 | sort -z | xargs -0 stat -c '%n %s %a %F'; "
      "find . -type f -print0 | sort -z | xargs -0 stat -c '%n %Y'; "
      "find . -type d -print0 | sort -z | xargs -0 stat -c '%n %a %F'";
  EXPECT_EQ(Sh("cd '" + mnt_ + "' && " + stat_fmt), Sh("cd '" + src_ + "' && " + stat_fmt));
  EXPECT_NE(Sh("ls -lR " + mnt_).find("link -> hello.txt"), std::string::npos);
  EXPECT_EQ(Sh("cat " + mnt_ + "/hello.txt"), "hello, lcfs\n");
  EXPECT_EQ(Sh("cat '" + mnt_ + "/with space.txt'"), "spaces are fine\n");
  EXPECT_EQ(Sh("cat " + mnt_ + "/link"), "hello, lcfs\n");
  EXPECT_EQ(Sh("readlink " + mnt_ + "/dir/dangling"), "/nonexistent/target\n");
  Sh("diff -r --no-dereference " + src_ + " " + mnt_);
  Sh("cd " + src_ + " && find . -type f -print0 | xargs -0 sha256sum > " + base_ + "/sums");
  EXPECT_NE(Sh("cd " + mnt_ + " && sha256sum -c " + base_ + "/sums"), "");
  Sh("cp -a " + mnt_ + " " + base_ + "/copy && diff -r --no-dereference " + src_ + " " + base_ +
     "/copy");
  EXPECT_EQ(Sh("tar cf - -C " + mnt_ + " . | tar tvf - | awk '{print $3, $6}' | sort"),
            Sh("tar cf - -C " + src_ + " . | tar tvf - | awk '{print $3, $6}' | sort"));
  // Inode numbers are stable for the life of the mount.
  EXPECT_EQ(Sh("stat -c %i " + mnt_ + "/dir/medium.bin"),
            Sh("ls -i " + mnt_ + "/dir >/dev/null; stat -c %i " + mnt_ + "/dir/medium.bin"));
  Unmount();
}

TEST_F(FsMountTest, RandomOffsetReadsMatchTheSource) {
  MountLcfs();
  std::mt19937 rng(42);
  const uint64_t size = 24 * 1024 * 1024;
  for (int i = 0; i < 12; ++i) {
    const uint64_t bs = (i % 3 == 0) ? 1 : (i % 3 == 1) ? 4096 : 65536;
    const uint64_t skip = rng() % (size / bs);
    const std::string dd = "dd bs=" + std::to_string(bs) + " skip=" + std::to_string(skip) +
                           " count=3 status=none if=";
    EXPECT_EQ(Sh(dd + mnt_ + "/big.bin | sha256sum"), Sh(dd + src_ + "/big.bin | sha256sum"))
        << "bs=" << bs << " skip=" << skip;
  }
  // A read that spans a chunk boundary (chunks are 1 MiB).
  const std::string span = "dd bs=1000 skip=1048 count=2 status=none if=";
  EXPECT_EQ(Sh(span + mnt_ + "/big.bin | sha256sum"), Sh(span + src_ + "/big.bin | sha256sum"));
  Unmount();
}

TEST_F(FsMountTest, WritesAreRefusedWithErofs) {
  MountLcfs();
  const std::string file = mnt_ + "/hello.txt";
  int fd = ::open(file.c_str(), O_WRONLY);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, EROFS);
  fd = ::open((mnt_ + "/new").c_str(), O_CREAT | O_WRONLY, 0644);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(::mkdir((mnt_ + "/newdir").c_str(), 0755), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(::unlink(file.c_str()), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(::rename(file.c_str(), (mnt_ + "/moved").c_str()), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(::chmod(file.c_str(), 0777), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(::setxattr(file.c_str(), "user.x", "1", 1, 0), -1);
  EXPECT_EQ(errno, EROFS);
  Status st;
  Sh("echo x >> " + file, &st);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(Sh("cat " + file), "hello, lcfs\n");
  Unmount();
}

TEST_F(FsMountTest, ExtendedAttributesNameHashesAndCachedBytes) {
  MountLcfs();
  EXPECT_EQ(GetXattr(mnt_, "user.lcfs.root"), root_);
  EXPECT_EQ(GetXattr(mnt_, "user.lcfs.hash"), root_);
  auto medium = index::IndexPath(src_ + "/dir/medium.bin");
  ASSERT_TRUE(medium.ok());
  const std::string file = mnt_ + "/dir/medium.bin";
  EXPECT_EQ(GetXattr(file, "user.lcfs.hash"), medium->root.ToHex());
  EXPECT_EQ(GetXattr(file, "user.lcfs.root"), "<No data available>");
  const std::string dir_hash = GetXattr(mnt_ + "/dir", "user.lcfs.hash");
  EXPECT_EQ(dir_hash.size(), 64u);
  EXPECT_NE(dir_hash, root_);
  // Nothing of the file read yet; then its first chunk only.
  EXPECT_EQ(GetXattr(file, "user.lcfs.cached"), "0");
  Sh("dd if=" + file + " bs=4096 count=1 status=none iflag=direct of=/dev/null || dd if=" + file +
     " bs=4096 count=1 status=none of=/dev/null");
  const uint64_t after_one = std::stoull(GetXattr(file, "user.lcfs.cached"));
  EXPECT_GE(after_one, 1u << 20);
  EXPECT_LT(after_one, 3u * 1024 * 1024 + 17);
  Sh("cat " + file + " > /dev/null");
  EXPECT_EQ(GetXattr(file, "user.lcfs.cached"), std::to_string(3 * 1024 * 1024 + 17));
  char list[512];
  const ssize_t n = ::listxattr(file.c_str(), list, sizeof list);
  ASSERT_GT(n, 0);
  const std::string names(list, static_cast<size_t>(n));
  EXPECT_NE(names.find("user.lcfs.hash"), std::string::npos);
  EXPECT_NE(names.find("user.lcfs.cached"), std::string::npos);
  Unmount();
}

TEST_F(FsMountTest, HeadOfALargeFileFetchesOnlyItsFirstChunks) {
  // A tree of its own holding one 64 MiB file (64 chunks).
  src_ = base_ + "/huge";
  stdfs::create_directories(src_);
  WriteRandomFile(src_ + "/huge.bin", 64u << 20, 9);
  auto indexed = index::IndexPath(src_);
  ASSERT_TRUE(indexed.ok()) << indexed.status().ToString();
  root_ = indexed->root.ToHex();
  MountLcfs();
  const std::string file = mnt_ + "/huge.bin";
  EXPECT_EQ(Sh("head -c 1M " + file + " | sha256sum"),
            Sh("head -c 1M " + src_ + "/huge.bin | sha256sum"));
  const uint64_t cached = std::stoull(GetXattr(file, "user.lcfs.cached"));
  EXPECT_GE(cached, 1u << 20);
  // The first chunk, kernel readahead and our prefetch window: a few chunks
  // of the 64, never the file.
  EXPECT_LE(cached, 16u << 20) << "head -c 1M fetched " << cached << " bytes";
  Unmount();
}

TEST_F(FsMountTest, ConcurrentReadersGetTheSameBytes) {
  MountLcfs();
  const std::string want = Sh("sha256sum < " + src_ + "/big.bin");
  const std::string script = "sha256sum < " + mnt_ + "/big.bin > " + base_ + "/r1 & sha256sum < " +
                             mnt_ + "/big.bin > " + base_ + "/r2 & wait; cat " + base_ + "/r1 " +
                             base_ + "/r2";
  EXPECT_EQ(Sh(script), want + want);
  Unmount();
}

TEST_F(FsMountTest, BadAndUnknownHashesFailWithAMessage) {
  std::string out;
  Status st = RunCommand({kLcfs, "not-a-hash", mnt_, "-o", "local=" + src_}, &out);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("bad HASH"), std::string::npos) << st.message();
  EXPECT_FALSE(IsMounted(mnt_));

  const std::string unknown = Sha256Of(std::string_view("no such tree")).ToHex();
  st = RunCommand({kLcfs, unknown, mnt_, "-o", "local=" + src_ + ",cache=" + cache_ + ",timeout=1"},
                  &out);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot mount " + unknown), std::string::npos) << st.message();
  EXPECT_FALSE(IsMounted(mnt_));

  st = RunCommand({kLcfs, root_, mnt_, "-o", "bogus_option"}, &out);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("bogus_option"), std::string::npos) << st.message();
}

TEST_F(FsMountTest, MountTypeFuseLcfsAndFstabLine) {
  // mount.fuse3 runs `lcfs` through /bin/sh with our PATH: put the built
  // program first, as tools/install-lcfs.sh does system-wide.
  const std::string bin = base_ + "/bin";
  stdfs::create_directories(bin);
  stdfs::create_symlink(kLcfs, bin + "/lcfs");
  const std::string path = "PATH=" + bin + ":/usr/sbin:/usr/bin:/sbin:/bin";
  const std::string opts = "local=" + src_ + ",cache=" + cache_ + ",iface=lo,_netdev";
  Sh("env " + path + " mount -t fuse.lcfs " + root_ + " " + mnt_ + " -o " + opts);
  EXPECT_TRUE(IsMounted(mnt_));
  EXPECT_EQ(Sh("cat " + mnt_ + "/hello.txt"), "hello, lcfs\n");
  EXPECT_NE(Sh("grep ' " + mnt_ + " ' /proc/mounts"), "");
  Sh("umount " + mnt_);
  EXPECT_TRUE(WaitMounted(mnt_, false));

  const std::string fstab = base_ + "/fstab";
  std::ofstream(fstab) << root_ << " " << mnt_ << " fuse.lcfs " << opts << ",noauto 0 0\n";
  Sh("env " + path + " mount -T " + fstab + " " + mnt_);
  EXPECT_TRUE(IsMounted(mnt_));
  EXPECT_EQ(Sh("cat " + mnt_ + "/dir/deeper/note"), "deep\n");
  Sh("umount " + mnt_);
  EXPECT_TRUE(WaitMounted(mnt_, false));
}

TEST_F(FsMountTest, UnmountWithOpenFilesIsClean) {
  // Foreground, so the test can see the daemon exit.
  auto daemon = testbed::Subprocess::Spawn(
      {kLcfs, "-f", root_, mnt_, "-o", "local=" + src_ + ",cache=" + cache_});
  ASSERT_TRUE(daemon.ok()) << daemon.status().ToString();
  ASSERT_TRUE(WaitMounted(mnt_, true)) << daemon->Stderr();
  UniqueFd fd(::open((mnt_ + "/big.bin").c_str(), O_RDONLY));
  ASSERT_TRUE(fd.valid());
  char buf[4096];
  ASSERT_EQ(::read(fd.get(), buf, sizeof buf), static_cast<ssize_t>(sizeof buf));
  // A plain unmount is refused while the file is open...
  Status st;
  Sh("umount " + mnt_, &st);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(IsMounted(mnt_));
  // ...a lazy one detaches at once; the open file keeps working until closed.
  Sh("umount -l " + mnt_);
  EXPECT_FALSE(IsMounted(mnt_));
  EXPECT_EQ(::pread(fd.get(), buf, sizeof buf, 10 << 20), static_cast<ssize_t>(sizeof buf));
  fd.reset();
  auto status = daemon->Wait(10s);
  ASSERT_TRUE(status.has_value()) << "daemon still running after the last file closed";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << testbed::DescribeWaitStatus(*status);
}

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto& e : stdfs::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  return total;
}

TEST_F(FsMountTest, CacheLimitRestartReuseAndOfflineUse) {
  // A 4 MiB cache cannot hold the 24 MiB file: LRU eviction keeps it bounded.
  MountLcfs("cache_size=4M");
  EXPECT_EQ(Sh("sha256sum < " + mnt_ + "/big.bin"), Sh("sha256sum < " + src_ + "/big.bin"));
  Unmount();
  EXPECT_LE(DirectoryBytes(cache_), 4u << 20);
  EXPECT_GT(DirectoryBytes(cache_), 0u);

  // Warm the small files, then mount again with the exporter "gone" (an
  // empty local directory): everything cached is still readable, the rest
  // fails with EIO instead of hanging.
  MountLcfs();
  Sh("cat " + mnt_ + "/hello.txt " + mnt_ + "/dir/medium.bin > /dev/null; ls -lR " + mnt_ +
     " > /dev/null");
  Unmount();
  const std::string empty = base_ + "/empty";
  stdfs::create_directories(empty);
  std::string out;
  Status st = RunCommand(
      {kLcfs, root_, mnt_, "-o", "local=" + empty + ",cache=" + cache_ + ",timeout=1"}, &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(Sh("cat " + mnt_ + "/hello.txt"), "hello, lcfs\n");
  EXPECT_EQ(Sh("sha256sum < " + mnt_ + "/dir/medium.bin"),
            Sh("sha256sum < " + src_ + "/dir/medium.bin"));
  EXPECT_EQ(Sh("cd " + mnt_ + " && find . | sort"), Sh("cd " + src_ + " && find . | sort"));
  UniqueFd fd(::open((mnt_ + "/big.bin").c_str(), O_RDONLY));
  ASSERT_TRUE(fd.valid());
  char buf[4096];
  // The middle of big.bin was evicted by the 4 MiB limit of the first mount.
  EXPECT_EQ(::pread(fd.get(), buf, sizeof buf, 2 << 20), -1);
  EXPECT_EQ(errno, EIO);
  fd.reset();
  Unmount();
}

}  // namespace
}  // namespace lcfs
