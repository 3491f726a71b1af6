// Prometheus metrics of a real exporter and a real mount on the testbed, each
// on the loopback address of its own host (network namespace): both answer in
// the text exposition format, and their counters move as a read proceeds
// (bytes sent and fetched, the fetch-time histogram, cache misses then hits).
// lcfs-sync prints the same figures, under the same names, in its summary.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "common/http_get.h"
#include "common/mount_fixture.h"
#include "common/testbed_fixture.h"
#include "common/tool_run.h"
#include "common/wait.h"
#include "lcfs/unique_fd.h"
#include "testbed/subprocess.h"
#include "testbed/testbed.h"

namespace lcfs {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kExportPort = 9464, kMountPort = 9465;

// GET /metrics from 127.0.0.1:port inside `host`; the whole response, or "".
std::string Scrape(testbed::Host& host, int port) {
  auto in_host = host.Enter();
  if (!in_host.ok()) return "";
  return testing::HttpGetLoopback(port);
}

// The value of the sample `series` (a name, or name{labels}); -1 if absent.
double Value(const std::string& exposition, const std::string& series) {
  size_t pos = 0;
  while ((pos = exposition.find("\n" + series + " ", pos)) != std::string::npos) {
    pos += series.size() + 2;
    return std::strtod(exposition.c_str() + pos, nullptr);
  }
  return -1;
}

class OpsMetricsTest : public testing::ExportTestbedTest {
 protected:
  void SetUp() override {
    if (!StartTestbedWithDirs(
            {testing::kExportProgram, testing::kSyncProgram, testing::kLcfsProgram}, 2,
            "ops-metrics"))
      return;
    std::mt19937_64 rng(9);
    std::vector<uint64_t> words((4u << 20) / 8);
    for (auto& w : words) w = rng();
    std::ofstream(src_ + "/big.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(words.data()),
               static_cast<std::streamsize>(words.size() * 8));
    auto exporter =
        bed_->host(0).Spawn({testing::kExportProgram, "-q", "-i", "lan0", "--mld-query-interval",
                             "2s", "--metrics", "127.0.0.1:" + std::to_string(kExportPort), src_});
    ASSERT_TRUE(exporter.ok()) << exporter.status().ToString();
    exporter_.emplace(std::move(*exporter));
    // The HASH is printed once the exporter serves, metrics included.
    for (int i = 0; i < 1000 && root_.size() < 64; ++i) {
      root_ = exporter_->Stdout().substr(0, 64);
      if (root_.size() < 64) std::this_thread::sleep_for(10ms);  // bounded poll
    }
    ASSERT_EQ(root_.size(), 64u) << exporter_->Stderr();
  }
  void TearDown() override {
    if (!mnt_.empty()) ::umount2(mnt_.c_str(), MNT_DETACH);
  }

