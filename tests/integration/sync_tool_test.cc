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

#include "common/testbed_fixture.h"
#include "common/wait.h"
#include "lcfs/index/indexer.h"
#include "testbed/testbed.h"
#include "unit/sync/symbol_sender.h"
#include "unit/sync/tree_listing.h"

// In the namespace of the sync test helpers (tree_listing.h), which it uses.
namespace lcfs::sync::testing {
namespace {

using lcfs::testing::RandomString;

constexpr uint64_t kChunk = 1 << 20;  // the exporter's default

class SyncToolTest : public lcfs::testing::ProgramsTestbedTest {
 protected:
  void SetUp() override {
    StartTestbed({lcfs::testing::kExportProgram, lcfs::testing::kSyncProgram}, 3, "sync-tool");
  }

  // Runs lcfs-sync on `host` (1 by default); returns its exit code, output in *out.
  int RunSync(const std::vector<std::string>& args, std::string* out, std::string* err = nullptr,
              int host = 1) {
    const Run run = RunSyncOn(host, args);
    *out = run.out;
    if (err != nullptr) *err = run.err;
    return run.code;
  }

  // The byte count of a summary line: "<what> ... (N bytes)".
  static uint64_t SummaryBytes(const std::string& summary, const std::string& what) {
    std::smatch m;
    if (!std::regex_search(summary, m, std::regex(what + R"( .*\((\d+) bytes\))"))) return ~0ull;
    return std::stoull(m[1]);
  }
  static uint64_t BytesReceived(const std::string& s) { return SummaryBytes(s, "received"); }
};

TEST_F(SyncToolTest, SyncsATreeThenOnlyTheChangedChunk) {
  ScratchDir src, dst;
  for (int i = 0; i < 200; ++i)
    WriteAll(src / ("small/d" + std::to_string(i % 7) + "/f" + std::to_string(i)),
             RandomString(50 + 41 * i, i));
  WriteAll(src / "empty", "", 0600);
  WriteAll(src / "big", RandomString(100 << 20, 1), 0755);
  symlink("big", (src / "link").c_str());
  symlink("/nowhere", (src / "small/dangling").c_str());
  const std::string hash = ExportTree(src.path());
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
  const std::string hash2 = ExportTree(src.path());
  ASSERT_NE(hash2, hash);
  ASSERT_EQ(RunSync({hash2, dst.path()}, &out, &err), 0) << out << err;
  EXPECT_EQ(TreeListing(src.path()), TreeListing(dst.path()));
  // One chunk, plus the tree node of big and the root directory object.
  const uint64_t received = BytesReceived(out);
  EXPECT_GE(received, kChunk) << out;
  EXPECT_LT(received, 2 * kChunk + 100 * 32 + 64 * 1024) << out;
  EXPECT_GE(SummaryBytes(out, "reused from the local copy:"), 99 * kChunk) << out;
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
  WriteAll(src / "a", RandomString(3000, 1));
  WriteAll(src / "big", RandomString(24 << 20, 2));
  const std::string hash = ExportTree(src.path(), "40M");  // ~5 s for big
  ASSERT_EQ(hash.size(), 64u);
  // A narrow window: big arrives a few chunks at a time, over seconds.
  auto sync = SpawnSyncOn(1, {"--timeout", "1", "--window", "4", hash, dst.path()});
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

// A small tree most tests below share: files of one and several chunks.
void MakeSmallTree(const ScratchDir& src) {
  for (int i = 0; i < 20; ++i) WriteAll(src / ("f" + std::to_string(i)), RandomString(3000 + i, i));
  WriteAll(src / "big", RandomString(5 * kChunk + 3, 99));
  symlink("big", (src / "link").c_str());
}

TEST_F(SyncToolTest, TwoReceiversAtOnceOneWithTenPercentLoss) {
  ScratchDir src, d1, d2;
  MakeSmallTree(src);
  ASSERT_TRUE(bed_->host(1).SetLoss(10, /*udp_only=*/true).ok());
  const std::string hash = ExportTree(src.path());
  ASSERT_EQ(hash.size(), 64u);
  std::string out1, err1, out2, err2;
  int rc2 = -1;
  std::thread other([&] { rc2 = RunSync({hash, d2.path()}, &out2, &err2, 2); });
  const int rc1 = RunSync({hash, d1.path()}, &out1, &err1, 1);
  other.join();
  ASSERT_EQ(rc1, 0) << out1 << err1;
  ASSERT_EQ(rc2, 0) << out2 << err2;
  EXPECT_EQ(TreeListing(src.path()), TreeListing(d1.path()));
  EXPECT_EQ(TreeListing(src.path()), TreeListing(d2.path()));
}

TEST_F(SyncToolTest, HostileSenderIsCountedAndFilteredBySource) {
  ScratchDir src, d1, d2;
  MakeSmallTree(src);
  const std::string hash = ExportTree(src.path());
  ASSERT_EQ(hash.size(), 64u);
  // Host 2 sends garbage with the right object ids on every group of the tree.
  index::IndexOptions io;
  io.chunk_size = kChunk;
  io.warn = [](const std::string&) {};
  auto index = index::IndexPath(src.path(), io);
  ASSERT_TRUE(index.ok());
  ASSERT_EQ(index->root.ToHex(), hash);
  std::vector<testing::Object> objects;
  ASSERT_TRUE(testing::CollectObjects(*index->mdex, index->root, src.path(), &objects).ok());
  testing::SymbolSender::Options hostile;
  hostile.garbage = true;
  testing::SymbolSender garbage(bed_->host(2), objects, hostile);

  std::string out, err;
  ASSERT_EQ(RunSync({hash, d1.path()}, &out, &err), 0) << out << err;
  EXPECT_EQ(TreeListing(src.path()), TreeListing(d1.path()));
  EXPECT_EQ(out.find("garbage: 0 symbols discarded"), std::string::npos) << out;

  const std::string exporter = bed_->host(0).link_local_str();
  ASSERT_EQ(RunSync({"--source", exporter, hash, d2.path()}, &out, &err), 0) << out << err;
  EXPECT_EQ(TreeListing(src.path()), TreeListing(d2.path()));
  EXPECT_NE(out.find("garbage: 0 symbols discarded (0 failed verification), 0 packets refused"),
            std::string::npos)
      << out;
}

TEST_F(SyncToolTest, SourceFilterRefusesASecondExporter) {
  ScratchDir src, dst;
  MakeSmallTree(src);
  const std::string hash = ExportTree(src.path(), "1G", /*host=*/2);
  ASSERT_EQ(hash.size(), 64u);
  std::string out, err;
  const std::string first = bed_->host(0).link_local_str();  // exports nothing
  EXPECT_EQ(RunSync({"--timeout", "1", "--source", first, hash, dst / "d"}, &out, &err), 3)
      << out << err;
  EXPECT_FALSE(std::filesystem::exists(dst / "d"));
  const std::string second = bed_->host(2).link_local_str();
  EXPECT_EQ(RunSync({"--source", second, hash, dst / "d"}, &out, &err), 0) << out << err;
  EXPECT_EQ(TreeListing(src.path()), TreeListing(dst / "d"));
}

}  // namespace
}  // namespace lcfs::sync::testing
