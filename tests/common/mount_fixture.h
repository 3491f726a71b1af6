// What tests that mount lcfs for real share: the program's path, shell
// commands with a bounded run time, the mount table, scratch directories
// (an exported tree and a mount point) and their cleanup, which undoes a
// mount even when a test fails.
#pragma once

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "common/tool_run.h"
#include "common/wait.h"
#include "lcfs/status.h"
#include "testbed/subprocess.h"
#include "testbed/testbed.h"

namespace lcfs::testing {

// The `lcfs` program of this build (LCFS_FS_DIR comes from tests/CMakeLists.txt).
inline const std::string kLcfsProgram = std::string(LCFS_FS_DIR) + "/lcfs";

// Starts lcfs-export with `args` on `host` into *exporter and waits (at most
// `limit`) for the 64 characters it prints first: the root HASH, or the
// CHANNEL of `--sign`. Returns them; an error carries the exporter's stderr.
inline Result<std::string> StartExporter(testbed::Host& host, const std::vector<std::string>& args,
                                         std::optional<testbed::Subprocess>* exporter,
                                         std::chrono::seconds limit = std::chrono::seconds(20)) {
  std::vector<std::string> argv = {kExportProgram};
  argv.insert(argv.end(), args.begin(), args.end());
  auto spawned = host.Spawn(argv);
  if (!spawned.ok()) return spawned.status();
  exporter->emplace(std::move(*spawned));
  if (!WaitUntil([&] { return (*exporter)->Stdout().size() >= 64; }, limit))
    return Status::Error(ETIMEDOUT, "lcfs-export printed nothing: " + (*exporter)->Stderr());
  return (*exporter)->Stdout().substr(0, 64);
}

// Runs `script` with sh and returns its stdout. A failure (or a run longer
// than `limit`) goes to *status when given, else fails the test.
inline std::string Sh(const std::string& script, Status* status = nullptr,
                      std::chrono::seconds limit = std::chrono::seconds(120)) {
  std::string out;
  Status st = testbed::RunCommand({"sh", "-c", script}, &out, {}, limit);
  if (status)
    *status = st;
  else
    EXPECT_TRUE(st.ok()) << script << ": " << st.ToString();
  return out;
}

// Whether something is mounted at `path` (as /proc/self/mountinfo spells it).
inline bool IsMounted(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.find(" " + path + " ") != std::string::npos) return true;
  return false;
}

// Waits (bounded) for `path` to be mounted or unmounted.
inline bool WaitMounted(const std::string& path, bool mounted,
                        std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  return WaitUntil([&] { return IsMounted(path) == mounted; }, limit);
}

// Lazily unmounts whatever is (still) mounted at `path`.
inline void DetachMounts(const std::string& path) {
  for (int i = 0; i < 4 && IsMounted(path); ++i) ::umount2(path.c_str(), MNT_DETACH);
}

// A scratch directory /tmp/PREFIX-XXXXXX holding `src` (a tree to export)
// and `mnt` (a mount point), both created. The destructor unmounts `mnt` and
// removes everything. `base` is empty if creation failed.
struct MountDirs {
  explicit MountDirs(const std::string& prefix) {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (!::mkdtemp(tmpl.data())) return;
    base = tmpl;
    src = base + "/src";
    mnt = base + "/mnt";
    cache = base + "/cache";
    std::filesystem::create_directories(src);
    std::filesystem::create_directories(mnt);
  }
  ~MountDirs() {
    if (base.empty()) return;
    DetachMounts(mnt);
    std::error_code ec;
    std::filesystem::remove_all(base, ec);
  }
  MountDirs(const MountDirs&) = delete;
  MountDirs& operator=(const MountDirs&) = delete;

  std::string base, src, mnt, cache;
};

// A test fixture with scratch directories (see MountDirs): base_, src_,
// mnt_ and cache_ name its parts; everything is unmounted and removed after
// the test.
class MountTest : public ::testing::Test {
 protected:
  explicit MountTest(const std::string& prefix)
      : dirs_(prefix), base_(dirs_.base), src_(dirs_.src), mnt_(dirs_.mnt), cache_(dirs_.cache) {}
  void SetUp() override { ASSERT_FALSE(base_.empty()) << "mkdtemp failed"; }

  MountDirs dirs_;
  std::string base_, src_, mnt_, cache_;
};

}  // namespace lcfs::testing
