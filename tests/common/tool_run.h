// Runs one of the built command-line tools the way a user's shell would, for
// the tests of their documented output and exit codes.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace lcfs::testing {

struct ToolRun {
  int exit_code = -1;  // -1: could not run, or killed by a signal
  std::string out;     // standard output
};

// The path of tool `name` in the build (LCFS_TOOLS_DIR, set by tests/CMakeLists.txt).
inline std::string ToolPath(const std::string& name) {
  return std::string(LCFS_TOOLS_DIR) + "/" + name;
}

// The shipped programs of this build (the mount, `lcfs`, is in mount_fixture.h).
inline const std::string kExportProgram = ToolPath("lcfs-export");
inline const std::string kSyncProgram = ToolPath("lcfs-sync");
inline const std::string kCacheProgram = ToolPath("lcfs-cache");

// Runs `tool` with `args` (shell words): stdout captured, stderr dropped.
inline ToolRun RunTool(const std::string& tool, const std::string& args) {
  ToolRun r;
  FILE* p = ::popen((tool + " " + args + " 2>/dev/null").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The tests of one built tool: skipped when the build has not made it.
class BuiltToolTest : public ::testing::Test {
 protected:
  using ToolRun = testing::ToolRun;
  explicit BuiltToolTest(const std::string& name) : tool_(ToolPath(name)) {}
  void SetUp() override {
    if (!std::filesystem::exists(tool_)) GTEST_SKIP() << tool_ << " not built";
  }
  const std::string& Tool() const { return tool_; }
  ToolRun RunTool(const std::string& args) const { return testing::RunTool(tool_, args); }

 private:
  std::string tool_;
};

}  // namespace lcfs::testing
