// The chunk cache as an administrator meets it, with a real exporter on one
// testbed host and `lcfs` mounting on another (Host::Spawn enters only the
// network namespace, so the mount is visible here):
//  - the cache is private (0700 directories, 0600 objects) while the mount
//    still enforces each file's own mode for other users;
//  - `lcfs-cache check` names and removes a chunk with a flipped byte, and the
//    next read through the running mount fetches it again, right;
//  - `lcfs-cache gc` never removes a chunk the running mount has pinned.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/mount_fixture.h"
#include "common/random_bytes.h"
#include "common/testbed_fixture.h"
#include "common/tool_run.h"
#include "common/wait.h"
#include "lcfs/hash.h"
#include "lcfs/object.h"
#include "lcfs/unique_fd.h"
#include "testbed/subprocess.h"
#include "testbed/testbed.h"

namespace lcfs {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

constexpr size_t kChunk = 1u << 20;  // the exporter's default chunk size

using testing::Sh;
using testing::ToolRun;

// Runs lcfs-cache to completion; its exit code and stdout.
ToolRun CacheTool(const std::vector<std::string>& args) {
  std::vector<std::string> argv{testing::kCacheProgram};
  argv.insert(argv.end(), args.begin(), args.end());
  auto p = testbed::Subprocess::Spawn(argv);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  if (!p.ok()) return {};
  auto status = p->Wait(60s);
  EXPECT_TRUE(status.has_value()) << "lcfs-cache did not finish";
  if (!status || !WIFEXITED(*status)) return {};
  return {WEXITSTATUS(*status), p->Stdout() + p->Stderr()};
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Drops the kernel's page cache of a file of the mount, so the next read
// reaches the daemon (lcfs keeps the page cache across opens).
void DropPageCache(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY));
  ASSERT_TRUE(fd.valid()) << path;
  ASSERT_EQ(::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED), 0);
}

class OpsCacheTest : public testing::ExportTestbedTest {
 protected:
  void SetUp() override {
    if (!StartTestbedWithDirs(
            {testing::kExportProgram, testing::kCacheProgram, testing::kLcfsProgram}, 2,
            "ops-cache"))
      return;
    ASSERT_EQ(::chmod(base_.c_str(), 0755), 0);  // other users may walk to the mount
    cache_ = base_ + "/cache";
    big_ = testing::RandomBytes(3 * kChunk + 1000, 17);  // four chunks
    std::ofstream(src_ + "/big.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(big_.data()),
               static_cast<std::streamsize>(big_.size()));
    std::ofstream(src_ + "/secret") << "root's eyes only\n";
    ASSERT_EQ(::chmod((src_ + "/secret").c_str(), 0600), 0);
    root_ = StartExporter(
        {testing::kExportProgram, "-q", "-i", "lan0", "--mld-query-interval", "2s", src_});
    ASSERT_EQ(root_.size(), 64u);
  }
  void TearDown() override {
    if (!mnt_.empty()) ::umount2(mnt_.c_str(), MNT_DETACH);
  }

  Status Mount() {
    return bed_->host(1).Run(
        {testing::kLcfsProgram, root_, mnt_, "-o", "iface=lan0,timeout=10,cache=" + cache_});
  }
  // The cache file of chunk `i` of big.bin.
  std::string ChunkPath(size_t i) const {
    const size_t begin = i * kChunk, end = std::min(big_.size(), begin + kChunk);
    const Hash h = ObjectHash(ObjectKind::kChunk, std::span(big_).subspan(begin, end - begin));
    const std::string hex = h.ToHex();
    return cache_ + "/v1/objects/" + hex.substr(0, 2) + "/" + hex + ".0";
  }
  std::string BigSha() const { return Sha256Of(big_).ToHex(); }

  std::optional<testbed::Subprocess> exporter_;
  std::string cache_, root_;
  std::vector<uint8_t> big_;
};

TEST_F(OpsCacheTest, CacheIsPrivateWhileTheMountKeepsHonouringFileModes) {
  ASSERT_TRUE(Mount().ok());
  EXPECT_EQ(Sh("cat " + mnt_ + "/secret"), "root's eyes only\n");
  EXPECT_EQ(Sh("sha256sum < " + mnt_ + "/big.bin | cut -d' ' -f1"), BigSha() + "\n");
  EXPECT_EQ(ModeOf(mnt_ + "/secret"), 0600u);
  // Every directory of the cache 0700, every object 0600.
  size_t objects = 0;
  EXPECT_EQ(ModeOf(cache_), 0700u);
  for (const auto& e : stdfs::recursive_directory_iterator(cache_)) {
    if (e.is_directory()) {
      EXPECT_EQ(ModeOf(e.path()), 0700u) << e.path();
    } else {
      EXPECT_EQ(ModeOf(e.path()), 0600u) << e.path();
      ++objects;
    }
  }
  EXPECT_GE(objects, 5u);  // root directory and four chunks at least
  // Another user: the mount refuses the 0600 file and serves the rest; the
  // cache is closed to them.
  const std::string nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
  EXPECT_NE(Sh(nobody + "cat " + mnt_ + "/secret 2>&1 || true").find("Permission denied"),
            std::string::npos);
  EXPECT_EQ(Sh(nobody + "sha256sum < " + mnt_ + "/big.bin | cut -d' ' -f1"), BigSha() + "\n");
  EXPECT_EQ(Sh(nobody + "grep -rl 'eyes only' " + cache_ + " 2>/dev/null; echo $?"), "2\n");
}

