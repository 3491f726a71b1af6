// An unprivileged user mounts a tree: `lcfs HASH ~/mnt -o iface=lan0` as
// uid 65534 on a testbed host (fusermount3 does the mount), reads through it,
// finds the cache in $XDG_CACHE_HOME/lcfs private to them, and unmounts with
// `fusermount3 -u`, after which the daemon is gone. It all happens in a
// private mount namespace, so the mount never shows outside the test.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/mount_fixture.h"
#include "common/tool_run.h"
#include "common/wait.h"
#include "testbed/subprocess.h"
#include "testbed/testbed.h"

namespace lcfs {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

constexpr uid_t kUser = 65534;  // nobody

// PIDs of processes whose command line mentions `needle`.
std::vector<pid_t> ProcessesMentioning(const std::string& needle) {
  std::vector<pid_t> pids;
  for (const auto& e : stdfs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = testbed::ReadFileOrEmpty(e.path().string() + "/cmdline");
    for (char& c : cmdline)
      if (c == '\0') c = ' ';
    if (cmdline.find(needle) != std::string::npos) pids.push_back(std::stoi(name));
  }
  return pids;
}

TEST(OpsUserMountTest, NonRootUserMountsReadsAndUnmounts) {
  LCFS_REQUIRE_TESTBED();
  if (!stdfs::exists(testing::kExportProgram)) GTEST_SKIP() << "lcfs-export not built";
  if (::access("/usr/bin/fusermount3", X_OK) != 0) GTEST_SKIP() << "no fusermount3";
  auto bed = testbed::Testbed::Create({.hosts = 2});
  ASSERT_TRUE(bed.ok()) << bed.status().ToString();
  auto base = (*bed)->MakeTempDir("ops-user");
  ASSERT_TRUE(base.ok());
  ASSERT_EQ(::chmod(base->c_str(), 0755), 0);
  const std::string src = *base + "/src", home = *base + "/home", mnt = home + "/mnt";
  const std::string bin = *base + "/lcfs";  // the build tree may be closed to the user
  stdfs::create_directories(src);
  std::ofstream(src + "/note") << "mounted by a user\n";
  stdfs::create_directories(mnt);
  for (const std::string& d : {home, mnt}) ASSERT_EQ(::chown(d.c_str(), kUser, kUser), 0);
  stdfs::copy_file(testing::kLcfsProgram, bin);

  std::optional<testbed::Subprocess> exporter;
  auto printed = testing::StartExporter((*bed)->host(0), {"-q", "-i", "lan0", src}, &exporter,
                                        std::chrono::seconds(60));
  ASSERT_TRUE(printed.ok()) << printed.status().ToString();
  const std::string root = *printed;

  // Debian gives every user /dev/fuse (mode 0666); containers often do not.
  // A private mount namespace lends the user a 0666 node of the same device,
  // so nothing changes outside this test. The user's steps run as uid 65534
  // in host 1's network namespace; the script prints what the test checks.
  const std::string user =
      "setpriv --reuid=65534 --regid=65534 --clear-groups env -i HOME=" + home +
      " XDG_CACHE_HOME=" + home + "/.cache PATH=/usr/bin:/bin";
  const std::string script =
      "set -e\n"
      "mkdir " +
      *base + "/dev && mount -t tmpfs -o mode=0755 none " + *base +
      "/dev\n"
      "mknod -m 0666 " +
      *base + "/dev/fuse c 10 229 && mount --bind " + *base + "/dev/fuse /dev/fuse\n" + user + " " +
      bin + " " + root + " " + mnt +
      " -o iface=lan0,timeout=10\n"
      "grep ' " +
      mnt + " ' /proc/self/mounts\n" + user + " cat " + mnt +
      "/note\n"
      "stat -c 'cache %u %a' " +
      home + "/.cache/lcfs\n" + user + " fusermount3 -u " + mnt +
      "\n"
      "grep -q ' " +
      mnt + " ' /proc/self/mounts || echo unmounted\n";
  std::string out;
  Status st = (*bed)->host(1).Run(
      {"unshare", "--mount", "--propagation", "private", "sh", "-c", script}, &out, 120s);
  ASSERT_TRUE(st.ok()) << st.ToString() << "\n" << out;
  // Mounted by the user through fusermount3: nosuid, nodev, theirs.
  EXPECT_NE(out.find(mnt + " fuse.lcfs ro,nosuid,nodev"), std::string::npos) << out;
  EXPECT_NE(out.find("user_id=65534"), std::string::npos) << out;
  EXPECT_NE(out.find("mounted by a user\n"), std::string::npos) << out;
  // The cache went where XDG says, owned by the user and closed to others.
  EXPECT_NE(out.find("cache 65534 700\n"), std::string::npos) << out;
  EXPECT_NE(out.find("unmounted\n"), std::string::npos) << out;
  // The daemon exits once its filesystem is gone.
  EXPECT_TRUE(testing::WaitUntil([&] { return ProcessesMentioning(mnt).empty(); }, 30s, 50ms));
}

}  // namespace
}  // namespace lcfs
