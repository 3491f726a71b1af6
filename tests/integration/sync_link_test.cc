// lcfs-sync while the reader's own link fails (issue 14 point 1, receiver
// side): the link set down and up, and the interface deleted and created
// again (another ifindex, same name), each in the middle of a read. The read
// completes, the receiver says once what happened, and it does not spin
// while it has no link.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "common/process_watch.h"
#include "common/testbed_fixture.h"
#include "common/wait.h"
#include "unit/sync/tree_listing.h"

// In the namespace of the sync test helpers (tree_listing.h), which it uses.
namespace lcfs::sync::testing {
namespace {

using lcfs::testing::Occurrences;
using lcfs::testing::RandomString;
using lcfs::testing::WaitUntil;
using namespace std::chrono_literals;

class SyncLinkTest : public lcfs::testing::ProgramsTestbedTest {
 protected:
  void SetUp() override {
    if (!StartTestbed({lcfs::testing::kExportProgram, lcfs::testing::kSyncProgram}, 2, "sync-link"))
      return;
    // 24 MiB at 40 Mbit/s: about 5 s of reading, time to fail the link in it.
    WriteAll(src_ / "big", RandomString(24 << 20, 3));
    WriteAll(src_ / "small", "a small file\n");
    root_ = ExportTree(src_.path(), "40M");
    ASSERT_EQ(root_.size(), 64u);
    auto p = SpawnSyncOn(1, {"--timeout", "30", root_, dst_.path()});
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    sync_.emplace(std::move(*p));
    // Mid-read: a few MB of the file have arrived.
    auto rx0 = bed_->host(1).InterfaceCounter("rx_bytes");
    ASSERT_TRUE(rx0.ok());
    ASSERT_TRUE(WaitUntil(
        [&] {
          auto rx = bed_->host(1).InterfaceCounter("rx_bytes");
          return !sync_->running() || (rx.ok() && *rx > *rx0 + (3 << 20));
        },
        30s));
    ASSERT_TRUE(sync_->running()) << sync_->Stdout() << sync_->Stderr();
  }

  bool Told(const std::string& what) {
    return WaitUntil([&] { return sync_->Stderr().find(what) != std::string::npos; }, 20s);
  }

  // Waits for lcfs-sync to end; checks it succeeded with the whole tree.
  void ExpectCompleteCopy() {
    auto status = sync_->Wait(120s);
    ASSERT_TRUE(status.has_value()) << "lcfs-sync did not exit: " << sync_->Stderr();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << testbed::DescribeWaitStatus(*status) << sync_->Stdout() << sync_->Stderr();
    EXPECT_EQ(TreeListing(src_.path()), TreeListing(dst_.path()));
  }

  ScratchDir src_, dst_;
  std::string root_;
  std::optional<testbed::Subprocess> sync_;
};

TEST_F(SyncLinkTest, LinkDownAndUpMidReadResumesWithoutSpinning) {
  ASSERT_TRUE(bed_->host(1).Run({"ip", "link", "set", "lan0", "down"}).ok());
  ASSERT_TRUE(Told("interface lan0 is down")) << sync_->Stderr();
  EXPECT_LT(lcfs::testing::CpuShare(sync_->pid(), 2000ms), 0.05)
      << "share of a core used while the link is down";
  ASSERT_TRUE(bed_->host(1).Run({"ip", "link", "set", "lan0", "up"}).ok());
  ASSERT_TRUE(Told("interface lan0 is up")) << sync_->Stderr();
  ExpectCompleteCopy();
  // Told once per episode, not per packet or per group.
  EXPECT_EQ(Occurrences(sync_->Stderr(), "lan0 is down"), 1u) << sync_->Stderr();
  EXPECT_EQ(Occurrences(sync_->Stderr(), "lan0 is up"), 1u) << sync_->Stderr();
}

TEST_F(SyncLinkTest, InterfaceDeletedAndCreatedAgainMidReadResumes) {
  // Deleting lan0 deletes its veth pair: host 1 is off the LAN.
  ASSERT_TRUE(bed_->host(1).Run({"ip", "link", "del", "lan0"}).ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        const std::string err = sync_->Stderr();
        return err.find("lan0 went away") != std::string::npos ||
               err.find("lan0 is down") != std::string::npos;
      },
      20s))
      << sync_->Stderr();
  EXPECT_LT(lcfs::testing::CpuShare(sync_->pid(), 1000ms), 0.05)
      << "share of a core used without an interface";
  // A new lan0 (another ifindex) on the bridge: joined again by name.
  ASSERT_TRUE(bed_->host(1)
                  .Run({"ip", "link", "add", "name", "lan0", "type", "veth", "peer", "name", "p1",
                        "netns", bed_->bridge_netns()})
                  .ok());
  ASSERT_TRUE(bed_->RunInBridge({"ip", "link", "set", "p1", "master", "br0", "up"}).ok());
  ASSERT_TRUE(bed_->host(1).Run({"ip", "link", "set", "lan0", "up"}).ok());
  ASSERT_TRUE(Told("interface lan0 is up")) << sync_->Stderr();
  ExpectCompleteCopy();
}

}  // namespace
}  // namespace lcfs::sync::testing