TEST_F(OpsCacheTest, CheckRemovesAFlippedChunkAndTheNextReadFetchesItAgain) {
  ASSERT_TRUE(Mount().ok());
  EXPECT_EQ(Sh("sha256sum < " + mnt_ + "/big.bin | cut -d' ' -f1"), BigSha() + "\n");
  const std::string victim = ChunkPath(1);
  ASSERT_TRUE(stdfs::exists(victim));
  EXPECT_EQ(CacheTool({"check", cache_}).exit_code, 0);
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(12345);
    f.put(static_cast<char>(big_[kChunk + 12345] ^ 0x01));
  }
  ToolRun check = CacheTool({"check", cache_});
  EXPECT_EQ(check.exit_code, 1) << check.out;
  const std::string hex = victim.substr(victim.rfind('/') + 1, 64);
  EXPECT_NE(check.out.find("corrupt: " + hex), std::string::npos) << check.out;
  EXPECT_NE(check.out.find(": 1 corrupt"), std::string::npos) << check.out;
  EXPECT_FALSE(stdfs::exists(victim));

  DropPageCache(mnt_ + "/big.bin");
  EXPECT_EQ(Sh("sha256sum < " + mnt_ + "/big.bin | cut -d' ' -f1"), BigSha() + "\n");
  EXPECT_TRUE(stdfs::exists(victim)) << "the read did not fetch the chunk again";
  EXPECT_EQ(CacheTool({"check", cache_}).exit_code, 0);
}

TEST_F(OpsCacheTest, GcKeepsWhatTheRunningMountPins) {
  ASSERT_TRUE(Mount().ok());
  EXPECT_EQ(Sh("sha256sum < " + mnt_ + "/big.bin | cut -d' ' -f1"), BigSha() + "\n");
  for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(stdfs::exists(ChunkPath(i))) << i;

  // An open file of the mount that has read from chunk 1 pins it.
  DropPageCache(mnt_ + "/big.bin");
  UniqueFd fd(::open((mnt_ + "/big.bin").c_str(), O_RDONLY));
  ASSERT_TRUE(fd.valid());
  std::vector<uint8_t> buf(4096);
  const off_t in_chunk1 = static_cast<off_t>(kChunk + kChunk / 2);
  ASSERT_EQ(::pread(fd.get(), buf.data(), buf.size(), in_chunk1), 4096);
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), big_.begin() + in_chunk1));

  ToolRun du = CacheTool({"du", cache_});
  EXPECT_EQ(du.exit_code, 0);
  const size_t pinned_line = du.out.find("\npinned");
  ASSERT_NE(pinned_line, std::string::npos) << du.out;
  unsigned long long pinned = 0;
  ASSERT_EQ(std::sscanf(du.out.c_str() + pinned_line, "\npinned %llu", &pinned), 1) << du.out;
  EXPECT_GE(pinned, 1u) << du.out;
  ToolRun gc = CacheTool({"gc", "--size", "0", cache_});
  EXPECT_EQ(gc.exit_code, 0) << gc.out;
  EXPECT_NE(gc.out.find("kept: pinned by a running mount"), std::string::npos) << gc.out;
  EXPECT_TRUE(stdfs::exists(ChunkPath(1))) << "gc removed a pinned chunk";
  EXPECT_FALSE(stdfs::exists(ChunkPath(0)));  // behind the reader: not pinned

  // The mount reads on, fetching what gc removed.
  DropPageCache(mnt_ + "/big.bin");
  ASSERT_EQ(::pread(fd.get(), buf.data(), buf.size(), 100), 4096);
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), big_.begin() + 100));
  EXPECT_EQ(Sh("sha256sum < " + mnt_ + "/big.bin | cut -d' ' -f1"), BigSha() + "\n");

  // Closed, nothing pins chunk 1 any more (the kernel's release is
  // asynchronous: bounded retries).
  fd.reset();
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        return CacheTool({"wipe", cache_}).exit_code == 0 && !stdfs::exists(ChunkPath(1));
      },
      30s, 50ms));
}

}  // namespace
}  // namespace lcfs
