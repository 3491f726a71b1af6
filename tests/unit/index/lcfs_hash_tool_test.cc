// The lcfs-hash tool: output and exit codes as documented in --help and
// docs/lcfs-hash.1.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/tool_run.h"
#include "lcfs/index/indexer.h"
#include "temp_tree.h"

namespace lcfs::index {
namespace {

class LcfsHashTool : public lcfs::testing::BuiltToolTest {
 protected:
  LcfsHashTool() : BuiltToolTest("lcfs-hash") {}
};

TEST_F(LcfsHashTool, PrintsTheIndexersRootHash) {
  testing::TempTree t;
  t.Write("a", "hello");
  t.Write("d/b", testing::RandomString(70000, 1));
  t.Symlink("a", "l");
  IndexOptions o;
  o.chunk_size = 64 << 10;
  o.warn = [](const std::string&) {};
  auto want = IndexPath(t.root(), o);
  ASSERT_TRUE(want.ok());
  ToolRun r = RunTool("--chunk-size 64K '" + t.root() + "'");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, want->root.ToHex() + "\n");
  // Another chunk size is another tree.
  ToolRun other = RunTool("-c 4K '" + t.root() + "'");
  EXPECT_EQ(other.exit_code, 0);
  EXPECT_NE(other.out, r.out);
  // A file prints its file hash.
  auto file = IndexPath(t.Path("d/b"), o);
  ToolRun f = RunTool("-c 64K -j 1 '" + t.Path("d/b") + "'");
  EXPECT_EQ(f.out, file->root.ToHex() + "\n");
}

TEST_F(LcfsHashTool, VerboseListsTheTree) {
  testing::TempTree t;
  t.Write("a", "hello");
  t.Write("d/b", testing::RandomString(70000, 1));
  t.Symlink("a", "l");
  ToolRun r = RunTool("-v -c 64K '" + t.root() + "'");
  EXPECT_EQ(r.exit_code, 0);
  // dir ./, a, d/, d/b, l, then the root hash.
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 6) << r.out;
  EXPECT_NE(r.out.find("inline "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("./d/b"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" 70000        2  ./d/b"), std::string::npos) << r.out;  // size, chunks
  EXPECT_NE(r.out.find("./l -> a"), std::string::npos) << r.out;
}

TEST_F(LcfsHashTool, ExitCodes) {
  ToolRun help = RunTool("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Exit status"), std::string::npos);
  EXPECT_EQ(RunTool("").exit_code, 2);
  EXPECT_EQ(RunTool("a b").exit_code, 2);
  EXPECT_EQ(RunTool("--chunk-size 3K /").exit_code, 2);
  EXPECT_EQ(RunTool("--threads 0 /").exit_code, 2);
  EXPECT_EQ(RunTool("--inline-max 5000 /").exit_code, 2);
  EXPECT_EQ(RunTool("--no-such-option /").exit_code, 2);
  EXPECT_EQ(RunTool("/nonexistent/lcfs-hash-test").exit_code, 1);
  EXPECT_EQ(RunTool("/dev/null").exit_code, 1);
}

}  // namespace
}  // namespace lcfs::index