  std::optional<testbed::Subprocess> exporter_;
  std::string root_;
};

TEST_F(OpsMetricsTest, ExporterAndMountCountersMoveAsAReadProceeds) {
  ASSERT_TRUE(bed_->host(1)
                  .Run({testing::kLcfsProgram, root_, mnt_, "-o",
                        "iface=lan0,timeout=10,cache=" + base_ +
                            "/cache,metrics=127.0.0.1:" + std::to_string(kMountPort)})
                  .ok());
  const std::string exp0 = Scrape(bed_->host(0), kExportPort);
  const std::string mnt0 = Scrape(bed_->host(1), kMountPort);
  // The text exposition format, with HELP and TYPE per family.
  EXPECT_NE(exp0.find("200 OK"), std::string::npos) << exp0;
  EXPECT_NE(exp0.find("Content-Type: text/plain"), std::string::npos) << exp0;
  EXPECT_NE(exp0.find("# TYPE lcfs_export_sent_bytes_total counter"), std::string::npos) << exp0;
  EXPECT_NE(exp0.find("# TYPE lcfs_export_listeners gauge"), std::string::npos) << exp0;
  for (const char* name : {"lcfs_export_sent_packets_total", "lcfs_export_active_objects",
                           "lcfs_export_send_errors_total"})
    EXPECT_GE(Value(exp0, name), 0) << name << "\n" << exp0;
  EXPECT_NE(mnt0.find("# TYPE lcfs_mount_fetch_seconds histogram"), std::string::npos) << mnt0;
  for (const char* name : {"lcfs_mount_cache_hits_total", "lcfs_mount_cache_misses_total",
                           "lcfs_mount_fetch_errors_total", "lcfs_mount_cache_bytes",
                           "lcfs_mount_dropped_packets_total{reason=\"bad_magic\"}"})
    EXPECT_GE(Value(mnt0, name), 0) << name << "\n" << mnt0;
  // The process's own figures (the soak reads them to explain its memory).
  EXPECT_GT(Value(mnt0, "lcfs_mount_heap_in_use_bytes"), 0) << mnt0;
  EXPECT_GE(Value(mnt0, "lcfs_mount_heap_free_bytes"), 0) << mnt0;
  // All 16 FUSE request threads start with the mount's loop (fuse_mount.h),
  // which begins just after the program reports it mounted: no read is
  // needed to make them (a pool grown on demand would stay at a few).
  std::string threads;
  EXPECT_TRUE(lcfs::testing::WaitUntil(
      [&] {
        threads = Scrape(bed_->host(1), kMountPort);
        return Value(threads, "lcfs_mount_threads") >= 17;
      },
      30s, 100ms))
      << threads;

  // Read the whole file: 4 MiB cross the link.
  const double sent0 = Value(exp0, "lcfs_export_sent_bytes_total");
  const double fetched0 = Value(mnt0, "lcfs_mount_fetched_bytes_total");
  const double timed0 = Value(mnt0, "lcfs_mount_fetch_seconds_count");
  ASSERT_TRUE(testbed::RunCommand({"sh", "-c", "cat " + mnt_ + "/big.bin > /dev/null"}).ok());
  const std::string exp1 = Scrape(bed_->host(0), kExportPort);
  const std::string mnt1 = Scrape(bed_->host(1), kMountPort);
  EXPECT_GE(Value(exp1, "lcfs_export_sent_bytes_total") - sent0, 4 << 20) << exp1;
  EXPECT_GE(Value(exp1, "lcfs_export_sent_packets_total"),
            Value(exp0, "lcfs_export_sent_packets_total") + 1000);
  EXPECT_GE(Value(mnt1, "lcfs_mount_fetched_bytes_total") - fetched0, 4 << 20) << mnt1;
  EXPECT_GE(Value(mnt1, "lcfs_mount_fetch_seconds_count") - timed0, 4) << mnt1;
  EXPECT_GE(Value(mnt1, "lcfs_mount_received_packets_total"), 1000) << mnt1;
  EXPECT_GE(Value(mnt1, "lcfs_mount_cache_bytes"), 4 << 20) << mnt1;

  // Again, past the kernel's page cache: hits, nothing fetched.
  {
    UniqueFd fd(::open((mnt_ + "/big.bin").c_str(), O_RDONLY));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED), 0);
  }
  ASSERT_TRUE(testbed::RunCommand({"sh", "-c", "cat " + mnt_ + "/big.bin > /dev/null"}).ok());
  const std::string mnt2 = Scrape(bed_->host(1), kMountPort);
  EXPECT_GE(Value(mnt2, "lcfs_mount_cache_hits_total") - Value(mnt1, "lcfs_mount_cache_hits_total"),
            4)
      << mnt2;
  EXPECT_EQ(Value(mnt2, "lcfs_mount_fetched_bytes_total"),
            Value(mnt1, "lcfs_mount_fetched_bytes_total"));
}

TEST_F(OpsMetricsTest, SyncSummaryPrintsTheSameFigures) {
  std::string out;
  ASSERT_TRUE(
      bed_->host(1).Run({testing::kSyncProgram, "-i", "lan0", root_, base_ + "/copy"}, &out).ok());
  EXPECT_GE(Value("\n" + out, "lcfs_sync_network_bytes_total"), 4 << 20) << out;
  EXPECT_GE(Value("\n" + out, "lcfs_sync_received_packets_total"), 1000) << out;
}

TEST_F(OpsMetricsTest, BadOrBusyAddressesAreRefusedWithAMessage) {
  std::string out;
  Status st = bed_->host(0).Run({testing::kExportProgram, "--metrics", "9464", src_}, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--metrics"), std::string::npos) << st.message();
  // The exporter of SetUp holds the port already.
  st = bed_->host(0).Run({testing::kExportProgram, "-q", "--metrics",
                          "127.0.0.1:" + std::to_string(kExportPort), src_},
                         &out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot listen on 127.0.0.1:9464"), std::string::npos)
      << st.message();
  st = bed_->host(1).Run(
      {testing::kLcfsProgram, root_, mnt_, "-o", "iface=lan0,metrics=localhost:1"}, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("metrics"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace lcfs
