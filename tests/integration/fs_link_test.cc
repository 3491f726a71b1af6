// A mount whose own link goes down mid-read (issue 14 point 1, receiver
// side): a soft mount fails the read with EIO within its timeout and reads
// again once the link is back; a hard mount's read waits and completes when
// the link is back, with the right bytes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "common/mount_fixture.h"
#include "common/random_bytes.h"
#include "common/testbed_fixture.h"
#include "common/wait.h"
#include "lcfs/unique_fd.h"

namespace lcfs {
namespace {

using namespace std::chrono_literals;

const std::string& kLcfs = lcfs::testing::kLcfsProgram;
const std::string kExport = std::string(LCFS_TOOLS_DIR) + "/lcfs-export";
constexpr size_t kFileSize = 32u << 20;
constexpr off_t kFarOffset = 30 << 20;  // a chunk no read-ahead of the start reaches

class FsLinkTest : public lcfs::testing::ExportTestbedTest {
 protected:
  void SetUp() override {
    if (!StartTestbedWithDirs({kExport, kLcfs}, 2, "fs-link")) return;
    std::ofstream(src_ + "/note") << "over the wire\n";
    lcfs::testing::WriteRandomFile(src_ + "/big.bin", kFileSize, 9);
    root_ = StartExporter(
        {kExport, "-q", "-i", "lan0", "--no-index-cache", "--mld-query-interval", "1s", src_});
    ASSERT_EQ(root_.size(), 64u);
  }
  void TearDown() override {
    if (!mnt_.empty()) lcfs::testing::DetachMounts(mnt_);
  }

  // Mounts on host 1, in the foreground so the test holds the daemon's pid
  // (killing it ends a read that would otherwise wait for ever), and reads
  // a small file, so the mount works before the link fails.
  void Mount(const std::string& extra) {
    const std::string opts = "iface=lan0,cache=" + base_ + "/cache," + extra;
    auto p = bed_->host(1).Spawn({kLcfs, root_, mnt_, "-f", "-o", opts});
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    daemon_.emplace(std::move(*p));
    ASSERT_TRUE(lcfs::testing::WaitMounted(mnt_, true, 30s)) << daemon_->Stderr();
    // Under load the first fetch may outlast a short timeout= (EIO): read
    // again until it works.
    ASSERT_TRUE(lcfs::testing::WaitUntil(
        [&] { return lcfs::testing::Sh("cat " + mnt_ + "/note") == "over the wire\n"; }, 60s,
        200ms))
        << daemon_->Stderr();
  }
  Status SetLink(const char* state) {
    return bed_->host(1).Run({"ip", "link", "set", "lan0", state});
  }
  // Mounts with `extra`, opens big.bin into *fd, then takes the reader's
  // link down: where each test of a read across a link failure starts.
  void OpenThenCutTheLink(const std::string& extra, UniqueFd* fd) {
    ASSERT_NO_FATAL_FAILURE(Mount(extra));
    *fd = UniqueFd(::open((mnt_ + "/big.bin").c_str(), O_RDONLY));
    ASSERT_TRUE(fd->valid());
    ASSERT_TRUE(SetLink("down").ok());
  }

  // The bytes of the source at kFarOffset.
  std::vector<char> Expected(size_t n) {
    std::vector<char> want(n);
    std::ifstream in(src_ + "/big.bin", std::ios::binary);
    in.seekg(kFarOffset);
    in.read(want.data(), static_cast<std::streamsize>(n));
    return want;
  }

  std::string root_;
  std::optional<testbed::Subprocess> daemon_;
};

TEST_F(FsLinkTest, SoftMountFailsWithEioWithinItsTimeoutWhileTheLinkIsDown) {
  UniqueFd fd;
  ASSERT_NO_FATAL_FAILURE(OpenThenCutTheLink("timeout=3", &fd));
  std::vector<char> buf(4096);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(::pread(fd.get(), buf.data(), buf.size(), kFarOffset), -1);
  EXPECT_EQ(errno, EIO);
  const auto took = std::chrono::steady_clock::now() - start;
  // The fetch waits the whole timeout (the link may come back). The kernel
  // then asks again at once for the page whose read-ahead failed; that retry
  // waits only 0.5 s (object_fetcher.h), not a second timeout. The rest of
  // the 2 s is for load.
  EXPECT_GE(took, 3s);
  EXPECT_LT(took, 5s) << "timeout=3";
  printf("figure: soft mount, timeout=3, link down: EIO after %.2f s\n",
         std::chrono::duration<double>(took).count());
  // The link is back: the same read works (the receiver joined again).
  ASSERT_TRUE(SetLink("up").ok());
  EXPECT_TRUE(lcfs::testing::WaitUntil(
      [&] { return ::pread(fd.get(), buf.data(), buf.size(), kFarOffset) == 4096; }, 60s, 500ms));
  EXPECT_EQ(buf, Expected(buf.size()));
}

TEST_F(FsLinkTest, HardMountReadWaitsForTheLinkAndCompletes) {
  UniqueFd fd;
  ASSERT_NO_FATAL_FAILURE(OpenThenCutTheLink("hard,timeout=2", &fd));
  std::vector<char> buf(4096);
  auto read = std::async(std::launch::async,
                         [&] { return ::pread(fd.get(), buf.data(), buf.size(), kFarOffset); });
  // Well past the timeout, the read still waits (a soft mount would have
  // failed it by now).
  EXPECT_EQ(read.wait_for(6s), std::future_status::timeout);
  ASSERT_TRUE(SetLink("up").ok());
  const auto up = std::chrono::steady_clock::now();
  if (read.wait_for(90s) != std::future_status::ready) {
    daemon_->Stop(SIGKILL, 5s);  // ends the read (ENOTCONN), so the test can end
    FAIL() << "the read did not resume: " << daemon_->Stderr();
  }
  printf("figure: hard mount: the read completed %.2f s after the link came back\n",
         std::chrono::duration<double>(std::chrono::steady_clock::now() - up).count());
  EXPECT_EQ(read.get(), 4096) << daemon_->Stderr();
  EXPECT_EQ(buf, Expected(buf.size()));
}

}  // namespace
}  // namespace lcfs
