// lcfs over the network: a real exporter (lcfs-export) on one testbed host,
// `lcfs` mounting its root HASH on another (Host::Spawn enters only the
// network namespace, so the mount is visible here). Reads are checked with
// ordinary tools; `head -c 1M` of a large file receives only its first
// chunks (interface byte counters); an exporter killed mid-read gives EIO
// within the timeout while cached parts stay readable; an unknown HASH fails
// the mount after the timeout with a clear message.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "common/mount_fixture.h"
#include "common/random_bytes.h"
#include "common/testbed_fixture.h"
#include "common/wait.h"
#include "lcfs/hash.h"
#include "lcfs/unique_fd.h"
#include "testbed/subprocess.h"
#include "testbed/testbed.h"

namespace lcfs {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

using lcfs::testing::Sh;
using lcfs::testing::WriteRandomFile;

class FsNetworkTest : public testing::ExportTestbedTest {
 protected:
  void SetUp() override {
    if (!StartTestbedWithDirs({testing::kExportProgram, testing::kLcfsProgram}, 2, "fs-network"))
      return;
    stdfs::create_directories(src_ + "/sub");
    std::ofstream(src_ + "/sub/note") << "over the wire\n";
    WriteRandomFile(src_ + "/big.bin", 32u << 20, 5);
    // The exporter prints the root HASH on stdout once indexed.
    auto root = lcfs::testing::StartExporter(
        bed_->host(0), {"-q", "-i", "lan0", "--mld-query-interval", "2s", src_}, &exporter_);
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    root_ = *root;
  }

  // Mounts on host 1 (the daemon returns once the root directory arrived).
  Status Mount(const std::string& hash, const std::string& extra = "") {
    std::string opts = "iface=lan0,cache=" + base_ + "/cache,timeout=3";
    if (!extra.empty()) opts += "," + extra;
    return bed_->host(1).Run({testing::kLcfsProgram, hash, mnt_, "-o", opts});
  }
  void Unmount() { ::umount2(mnt_.c_str(), MNT_DETACH); }

  std::string root_;
};

TEST_F(FsNetworkTest, MountedTreeMatchesTheExportAndHeadFetchesOnlyFirstChunks) {
  ASSERT_TRUE(Mount(root_).ok());
  EXPECT_EQ(Sh("cat " + mnt_ + "/sub/note"), "over the wire\n");
  const uint64_t rx_before = *bed_->host(1).InterfaceCounter("rx_bytes");
  EXPECT_EQ(Sh("head -c 1M " + mnt_ + "/big.bin | sha256sum"),
            Sh("head -c 1M " + src_ + "/big.bin | sha256sum"));
  const uint64_t received = *bed_->host(1).InterfaceCounter("rx_bytes") - rx_before;
  EXPECT_GE(received, 1u << 20);
  // A few chunks (first one, readahead, prefetch window) of the 32.
  EXPECT_LE(received, 14u << 20) << "head -c 1M received " << received << " bytes";
  Sh("diff -r " + src_ + " " + mnt_);
  Unmount();
}

TEST_F(FsNetworkTest, ExporterKilledMidReadGivesEioWithinTimeoutCachedPartsStayReadable) {
  ASSERT_TRUE(Mount(root_).ok());
  // Cache the start of the file, then lose the exporter.
  Sh("head -c 2M " + mnt_ + "/big.bin > /dev/null; cat " + mnt_ + "/sub/note > /dev/null");
  exporter_->Stop(SIGKILL, 1s);
  UniqueFd fd(::open((mnt_ + "/big.bin").c_str(), O_RDONLY));
  ASSERT_TRUE(fd.valid());
  std::vector<char> buf(4096);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(::pread(fd.get(), buf.data(), buf.size(), 30 << 20), -1);
  EXPECT_EQ(errno, EIO);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, 10s);  // timeout=3, never stuck
  EXPECT_EQ(::pread(fd.get(), buf.data(), buf.size(), 4096), static_cast<ssize_t>(buf.size()));
  EXPECT_EQ(Sh("cat " + mnt_ + "/sub/note"), "over the wire\n");
  fd.reset();
  Unmount();
}

TEST_F(FsNetworkTest, UnknownHashFailsAfterTheTimeoutWithAMessage) {
  const std::string unknown = Sha256Of(std::string_view("not exported")).ToHex();
  const auto start = std::chrono::steady_clock::now();
  Status st = Mount(unknown, "timeout=1");
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot mount " + unknown), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("timeout"), std::string::npos) << st.message();
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 10s);
}

}  // namespace
}  // namespace lcfs
