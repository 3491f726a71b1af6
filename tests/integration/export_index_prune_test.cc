// lcfs-export's default index caches do not pile up: each start records
// which DIR a cache belongs to (NAME.path) and removes the caches of
// directories that are gone or unused for 30 days (tools/lcfs-export/
// cache_pruner.h). Runs the exporter as root, so on the real
// /var/cache/lcfs-export, touching only files it made.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/random_bytes.h"
#include "common/testbed_fixture.h"
#include "common/tool_run.h"
#include "common/wait.h"
#include "lcfs/hash.h"
#include "lcfs/index/indexer.h"

namespace lcfs {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

const std::string kExport = testing::ToolPath("lcfs-export");

std::string ReadLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string WithExtension(std::string path, const std::string& ext) {
  return stdfs::path(path).replace_extension(ext).string();
}

class ExportIndexPruneTest : public testing::ProgramsTestbedTest {
 protected:
  void SetUp() override {
    if (!StartTestbed({kExport}, 1, "index-prune")) return;
    if (geteuid() != 0) GTEST_SKIP() << "the default cache directory of root is tested";
  }
  void TearDown() override {
    for (const std::string& f : made_) stdfs::remove(f);
  }

  // Runs lcfs-export on `dir` with its default index cache until it prints
  // its HASH, then stops it.
  void RunExporter(const std::string& dir) {
    auto p = bed_->host(0).Spawn({kExport, "--iface", "lan0", "--no-watch", "--no-replicas", dir});
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    ASSERT_TRUE(testing::WaitUntil(
        [&] { return p->Stdout().find('\n') != std::string::npos || !p->running(); }, 60s, 10ms))
        << p->Stderr();
    ASSERT_EQ(p->Stdout().size(), 65u) << p->Stderr();
    log_ = p->Stderr();
    p->Stop(SIGTERM, 10s);
  }

  // A file in the cache directory, removed at teardown.
  std::string Made(const std::string& path) {
    made_.push_back(path);
    return path;
  }

  std::vector<std::string> made_;
  std::string log_;
};

TEST_F(ExportIndexPruneTest, CachesOfDirectoriesGoneOrUnusedFor30DaysAreRemoved) {
  const std::string one = base_ + "/one", two = base_ + "/two";
  for (const auto& d : {one, two}) {
    stdfs::create_directories(d);
    testing::WriteRandomFile(d + "/f", 5000, 1);
  }
  const std::string cache_one = Made(index::DefaultIndexCachePath(one));
  const std::string cache_two = Made(index::DefaultIndexCachePath(two));
  Made(WithExtension(cache_one, ".path"));
  Made(WithExtension(cache_two, ".path"));
  ASSERT_EQ(stdfs::path(cache_one).parent_path(), "/var/cache/lcfs-export");

  RunExporter(one);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(stdfs::exists(cache_one));
  EXPECT_EQ(ReadLine(WithExtension(cache_one, ".path")), stdfs::canonical(one).string());

  // Beside it: a cache unused for 40 days (its DIR unknown), and a recent one
  // of a directory that exists.
  const std::string dir = "/var/cache/lcfs-export/";
  const std::string tag = Sha256Of(base_).ToHex().substr(0, 32);
  const std::string old_cache = Made(dir + tag.substr(0, 31) + "a.index");
  const std::string live_cache = Made(dir + tag.substr(0, 31) + "b.index");
  Made(WithExtension(live_cache, ".path"));
  std::ofstream(old_cache) << "x";
  std::ofstream(live_cache) << "x";
  std::ofstream(WithExtension(live_cache, ".path")) << base_ << "\n";
  const timespec forty_days_ago[2] = {{time(nullptr) - 40 * 86400, 0},
                                      {time(nullptr) - 40 * 86400, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, old_cache.c_str(), forty_days_ago, 0), 0);

  stdfs::remove_all(one);
  RunExporter(two);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_FALSE(stdfs::exists(cache_one)) << "the cache of a directory gone is kept";
  EXPECT_FALSE(stdfs::exists(WithExtension(cache_one, ".path")));
  EXPECT_FALSE(stdfs::exists(old_cache)) << "a cache unused for 40 days is kept";
  EXPECT_TRUE(stdfs::exists(live_cache));
  EXPECT_TRUE(stdfs::exists(cache_two));
  EXPECT_NE(log_.find("index caches: removed"), std::string::npos) << log_;
}

}  // namespace
}  // namespace lcfs
