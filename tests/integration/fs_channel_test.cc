// Channel mounts (issue 16 point 3): `lcfs CHANNEL MNT` on one testbed host
// follows a publisher (`lcfs-export --sign KEY DIR`) on another. A change in
// DIR reaches the mount within 15 s; a file opened before the change keeps
// its old bytes and a directory listing begun before it finishes in the old
// version; `pin=` stays on one root; the root's user.lcfs.* attributes say
// where the mount stands; an exporter restarted with the same key (a higher
// sequence) moves the mount on; a CHANNEL nobody announces fails the mount
// after its timeout.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>

#include "common/mount_fixture.h"
#include "common/testbed_fixture.h"
#include "common/wait.h"
#include "lcfs/unique_fd.h"
#include "testbed/subprocess.h"
#include "testbed/testbed.h"

namespace lcfs {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

const std::string kKeygen = lcfs::testing::ToolPath("lcfs-keygen");

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Replaces `path` the way publishers do: a new file renamed over the old.
void Publish(const std::string& path, const std::string& content) {
  std::ofstream(path + ".tmp") << content;
  stdfs::rename(path + ".tmp", path);
}

std::string Xattr(const std::string& path, const std::string& name) {
  char buf[256];
  const ssize_t n = ::getxattr(path.c_str(), name.c_str(), buf, sizeof buf);
  return n < 0 ? std::string("error ") + std::to_string(errno) : std::string(buf, n);
}

// The names a directory stream lists from its current position on.
std::set<std::string> ListFrom(DIR* dir) {
  std::set<std::string> names;
  while (dirent* e = ::readdir(dir))
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") names.insert(e->d_name);
  return names;
}

class FsChannelTest : public testing::ExportTestbedTest {
 protected:
  void SetUp() override {
    if (!StartTestbedWithDirs({testing::kExportProgram, testing::kLcfsProgram, kKeygen}, 2,
                              "fs-channel"))
      return;
    stdfs::create_directories(src_ + "/sub");
    std::ofstream(src_ + "/version") << "v1\n";
    std::ofstream(src_ + "/sub/note") << "unchanged\n";
    channel_ = lcfs::testing::Sh(kKeygen + " " + base_ + "/key");
    while (!channel_.empty() && channel_.back() == '\n') channel_.pop_back();
    ASSERT_EQ(channel_.rfind("lcfs-", 0), 0u) << channel_;
    StartExporter();
  }

  void StartExporter() {
    // --settle 200ms: the publisher's change is announced soon after it.
    auto printed = lcfs::testing::StartExporter(
        bed_->host(0), {"-q", "-i", "lan0", "--settle", "200ms", "--sign", base_ + "/key", src_},
        &exporter_);
    ASSERT_TRUE(printed.ok()) << printed.status().ToString();
  }

  // Mounts `source` (CHANNEL or HASH) on host 1 at base_/NAME with its own
  // cache; returns the mount point.
  std::string Mount(const std::string& source, const std::string& name,
                    const std::string& extra = "", Status* status = nullptr) {
    const std::string mnt = base_ + "/" + name;
    stdfs::create_directories(mnt);
    bed_->TrackMount(mnt);
    std::string opts = "iface=lan0,timeout=5,cache=" + base_ + "/cache-" + name;
    if (!extra.empty()) opts += "," + extra;
    Status st = bed_->host(1).Run({testing::kLcfsProgram, source, mnt, "-o", opts});
    if (status)
      *status = st;
    else
      EXPECT_TRUE(st.ok()) << st.ToString();
    return mnt;
  }

