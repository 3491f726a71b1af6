// The lcfs-keygen tool: output, file mode and exit codes as documented in
// --help and docs/lcfs-keygen.1.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "channel_test_util.h"
#include "common/tool_run.h"
#include "lcfs/channel/channel.h"
#include "lcfs/channel/signing_key.h"

namespace lcfs::channel {
namespace {

class LcfsKeygenTool : public lcfs::testing::BuiltToolTest {
 protected:
  LcfsKeygenTool() : BuiltToolTest("lcfs-keygen") {}
  testing::TempDir dir_;
};

TEST_F(LcfsKeygenTool, CreatesAPrivateKeyAndPrintsItsChannel) {
  const std::string key = dir_.Path("site.key");
  ToolRun r = RunTool("'" + key + "'");
  ASSERT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.out.size(), kChannelNameLength + 1);
  EXPECT_EQ(r.out.back(), '\n');
  struct stat st;
  ASSERT_EQ(stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = SigningKey::Load(key);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->channel().ToString() + "\n", r.out);
  ToolRun again = RunTool("--channel '" + key + "'");
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(again.out, r.out);
}

TEST_F(LcfsKeygenTool, NeverOverwritesAndReportsErrors) {
  const std::string key = dir_.Path("site.key");
  ASSERT_EQ(RunTool("'" + key + "'").exit_code, 0);
  const std::string channel = RunTool("-c '" + key + "'").out;
  ToolRun twice = RunTool("'" + key + "'");
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_EQ(twice.out, "");
  EXPECT_EQ(RunTool("-c '" + key + "'").out, channel);  // the key is untouched
  std::ofstream(dir_.Path("junk")) << "junk\n";
  EXPECT_EQ(RunTool("-c '" + dir_.Path("junk") + "'").exit_code, 1);
  EXPECT_EQ(RunTool("-c '" + dir_.Path("missing") + "'").exit_code, 1);
  EXPECT_EQ(RunTool("").exit_code, 2);
  EXPECT_EQ(RunTool("--bogus x").exit_code, 2);
  EXPECT_EQ(RunTool("a b").exit_code, 2);
}

}  // namespace
}  // namespace lcfs::channel
