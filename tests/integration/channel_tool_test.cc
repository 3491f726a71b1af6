// Channels end to end on the virtual LAN: lcfs-export --sign announces,
// lcfs-sync CHANNEL (and the Follower it uses) follows. The latest version
// is reached; a replayed old record and a forged one are ignored; an
// exporter restarted with the same key is followed to its new root.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>
#include <filesystem>
#include <thread>

#include "common/random_bytes.h"
#include "common/testbed_fixture.h"
#include "common/wait.h"
#include "lcfs/channel/follower.h"
#include "lcfs/channel/record.h"
#include "lcfs/channel/signing_key.h"
#include "lcfs/net/multicast_socket.h"
#include "testbed/testbed.h"
#include "unit/sync/tree_listing.h"

namespace lcfs::channel {
namespace {

using lcfs::testing::RandomString;
using sync::testing::ReadAll;
using sync::testing::ScratchDir;
using sync::testing::TreeListing;
using sync::testing::WriteAll;

constexpr auto kPatience = std::chrono::seconds(30);  // bounded waits, generous under load

// A state only observable by polling (a file's content, a counter).
template <class F>
bool WaitFor(F done) {
  return lcfs::testing::WaitUntil(done, kPatience, std::chrono::milliseconds(10));
}

class ChannelToolTest : public lcfs::testing::ProgramsTestbedTest {
 protected:
  void SetUp() override {
    if (!StartTestbed({lcfs::testing::kExportProgram, lcfs::testing::kSyncProgram}, 3,
                      "channel-tool"))
      return;
    auto key = SigningKey::Generate();
    ASSERT_TRUE(key.ok());
    key_path_ = keys_ / "site.key";
    ASSERT_TRUE(key->WriteNew(key_path_).ok());
    channel_ = key->channel();
    key_.emplace(std::move(*key));
  }

  // Starts lcfs-export --sign on host 0; returns the first root HASH it prints.
  std::string StartExporter(const std::string& dir, const std::string& announce_interval = "2s") {
    return ProgramsTestbedTest::StartExporter(
        {lcfs::testing::kExportProgram, "--iface", "lan0", "--sign", key_path_, "--settle", "100ms",
         "--no-index-cache", "--mld-query-interval", "1s", "--announce-interval", announce_interval,
         "--quiet", dir});
  }
  // The number of root HASH lines the exporter printed so far.
  size_t ExporterRoots() const {
    const std::string out = exporter_->Stdout();
    return static_cast<size_t>(std::count(out.begin(), out.end(), '\n'));
  }

  // Runs lcfs-sync on `host`; returns its exit code, stdout in *out.
  int RunSync(const std::vector<std::string>& args, std::string* out, int host = 1) {
    std::vector<std::string> argv = {"--state", state_.path()};
    argv.insert(argv.end(), args.begin(), args.end());
    const Run run = RunSyncOn(host, argv);
    *out = run.out + run.err;
    return run.code;
  }

  // A Follower running in `host`'s namespace.
  std::unique_ptr<Follower> StartFollower(int host) {
    auto guard = bed_->host(host).Enter();
    EXPECT_TRUE(guard.ok());
    FollowerOptions o;
    o.iface = "lan0";
    auto f = Follower::Start(channel_, o);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() ? std::move(*f) : nullptr;
  }

  // Exports src_ holding a = "version 1\n" (host 0) and follows its channel
  // from host 1 (reader_) up to the first record (first_).
  void FollowVersion1() {
    WriteAll(src_ / "a", "version 1\n");
    const std::string v1 = StartExporter(src_.path());
    ASSERT_EQ(v1.size(), 64u);
    reader_ = StartFollower(1);
    ASSERT_TRUE(reader_);
    auto first = reader_->WaitNewer(std::nullopt, std::chrono::steady_clock::now() + kPatience);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    ASSERT_EQ(first->root.ToHex(), v1);
    first_ = *first;
  }