  std::string channel_;
};

TEST_F(FsChannelTest, FollowsUpdatesWhileOpenFilesAndListingsKeepTheirVersion) {
  const std::string mnt = Mount(channel_, "follow");
  ASSERT_EQ(ReadFile(mnt + "/version"), "v1\n");
  EXPECT_EQ(Xattr(mnt, "user.lcfs.channel"), channel_);
  const std::string first_root = Xattr(mnt, "user.lcfs.root");
  const uint64_t first_revision = std::stoull(Xattr(mnt, "user.lcfs.revision"));
  // pin=: the same channel, held at the first root.
  const std::string pinned = Mount(channel_, "pinned", "pin=" + first_root);
  EXPECT_EQ(Xattr(pinned, "user.lcfs.root"), first_root);

  // Opened before the change: a file (read once, so its bytes are here) and
  // the root listing.
  UniqueFd old_file(::open((mnt + "/version").c_str(), O_RDONLY));
  ASSERT_TRUE(old_file.valid());
  char buf[16];
  ASSERT_EQ(::pread(old_file.get(), buf, sizeof buf, 0), 3);
  DIR* old_listing = ::opendir(mnt.c_str());
  ASSERT_NE(old_listing, nullptr);
  EXPECT_EQ(ListFrom(old_listing), (std::set<std::string>{"sub", "version"}));

  Publish(src_ + "/version", "v2\n");
  std::ofstream(src_ + "/added") << "new file\n";
  const auto changed = std::chrono::steady_clock::now();
  ASSERT_TRUE(lcfs::testing::WaitUntil([&] { return ReadFile(mnt + "/version") == "v2\n"; }, 30s))
      << "the mount never switched";
  EXPECT_LT(std::chrono::steady_clock::now() - changed, 15s);
  EXPECT_EQ(ReadFile(mnt + "/added"), "new file\n");
  EXPECT_EQ(ReadFile(mnt + "/sub/note"), "unchanged\n");
  EXPECT_NE(Xattr(mnt, "user.lcfs.root"), first_root);
  EXPECT_GT(std::stoull(Xattr(mnt, "user.lcfs.revision")), first_revision);

  // What was open stays in its version.
  ASSERT_EQ(::pread(old_file.get(), buf, sizeof buf, 0), 3);
  EXPECT_EQ(std::string(buf, 3), "v1\n");
  ::rewinddir(old_listing);
  EXPECT_EQ(ListFrom(old_listing), (std::set<std::string>{"sub", "version"}));
  ::closedir(old_listing);
  // A new listing is the new version, whole.
  DIR* listing = ::opendir(mnt.c_str());
  ASSERT_NE(listing, nullptr);
  EXPECT_EQ(ListFrom(listing), (std::set<std::string>{"added", "sub", "version"}));
  ::closedir(listing);

  // The pinned mount did not move.
  EXPECT_EQ(ReadFile(pinned + "/version"), "v1\n");
  EXPECT_FALSE(stdfs::exists(pinned + "/added"));
  EXPECT_EQ(Xattr(pinned, "user.lcfs.root"), first_root);
  old_file.reset();
  ::umount2(pinned.c_str(), MNT_DETACH);
  ::umount2(mnt.c_str(), MNT_DETACH);
}

TEST_F(FsChannelTest, AnExporterRestartedWithTheSameKeyMovesTheMountOn) {
  const std::string mnt = Mount(channel_, "restart");
  ASSERT_EQ(ReadFile(mnt + "/version"), "v1\n");
  const uint64_t before = std::stoull(Xattr(mnt, "user.lcfs.revision"));
  exporter_->Stop(SIGKILL, 1s);
  Publish(src_ + "/version", "v3\n");
  StartExporter();
  ASSERT_TRUE(lcfs::testing::WaitUntil([&] { return ReadFile(mnt + "/version") == "v3\n"; }, 30s))
      << "the mount did not follow the restarted exporter";
  EXPECT_GT(std::stoull(Xattr(mnt, "user.lcfs.revision")), before);
  ::umount2(mnt.c_str(), MNT_DETACH);
}

TEST_F(FsChannelTest, AChannelNobodyAnnouncesFailsTheMountAfterItsTimeout) {
  const std::string other = lcfs::testing::Sh(kKeygen + " " + base_ + "/other-key");
  Status st;
  const auto start = std::chrono::steady_clock::now();
  const std::string mnt = Mount(other.substr(0, other.find('\n')), "silent", "timeout=1", &st);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.ToString().find("no valid announcement"), std::string::npos) << st.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_FALSE(lcfs::testing::IsMounted(mnt));
}

}  // namespace
}  // namespace lcfs
