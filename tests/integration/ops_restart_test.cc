// lcfs-export restarted on the same DIR: the index cache (docs/protocol.md
// section 13) spares reading unchanged files, and a file changed behind the
// cache's back (same size, mtime restored with `touch -d`: only its ctime
// moved) is read again, published with its new hash and received with its
// new bytes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>

#include "common/random_bytes.h"
#include "common/testbed_fixture.h"
#include "common/tool_run.h"
#include "common/wait.h"
#include "lcfs/index/indexer.h"
#include "testbed/testbed.h"

namespace lcfs {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kFiles = 40;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct ExportRun {
  std::string hash;
  long files_read = -1;  // from the "indexed" log line
  long files_reused = -1;
};

class OpsRestartTest : public testing::ExportTestbedTest {
 protected:
  void SetUp() override {
    if (!StartTestbedWithDirs({testing::kExportProgram, testing::kSyncProgram}, 2, "ops-restart"))
      return;
    cache_ = base_ + "/state/index";
    for (int i = 0; i < kFiles; ++i) {
      const std::string dir = src_ + "/d" + std::to_string(i % 4);
      stdfs::create_directories(dir);
      // Small files (inline) and files of several chunks.
      const size_t size = i % 5 == 0 ? (2u << 20) + 1000u * i : 100u + 300u * i;
      testing::WriteRandomFile(dir + "/f" + std::to_string(i), size, i);
    }
    // Files younger than 2 s are never cached (racy): wait for them to age.
    const auto written = std::chrono::system_clock::now();
    ASSERT_TRUE(
        testing::WaitUntil([&] { return std::chrono::system_clock::now() - written > 2500ms; }, 10s,
                           std::chrono::milliseconds(50)));
  }

  // Runs lcfs-export on host 0 until it prints its HASH, then stops it.
  ExportRun RunExporter() {
    auto p = bed_->host(0).Spawn({testing::kExportProgram, "--iface", "lan0", "--no-watch",
                                  "--mld-query-interval", "1s", "--index-cache", cache_, src_});
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (!p.ok()) return {};
    exporter_.emplace(std::move(*p));
    ExportRun run;
    std::string out;
    EXPECT_TRUE(testing::WaitUntil(
        [&] {
          out = exporter_->Stdout();
          return out.find('\n') != std::string::npos || !exporter_->running();
        },
        60s));
    if (auto nl = out.find('\n'); nl != std::string::npos) run.hash = out.substr(0, nl);
    const std::string log = exporter_->Stderr();
    std::smatch m;
    if (std::regex_search(log, m, std::regex(R"((\d+) files read \((\d+) unchanged)"))) {
      run.files_read = std::stol(m[1]);
      run.files_reused = std::stol(m[2]);
    } else {
      ADD_FAILURE() << "no index line in the log: " << log;
    }
    return run;
  }

  std::optional<testbed::Subprocess> exporter_;
  std::string cache_;
};

TEST_F(OpsRestartTest, RestartReadsNothingUnchangedAndReadsAgainWhatChangedBehindItsBack) {
  const ExportRun cold = RunExporter();
  ASSERT_EQ(cold.hash.size(), 64u);
  EXPECT_EQ(cold.files_read, kFiles);
  EXPECT_EQ(cold.files_reused, 0);
  ASSERT_TRUE(stdfs::exists(cache_));
  exporter_.reset();  // SIGKILL: the cache was written when the index finished

  const ExportRun warm = RunExporter();
  EXPECT_EQ(warm.hash, cold.hash);
  EXPECT_EQ(warm.files_read, 0);
  EXPECT_EQ(warm.files_reused, kFiles);
  exporter_.reset();

  // Change a multi-chunk file and an inline one behind the cache's back:
  // same size, then the old mtime restored, as `touch -d` would.
  for (const std::string rel : {"/d0/f0", "/d1/f1"}) {
    const std::string path = src_ + rel;
    struct stat before;
    ASSERT_EQ(::stat(path.c_str(), &before), 0);
    std::string bytes = ReadFile(path);
    bytes[bytes.size() / 2] ^= 0x5a;
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
    const struct timespec times[2] = {before.st_atim, before.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
    struct stat after;
    ASSERT_EQ(::stat(path.c_str(), &after), 0);
    ASSERT_EQ(after.st_size, before.st_size);
    ASSERT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  }
  index::IndexOptions plain;
  plain.warn = [](const std::string&) {};
  auto truth = index::IndexPath(src_, plain);  // no cache: what the tree is now
  ASSERT_TRUE(truth.ok());

  const ExportRun changed = RunExporter();
  EXPECT_EQ(changed.files_read, 2);
  EXPECT_EQ(changed.files_reused, kFiles - 2);
  EXPECT_NE(changed.hash, cold.hash);
  EXPECT_EQ(changed.hash, truth->root.ToHex());

  // And the changed bytes are what a receiver gets.
  auto dst = bed_->MakeTempDir("ops-restart-dst");
  ASSERT_TRUE(dst.ok());
  auto sync = bed_->host(1).Spawn({testing::kSyncProgram, "--iface", "lan0", "--quiet", "--timeout",
                                   "30", changed.hash, *dst + "/copy"});
  ASSERT_TRUE(sync.ok());
  auto status = sync->Wait(120s);
  ASSERT_TRUE(status.has_value()) << "lcfs-sync did not exit";
  ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << sync->Stderr();
  for (const std::string rel : {"/d0/f0", "/d1/f1", "/d2/f2", "/d0/f4"})
    EXPECT_EQ(ReadFile(*dst + "/copy" + rel), ReadFile(src_ + rel)) << rel;
}

}  // namespace
}  // namespace lcfs