  ScratchDir keys_, state_, src_;
  std::unique_ptr<Follower> reader_;
  Record first_;  // FollowVersion1
  std::string key_path_;
  ChannelId channel_;
  std::optional<SigningKey> key_;
};

TEST_F(ChannelToolTest, SyncReachesTheLatestVersion) {
  ScratchDir src, dst;
  WriteAll(src / "a", "version 1\n");
  WriteAll(src / "big", RandomString(3 << 20, 1));
  const std::string v1 = StartExporter(src.path());
  ASSERT_EQ(v1.size(), 64u);
  std::string out;
  ASSERT_EQ(RunSync({channel_.ToString(), dst.path()}, &out), 0) << out;
  EXPECT_NE(out.find("root " + v1), std::string::npos) << out;
  EXPECT_EQ(TreeListing(src.path()), TreeListing(dst.path()));

  // The exporter sees the change, re-indexes and signs the new root.
  WriteAll(src / "a", "version 2\n");
  ASSERT_TRUE(WaitFor([&] { return ExporterRoots() >= 2; })) << exporter_->Stderr();
  ASSERT_EQ(RunSync({channel_.ToString(), dst.path()}, &out), 0) << out;
  EXPECT_EQ(ReadAll(dst / "a"), "version 2\n");
  EXPECT_EQ(TreeListing(src.path()), TreeListing(dst.path()));
  EXPECT_EQ(out.find("root " + v1), std::string::npos) << out;
}

// The exporter repeats its record only every hour here: a reader that
// joins later learns the root because its join is answered at once.
TEST_F(ChannelToolTest, AReaderJoiningTheChannelIsAnsweredAtOnce) {
  ScratchDir src, dst;
  WriteAll(src / "a", "version 1\n");
  const std::string v1 = StartExporter(src.path(), "1h");
  ASSERT_EQ(v1.size(), 64u);
  std::string out;
  ASSERT_EQ(RunSync({"--wait", "20", channel_.ToString(), dst.path()}, &out), 0) << out;
  EXPECT_NE(out.find("root " + v1), std::string::npos) << out;
  EXPECT_EQ(ReadAll(dst / "a"), "version 1\n");
}

TEST_F(ChannelToolTest, FollowSyncsEachNewVersion) {
  ScratchDir src, dst;
  WriteAll(src / "a", "version 1\n");
  ASSERT_EQ(StartExporter(src.path()).size(), 64u);
  auto sync =
      SpawnSyncOn(1, {"--state", state_.path(), "--follow", "-q", channel_.ToString(), dst.path()});
  ASSERT_TRUE(sync.ok());
  ASSERT_TRUE(WaitFor([&] { return ReadAll(dst / "a") == "version 1\n"; })) << sync->Stderr();
  for (int v = 2; v <= 3; ++v) {
    const std::string text = "version " + std::to_string(v) + "\n";
    WriteAll(src / "a", text);
    ASSERT_TRUE(WaitFor([&] { return ReadAll(dst / "a") == text; })) << sync->Stderr();
  }
  EXPECT_TRUE(sync->running());
  sync->Stop(SIGTERM, std::chrono::seconds(10));
}

TEST_F(ChannelToolTest, BadChannelAndNoPublisher) {
  ScratchDir dst;
  std::string out;
  std::string typo = channel_.ToString();
  typo[20] = typo[20] == 'a' ? 'b' : 'a';
  EXPECT_EQ(RunSync({typo, dst / "d"}, &out), 2);
  EXPECT_NE(out.find("mistyped"), std::string::npos) << out;
  EXPECT_EQ(RunSync({"--wait", "0.5", channel_.ToString(), dst / "d"}, &out), 3);
  EXPECT_NE(out.find("no valid record"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dst / "d"));
}

TEST_F(ChannelToolTest, ReplayedAndForgedRecordsAreIgnored) {
  ASSERT_NO_FATAL_FAILURE(FollowVersion1());
  const RecordBytes old_record = EncodeRecord(first_);

  WriteAll(src_ / "a", "version 2\n");
  auto second = reader_->WaitNewer(first_.sequence, std::chrono::steady_clock::now() + kPatience);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_NE(second->root, first_.root);

  // Host 2 replays the old record and forges a newer one for another root
  // (a well-formed packet: only the signature is wrong).
  Record forged = *second;
  forged.sequence += 1000;
  forged.root = first_.root;
  const RecordBytes forged_bytes = EncodeRecord(forged);
  auto guard = bed_->host(2).Enter();
  ASSERT_TRUE(guard.ok());
  net::MulticastSocketOptions so;
  auto sock = net::MulticastSocket::Open(so);
  ASSERT_TRUE(sock.ok());
  sock->set_destination_port(net::kDefaultPort);
  ASSERT_TRUE(sock->SetSendInterface(bed_->host(2).ifindex()).ok());
  const net::Ipv6Address group = ChannelGroup(channel_);
  ASSERT_TRUE(WaitFor([&] {
    const net::OutgoingDatagram d[2] = {{group, old_record}, {group, forged_bytes}};
    EXPECT_TRUE(sock->Send(d).ok());
    const RecordCounters c = reader_->counters();
    return c[RecordDrop::kOldSequence] > 0 && c[RecordDrop::kBadSignature] > 0;
  }));
  EXPECT_EQ(reader_->current()->root, second->root);
  EXPECT_EQ(reader_->current()->sequence, second->sequence);
}

TEST_F(ChannelToolTest, ExporterRestartWithTheSameKeyIsFollowed) {
  ASSERT_NO_FATAL_FAILURE(FollowVersion1());

  exporter_->Stop(SIGTERM, std::chrono::seconds(10));
  WriteAll(src_ / "a", "version 2 (written while the exporter was down)\n");
  const std::string v2 = StartExporter(src_.path());
  ASSERT_NE(v2, first_.root.ToHex());
  auto second = reader_->WaitNewer(first_.sequence, std::chrono::steady_clock::now() + kPatience);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->root.ToHex(), v2);
  EXPECT_GT(second->sequence, first_.sequence);
  EXPECT_EQ(reader_->counters()[RecordDrop::kBadSignature], 0u);
}

}  // namespace
}  // namespace lcfs::channel
