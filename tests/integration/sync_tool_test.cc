// lcfs-sync against the real exporter (lcfs-export) on the virtual LAN: a
// tree with many small files, an empty file, a 100 MiB file and symlinks;
// a re-sync after one chunk changed; bad input; no exporter; the exporter
// killed mid-sync.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>
#include <filesystem>
#include <regex>
#include <thread>

#include "testbed/testbed.h"
#include "unit/sync/tree_listing.h"

namespace lcfs::sync {
namespace {

using testing::RandomBytes;
using testing::ScratchDir;
using testing::TreeListing;
using testing::WriteAll;

const std::string kExport = LCFS_TOOLS_DIR "/lcfs-export";
const std::string kSync = LCFS_TOOLS_DIR "/lcfs-sync";
constexpr uint64_t kChunk = 1 << 20;  // the exporter's default

class SyncToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testbed::HaveTestbedPrivileges()) GTEST_SKIP() << "needs root";
    ASSERT_TRUE(std::filesystem::exists(kExport)) << kExport << " not built";
    ASSERT_TRUE(std::filesystem::exists(kSync)) << kSync << " not built";
    auto bed = testbed::Testbed::Create({});
    ASSERT_TRUE(bed.ok()) << bed.status().ToString();
    bed_ = std::move(bed).value();
  }

  // Starts lcfs-export on host 0; returns the root HASH it prints.
  std::string StartExporter(const std::string& dir, const std::string& rate = "1G") {
    auto p = bed_->host(0).Spawn({kExport, "--iface", "lan0", "--no-watch", "--rate", rate,
                                  "--mld-query-interval", "1s", "--quiet", dir});
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    exporter_.emplace(std::move(p).value());
    for (int i = 0; i < 3000; ++i) {  // bounded wait for the first line (indexing)
      const std::string out = exporter_->Stdout();
      if (auto nl = out.find('\n'); nl != std::string::npos) return out.substr(0, nl);
      if (!exporter_->running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "lcfs-export printed no HASH: " << exporter_->Stderr();
    return "";
  }

  // Runs lcfs-sync on host 1; returns its exit code, output in *out.
  int RunSync(const std::vector<std::string>& args, std::string* out, std::string* err = nullptr) {
    std::vector<std::string> argv = {kSync, "--iface", "lan0"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto p = bed_->host(1).Spawn(argv);
    EXPECT_TRUE(p.ok());
    auto status = p->Wait(std::chrono::seconds(120));
    EXPECT_TRUE(status.has_value()) << "lcfs-sync did not exit";
    if (!status) return -1;
    *out = p->Stdout();
    if (err != nullptr) *err = p->Stderr();
    return WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
  }

  static uint64_t BytesReceived(const std::string& summary) {
    std::smatch m;
    if (!std::regex_search(summary, m, std::regex(R"(received .* \((\d+) bytes\))"))) return ~0ull;
    return std::stoull(m[1]);
  }

  std::unique_ptr<testbed::Testbed> bed_;
  std::optional<testbed::Subprocess> exporter_;
};

TEST_F(SyncToolTest, SyncsATreeThenOnlyTheChangedChunk) {
  ScratchDir src, dst;
  for (int i = 0; i < 200; ++i)
    WriteAll(src / ("small/d" + std::to_string(i % 7) + "/f" + std::to_string(i)),
             RandomBytes(50 + 41 * i, i));
  WriteAll(src / "empty", "", 0600);
  WriteAll(src / "big", RandomBytes(100 << 20, 1), 0755);
  symlink("big", (src / "link").c_str());
  symlink("/nowhere", (src / "small/dangling").c_str());
  const std::string hash = StartExporter(src.path());
  ASSERT_EQ(hash.size(), 64u);

  std::string out, err;
  ASSERT_EQ(RunSync({"--timeout", "10", hash, dst.path()}, &out, &err), 0) << out << err;
  EXPECT_EQ(TreeListing(src.path()), TreeListing(dst.path()));
  EXPECT_GE(BytesReceived(out), 100u << 20) << out;
  EXPECT_NE(out.find("symbols:"), std::string::npos) << out;

  // Change one chunk; the exporter publishes the new tree after SIGHUP.
  std::string big = testing::ReadAll(src / "big");
  big[37 * kChunk + 1000] ^= 0x40;
  WriteAll(src / "big", big, 0755);
  exporter_.reset();
  const std::string hash2 = StartExporter(src.path());
  ASSERT_NE(hash2, hash);
  ASSERT_EQ(RunSync({hash2, dst.path()}, &out, &err), 0) << out << err;
  EXPECT_EQ(TreeListing(src.path()), TreeListing(dst.path()));
  // One chunk, plus the tree node of big and the root directory object.
  const uint64_t received = BytesReceived(out);
  EXPECT_GE(received, kChunk) << out;
  EXPECT_LT(received, 2 * kChunk + 100 * 32 + 64 * 1024) << out;
  EXPECT_NE(out.find("reused from the local copy: 99.0 MiB"), std::string::npos) << out;
}

TEST_F(SyncToolTest, BadInputAndNoExporter) {
  ScratchDir dst;
  std::string out, err;
  EXPECT_EQ(RunSync({"not-a-hash", dst / "d"}, &out, &err), 2);
  EXPECT_NE(err.find("not a root hash"), std::string::npos) << err;
  EXPECT_EQ(RunSync({"--bogus"}, &out, &err), 2);
  EXPECT_EQ(RunSync({"--source", "ff02::1", std::string(64, 'a'), dst / "d"}, &out, &err), 2);

  // Nobody exports this: a clear timeout error, exit 3, DEST not created.
  EXPECT_EQ(RunSync({"--timeout", "0.5", std::string(64, 'a'), dst / "d"}, &out, &err), 3);
  EXPECT_NE(err.find("timed out"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(dst / "d"));
}

TEST_F(SyncToolTest, ExporterKilledMidSyncLeavesNoHalfWrittenFiles) {
  ScratchDir src, dst;
  WriteAll(src / "a", RandomBytes(3000, 1));
  WriteAll(src / "big", RandomBytes(24 << 20, 2));
  const std::string hash = StartExporter(src.path(), "40M");  // ~5 s for big
  ASSERT_EQ(hash.size(), 64u);
  auto sync = bed_->host(1).Spawn({kSync, "--iface", "lan0", "--timeout", "1", hash, dst.path()});
  ASSERT_TRUE(sync.ok());
  // Wait (bounded) until big is being written, then kill the exporter.
  bool writing = false;
  for (int i = 0; i < 2000 && !writing; ++i) {
    for (auto& e : std::filesystem::directory_iterator(dst.path()))
      if (e.path().filename().string().rfind(".lcfs-sync.big", 0) == 0) writing = true;
    if (!writing) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(writing);
  exporter_->Stop(SIGKILL, std::chrono::seconds(1));
  auto status = sync->Wait(std::chrono::seconds(30));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 3)
      << testbed::DescribeWaitStatus(*status) << sync->Stderr();
  EXPECT_NE(sync->Stderr().find("timed out"), std::string::npos) << sync->Stderr();
  EXPECT_FALSE(std::filesystem::exists(dst / "big"));
  for (auto& e : std::filesystem::directory_iterator(dst.path()))
    EXPECT_NE(e.path().filename().string().rfind(".lcfs-sync.", 0), 0u) << e.path();
}

}  // namespace
}  // namespace lcfs::sync
