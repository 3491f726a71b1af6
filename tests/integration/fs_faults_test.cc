// Failure semantics of a real FUSE mount served in-process from a source the
// test controls: an exporter that vanishes mid-read gives EIO within the
// timeout while cached parts stay readable (soft), a hard mount waits for
// it to come back, and a forced unmount with a read in flight is clean.
// Also: every fetch carries the length its parent gives, and lying lengths
// are refused; prefetch=none fetches only what is asked and prefetch=all its
// neighbours; prefetch never delays a blocked read; a reader blocked on a
// fetch that never comes dies of a signal at once and leaves the mount
// usable; two hosts of the testbed
// mounting the same tree at once, sharing one chunk cache.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "common/mount_fixture.h"
#include "common/random_bytes.h"
#include "common/wait.h"
#include "filesystem.h"
#include "fuse_mount.h"
#include "lcfs/cache/chunk_cache.h"
#include "lcfs/index/directory.h"
#include "lcfs/index/indexer.h"
#include "lcfs/unique_fd.h"
#include "object_fetcher.h"
#include "object_source_factory.h"
#include "testbed/subprocess.h"
#include "testbed/testbed.h"

namespace lcfs::fs {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

constexpr size_t kChunk = 1 << 20;

// Forwards to a real source until "killed": then every fetch waits out its
// timeout and fails, as a vanished exporter would look from the network.
class KillableSource : public ObjectSource {
 public:
  explicit KillableSource(std::unique_ptr<ObjectSource> inner) : inner_(std::move(inner)) {}
  Result<std::vector<uint8_t>> Fetch(const FetchRequest& request) override {
    const auto timeout = request.timeout;
    {
      std::unique_lock lock(mu_);
      waiting_++;
      cv_.notify_all();
      cv_.wait_for(lock, timeout, [&] { return alive_; });
      waiting_--;
      if (!alive_) return Status::Error(ETIMEDOUT, "exporter gone");
    }
    return inner_->Fetch(request);
  }
  void SetAlive(bool alive) {
    std::lock_guard lock(mu_);
    alive_ = alive;
    cv_.notify_all();
  }
  bool WaitForWaiter() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return waiting_ > 0; });
  }

 private:
  std::unique_ptr<ObjectSource> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool alive_ = true;
  int waiting_ = 0;
};

using lcfs::testing::WriteRandomFile;

// Reads with O_DIRECT so the kernel's page cache cannot answer for us: every
// read reaches the filesystem.
ssize_t DirectRead(const std::string& path, uint64_t offset, size_t size, int* err) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECT));
  if (!fd) {
    *err = errno;
    return -1;
  }
  void* mem = nullptr;
  if (::posix_memalign(&mem, 4096, size) != 0) return -1;
  std::unique_ptr<void, decltype(&std::free)> buf(mem, &std::free);
  ssize_t n = ::pread(fd.get(), buf.get(), size, static_cast<off_t>(offset));
  *err = n < 0 ? errno : 0;
  return n;
}

class FsFaultsTest : public lcfs::testing::MountTest {
 protected:
  FsFaultsTest() : MountTest("lcfs-fs-faults") {}
  void SetUp() override {
    LCFS_REQUIRE_TESTBED();
    MountTest::SetUp();
    WriteRandomFile(src_ + "/big.bin", 16 * kChunk, 7);
    auto indexed = index::IndexPath(src_);
    ASSERT_TRUE(indexed.ok()) << indexed.status().ToString();
    root_ = indexed->root;
  }
  void TearDown() override { Stop(); }

  // Serves the exported tree through a KillableSource.
  void Start(std::chrono::milliseconds timeout, bool hard) {
    auto local = MakeLocalObjectSource(src_);
    ASSERT_TRUE(local.ok()) << local.status().ToString();
    source_ = std::make_unique<KillableSource>(std::move(*local));
    FetchPolicy policy;
    policy.timeout = timeout;
    policy.hard = hard;
    StartWith(*source_, root_, policy);
  }
  // Mounts the tree `root` of `source` in-process at mnt_.
  void StartWith(ObjectSource& source, const Hash& root, FetchPolicy policy,
                 FilesystemOptions options = {}) {
    auto cache = lcfs::cache::ChunkCache::Open(base_ + "/cache", 0);
    ASSERT_TRUE(cache.ok());
    chunk_cache_ = std::move(*cache);
    fetcher_ = std::make_unique<ObjectFetcher>(source, *chunk_cache_, policy);
    fs_ = std::make_unique<Filesystem>(root, *fetcher_, options);
    ASSERT_TRUE(fs_->LoadRoot().ok());
    FuseMountOptions opts;
    opts.mountpoint = mnt_;
    auto mount = FuseMount::Mount(*fs_, opts);
    ASSERT_TRUE(mount.ok()) << mount.status().ToString();
    mount_ = std::move(*mount);
    loop_ = std::thread([this] { loop_status_ = mount_->Run(); });
  }
  void Stop() {
    if (mount_) mount_->Exit();
    if (loop_.joinable()) loop_.join();
    mount_.reset();
    fs_.reset();
    fetcher_.reset();
  }

  Hash root_;
  std::unique_ptr<KillableSource> source_;
  std::unique_ptr<cache::ChunkCache> chunk_cache_;
  std::unique_ptr<ObjectFetcher> fetcher_;
  std::unique_ptr<Filesystem> fs_;
  std::unique_ptr<FuseMount> mount_;
  std::thread loop_;
  Status loop_status_;
  std::error_code ec_;
};

TEST_F(FsFaultsTest, ExporterGoneMidReadGivesEioWithinTimeoutCachedPartsStayReadable) {
  Start(1s, /*hard=*/false);
  const std::string file = mnt_ + "/big.bin";
  int err = 0;
  ASSERT_EQ(DirectRead(file, 0, 2 * kChunk, &err), static_cast<ssize_t>(2 * kChunk))
      << strerror(err);
  source_->SetAlive(false);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(DirectRead(file, 12 * kChunk, kChunk, &err), -1);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(err, EIO);
  EXPECT_GE(took, 900ms);  // it did wait for the exporter...
  EXPECT_LT(took, 4s);     // ...but not much longer than the timeout
  printf("figure: soft mount, timeout=1, exporter gone: EIO after %.2f s\n",
         std::chrono::duration<double>(took).count());
  // What was read before is in the chunk cache and still readable.
  EXPECT_EQ(DirectRead(file, 4096, kChunk, &err), static_cast<ssize_t>(kChunk)) << strerror(err);
  // The exporter returns: the failed part reads again.
  source_->SetAlive(true);
  EXPECT_EQ(DirectRead(file, 12 * kChunk, kChunk, &err), static_cast<ssize_t>(kChunk))
      << strerror(err);
}

TEST_F(FsFaultsTest, HardMountWaitsForTheExporter) {
  Start(200ms, /*hard=*/true);
  source_->SetAlive(false);
  std::atomic<ssize_t> got{-2};
  std::thread reader([&] {
    int err = 0;
    got = DirectRead(mnt_ + "/big.bin", 5 * kChunk, kChunk, &err);
  });
  ASSERT_TRUE(source_->WaitForWaiter());
  EXPECT_EQ(got, -2);  // still waiting (several timeouts will pass)
  source_->SetAlive(true);
  reader.join();
  EXPECT_EQ(got, static_cast<ssize_t>(kChunk));
}

TEST_F(FsFaultsTest, ForcedUnmountWithAReadInFlightIsClean) {
  Start(200ms, /*hard=*/true);
  source_->SetAlive(false);
  std::atomic<int> read_errno{0};
  std::thread reader([&] {
    int err = 0;
    if (DirectRead(mnt_ + "/big.bin", 9 * kChunk, kChunk, &err) < 0) read_errno = err;
  });
  ASSERT_TRUE(source_->WaitForWaiter());
  // umount -f aborts the FUSE connection (the kernel does so before it
  // finds the mount busy with the open file, so it may still say EBUSY); a
  // lazy unmount then detaches it. The reader gets an error, the serving
  // loop ends, and the endless retry of the hard mount stops.
  (void)::umount2(mnt_.c_str(), MNT_FORCE);
  const int detached = ::umount2(mnt_.c_str(), MNT_DETACH);
  reader.join();
  EXPECT_EQ(detached, 0) << strerror(errno);
  EXPECT_NE(read_errno.load(), 0);
  loop_.join();
  EXPECT_TRUE(loop_status_.ok()) << loop_status_.ToString();
}

TEST_F(FsFaultsTest, RootThatNeverArrivesFailsTheMountAfterTheTimeout) {
  auto local = MakeLocalObjectSource(src_);
  ASSERT_TRUE(local.ok());
  KillableSource source(std::move(*local));
  source.SetAlive(false);
  auto cache = lcfs::cache::ChunkCache::Open(base_ + "/cache", 0);
  ASSERT_TRUE(cache.ok());
  FetchPolicy policy;
  policy.timeout = 500ms;
  ObjectFetcher fetcher(source, **cache, policy);
  Filesystem fs(root_, fetcher);
  const auto start = std::chrono::steady_clock::now();
  Status st = fs.LoadRoot();
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("root directory"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("ETIMEDOUT"), std::string::npos) << st.message();
  EXPECT_GE(took, 450ms);
  EXPECT_LT(took, 5s);
}

// Records what every fetch asked for and how long the answer was.
class RecordingSource : public ObjectSource {
 public:
  explicit RecordingSource(ObjectSource& inner) : inner_(inner) {}
  Result<std::vector<uint8_t>> Fetch(const FetchRequest& request) override {
    auto bytes = inner_.Fetch(request);
    std::lock_guard lock(mu_);
    if (bytes.ok()) seen_.push_back({request.hash, request.expected_size, bytes->size()});
    return bytes;
  }
  struct Seen {
    Hash hash;
    uint64_t expected, actual;
  };
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  ObjectSource& inner_;
  std::mutex mu_;
  std::vector<Seen> seen_;
};

TEST_F(FsFaultsTest, EveryFetchButTheRootCarriesTheLengthItsParentGives) {
  stdfs::create_directories(src_ + "/sub/deeper");
  WriteRandomFile(src_ + "/sub/three.bin", 3 * kChunk + 5, 8);
  WriteRandomFile(src_ + "/sub/deeper/small", 5000, 9);
  auto indexed = index::IndexPath(src_);
  ASSERT_TRUE(indexed.ok());
  auto local = MakeLocalObjectSource(src_);
  ASSERT_TRUE(local.ok());
  RecordingSource source(**local);
  StartWith(source, indexed->root, FetchPolicy{});
  lcfs::testing::Sh("ls -lR " + mnt_ + " > /dev/null && find " + mnt_ +
                    " -type f -exec cat {} + > /dev/null");
  const auto seen = source.seen();
  std::set<Hash> distinct;
  for (const auto& s : seen) distinct.insert(s.hash);
  // The root, two directories, two tree nodes and the chunks (random data
  // may repeat chunks, and a prefetch and a read may both fetch one).
  ASSERT_GE(distinct.size(), 6u);
  ASSERT_TRUE(distinct.count(indexed->root));
  for (const auto& s : seen) {
    if (s.hash == indexed->root) {
      EXPECT_EQ(s.expected, 0u);  // nothing names the root's length
    } else {
      EXPECT_EQ(s.expected, s.actual) << s.hash.ToHex();
    }
  }
  Stop();  // before `source` goes
}

// Holds objects in memory and answers whatever length was asked for, like a
// publisher whose directory entries lie about their children's lengths.
class MapSource : public ObjectSource {
 public:
  Hash Add(ObjectKind kind, std::vector<uint8_t> bytes) {
    const Hash h = ObjectHash(kind, bytes);
    objects_[h] = std::move(bytes);
    return h;
  }
  Result<std::vector<uint8_t>> Fetch(const FetchRequest& request) override {
    auto it = objects_.find(request.hash);
    if (it == objects_.end()) return Status::Error(ENOENT, "unknown");
    return it->second;  // expected_size ignored on purpose
  }

 private:
  std::map<Hash, std::vector<uint8_t>> objects_;  // filled before the mount
};

TEST_F(FsFaultsTest, ObjectsOfAnotherLengthThanTheirParentSaysAreRefused) {
  MapSource source;
  std::vector<uint8_t> data(4000);
  std::mt19937 rng(3);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  const Hash chunk = source.Add(ObjectKind::kChunk, data);
  index::Directory empty_dir;
  empty_dir.chunk_size = kChunk;
  auto empty = index::EncodeDirectory(empty_dir);
  ASSERT_TRUE(empty.ok());
  const Hash sub = source.Add(ObjectKind::kDirectory, *empty);
  auto entry = [](const std::string& name, index::EntryType type, uint64_t size, const Hash& h) {
    index::DirEntry e;
    e.name = name;
    e.type = type;
    e.mode = 0755;
    e.size = size;
    e.hash = h;
    return e;
  };
  index::Directory root_dir;
  root_dir.chunk_size = kChunk;
  root_dir.entries = {entry("honest", index::EntryType::kFile, 4000, chunk),
                      entry("liar", index::EntryType::kFile, 5000, chunk),
                      entry("subok", index::EntryType::kDirectory, empty->size(), sub),
                      entry("sublie", index::EntryType::kDirectory, empty->size() + 7, sub)};
  auto root_bytes = index::EncodeDirectory(root_dir);
  ASSERT_TRUE(root_bytes.ok()) << root_bytes.status().ToString();
  const Hash root = source.Add(ObjectKind::kDirectory, *root_bytes);
  StartWith(source, root, FetchPolicy{}, FilesystemOptions{.prefetch = PrefetchMode::kNone});

  Status st;
  EXPECT_EQ(lcfs::testing::Sh("cat " + mnt_ + "/honest | wc -c", &st), "4000\n");
  EXPECT_TRUE(st.ok()) << st.ToString();
  lcfs::testing::Sh("cat " + mnt_ + "/liar", &st);
  EXPECT_FALSE(st.ok());
  int err = 0;
  EXPECT_EQ(DirectRead(mnt_ + "/liar", 0, 8192, &err), -1);
  EXPECT_EQ(err, EIO);
  // A directory object named with another length than its own: a lookup
  // inside fails. (Before the same object is fetched under its right
  // length: decoded directories are then shared by hash.)
  EXPECT_FALSE(stdfs::exists(mnt_ + "/sublie/x", ec_));
  EXPECT_EQ(ec_.value(), EIO);
  EXPECT_EQ(lcfs::testing::Sh("ls -A " + mnt_ + "/subok", &st), "");
  EXPECT_TRUE(st.ok()) << st.ToString();
  Stop();  // before `source` goes
}

// A tree with one directory of small files (and a subdirectory) to watch
// what opening one of them fetches.
Hash MakeSmallFilesTree(const std::string& src) {
  stdfs::create_directories(src + "/a/b");
  for (int i = 0; i < 10; ++i)
    WriteRandomFile(src + "/a/f" + std::to_string(i), 5000, static_cast<uint64_t>(20 + i));
  WriteRandomFile(src + "/a/b/deep", 5000, 40);
  auto indexed = index::IndexPath(src);
  EXPECT_TRUE(indexed.ok());
  return indexed.ok() ? indexed->root : Hash();
}

size_t DistinctObjects(RecordingSource& source) {
  std::set<Hash> distinct;
  for (const auto& s : source.seen()) distinct.insert(s.hash);
  return distinct.size();
}

TEST_F(FsFaultsTest, PrefetchNoneFetchesOnlyWhatIsAsked) {
  const Hash root = MakeSmallFilesTree(src_);
  auto local = MakeLocalObjectSource(src_);
  ASSERT_TRUE(local.ok());
  RecordingSource source(**local);
  StartWith(source, root, FetchPolicy{}, FilesystemOptions{.prefetch = PrefetchMode::kNone});
  EXPECT_EQ(lcfs::testing::Sh("cat " + mnt_ + "/a/f3 | wc -c"), "5000\n");
  // The root, a/ and the one chunk of a/f3: nothing else, not even later.
  Stop();
  EXPECT_EQ(DistinctObjects(source), 3u);
  EXPECT_EQ(source.seen().size(), 3u);
}

TEST_F(FsFaultsTest, PrefetchAllFetchesTheDirectorysOtherSmallFiles) {
  const Hash root = MakeSmallFilesTree(src_);
  auto local = MakeLocalObjectSource(src_);
  ASSERT_TRUE(local.ok());
  RecordingSource source(**local);
  StartWith(source, root, FetchPolicy{});  // prefetch=all
  EXPECT_EQ(lcfs::testing::Sh("cat " + mnt_ + "/a/f3 | wc -c"), "5000\n");
  // Also (in the background) a/b (metadata, from decoding a/) and the six
  // files after f3 (f4..f9), and with big.bin's tree node: 3 + 1 + 6 + 1.
  EXPECT_TRUE(lcfs::testing::WaitUntil([&] { return DistinctObjects(source) >= 11; }, 30s))
      << DistinctObjects(source);
  Stop();
}

// Holds the requests `hold` picks until they are cancelled (a fetch that
// never comes) and answers the others at once; after StopHolding() it
// answers every new request.
class HoldingSource : public ObjectSource {
 public:
  HoldingSource(ObjectSource& inner, std::function<bool(const FetchRequest&)> hold)
      : inner_(inner), hold_(std::move(hold)) {}
  Result<std::vector<uint8_t>> Fetch(const FetchRequest& request) override {
    return inner_.Fetch(request);
  }
  FetchTicket FetchAsync(const FetchRequest& request, FetchCallback done) override {
    {
      std::lock_guard lock(mu_);
      if (holding_ && hold_(request)) {
        held_[++next_] = std::move(done);
        return next_;
      }
    }
    done(inner_.Fetch(request));
    return 0;
  }
  void Cancel(FetchTicket ticket) override {
    FetchCallback done;
    {
      std::lock_guard lock(mu_);
      auto it = held_.find(ticket);
      if (it == held_.end()) return;
      done = std::move(it->second);
      held_.erase(it);
    }
    done(Status::Error(ECANCELED, "cancelled"));
  }
  void StopHolding() {
    std::lock_guard lock(mu_);
    holding_ = false;
  }
  size_t held() {
    std::lock_guard lock(mu_);
    return held_.size();
  }

 private:
  ObjectSource& inner_;
  const std::function<bool(const FetchRequest&)> hold_;
  std::mutex mu_;
  std::map<FetchTicket, FetchCallback> held_;
  FetchTicket next_ = 0;
  bool holding_ = true;
};

TEST_F(FsFaultsTest, PrefetchNeverDelaysABlockedRead) {
  auto local = MakeLocalObjectSource(src_);
  ASSERT_TRUE(local.ok());
  // Blocking requests are answered at once, every background one is held:
  // a prefetch that never finishes.
  HoldingSource source(
      **local, [](const FetchRequest& r) { return r.priority != FetchPriority::kBlocking; });
  FetchPolicy policy;
  policy.timeout = 60s;  // a read stuck behind prefetch would take this long
  StartWith(source, root_, policy);
  // A sequential reader (O_DIRECT, one open file) grows its read-ahead
  // window over the rest of big.bin: those prefetches never finish.
  UniqueFd fd(::open((mnt_ + "/big.bin").c_str(), O_RDONLY | O_DIRECT));
  ASSERT_TRUE(fd.valid());
  void* mem = nullptr;
  ASSERT_EQ(::posix_memalign(&mem, 4096, kChunk), 0);
  std::unique_ptr<void, decltype(&std::free)> buf(mem, &std::free);
  for (int c = 0; c < 4; ++c)
    ASSERT_EQ(::pread(fd.get(), buf.get(), kChunk, static_cast<off_t>(c * kChunk)),
              static_cast<ssize_t>(kChunk));
  ASSERT_TRUE(lcfs::testing::WaitUntil([&] { return source.held() >= 4; }, 30s)) << source.held();
  // The last chunk, already being prefetched: the read takes it over.
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(::pread(fd.get(), buf.get(), kChunk, static_cast<off_t>(15 * kChunk)),
            static_cast<ssize_t>(kChunk));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_GE(fetcher_->stats().promoted, 1u);
  EXPECT_GT(source.held(), 0u);  // the prefetches were still stalled
  fd.reset();
  Stop();
}

TEST_F(FsFaultsTest, ASignalledReaderBlockedOnAFetchGoesAwayAndTheMountStaysUsable) {
  auto local = MakeLocalObjectSource(src_);
  ASSERT_TRUE(local.ok());
  // Every fetch but the root directory's never comes.
  HoldingSource source(**local, [root = root_](const FetchRequest& r) { return r.hash != root; });
  FetchPolicy policy;
  policy.timeout = 60s;  // only the signal can end the read within the bound below
  FilesystemOptions options;
  options.prefetch = PrefetchMode::kNone;  // the reader's fetch is the only one
  StartWith(source, root_, policy, options);
  const std::string file = mnt_ + "/big.bin";
  for (int sig : {SIGINT, SIGKILL}) {
    SCOPED_TRACE(strsignal(sig));
    const uint64_t cancelled = fetcher_->stats().cancelled;
    auto reader = testbed::Subprocess::Spawn(
        {"dd", "if=" + file, "of=/dev/null", "bs=1M", "skip=9", "count=1", "iflag=direct"});
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    // Blocked in the kernel on our read, which waits for a held fetch.
    ASSERT_TRUE(lcfs::testing::WaitUntil([&] { return source.held() > 0; }, 30s));
    ASSERT_FALSE(reader->Wait(200ms).has_value());
    ASSERT_TRUE(reader->Signal(sig).ok());
    // The kernel turns the signal into FUSE_INTERRUPT, the request abandons
    // its fetch (within about 50 ms) and the reader dies: long before the
    // fetch's own timeout.
    const std::optional<int> status = reader->Wait(20s);
    ASSERT_TRUE(status.has_value()) << "the reader is stuck";
    // dd catches SIGINT: it may die of it after seeing EINTR, or exit with
    // an error; SIGKILL is SIGKILL.
    if (sig == SIGKILL) {
      EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL)
          << testbed::DescribeWaitStatus(*status);
    } else {
      EXPECT_FALSE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
          << testbed::DescribeWaitStatus(*status);
    }
    EXPECT_GT(fetcher_->stats().cancelled, cancelled);
    // Nothing else waits for the object: its request left the source too.
    EXPECT_TRUE(lcfs::testing::WaitUntil([&] { return source.held() == 0; }, 10s)) << source.held();
    // The mount still answers.
    EXPECT_TRUE(stdfs::exists(file));
  }
  // Once the objects come, the same read completes.
  source.StopHolding();
  int err = 0;
  EXPECT_EQ(DirectRead(file, 9 * kChunk, kChunk, &err), static_cast<ssize_t>(kChunk))
      << strerror(err);
  Stop();
}

TEST(FsTwoHosts, TwoHostsMountAndReadAtOnceSharingTheCache) {
  LCFS_REQUIRE_TESTBED();
  auto bed = testbed::Testbed::Create({.hosts = 2});
  ASSERT_TRUE(bed.ok()) << bed.status().ToString();
  auto base = (*bed)->MakeTempDir("fs-two-hosts");
  ASSERT_TRUE(base.ok());
  const std::string src = *base + "/src", cache = *base + "/cache";
  stdfs::create_directories(src);
  WriteRandomFile(src + "/data.bin", 8 * kChunk + 123, 11);
  auto indexed = index::IndexPath(src);
  ASSERT_TRUE(indexed.ok());
  const std::string& lcfs = lcfs::testing::kLcfsProgram;
  std::vector<std::string> mnts;
  std::vector<testbed::Subprocess> daemons;
  for (int i = 0; i < 2; ++i) {
    mnts.push_back(*base + "/mnt" + std::to_string(i));
    stdfs::create_directories(mnts.back());
    (*bed)->TrackMount(mnts.back());
    // Host::Spawn enters only the host's network namespace, so the mount is
    // visible to this process too.
    auto d = (*bed)->host(i).Spawn({lcfs, "-f", indexed->root.ToHex(), mnts.back(), "-o",
                                    "local=" + src + ",cache=" + cache + ",iface=lan0"});
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    daemons.push_back(std::move(*d));
  }
  // Each host's daemon mounts; wait (bounded) for both.
  for (const auto& m : mnts) {
    ASSERT_TRUE(lcfs::testing::WaitUntil([&] { return stdfs::exists(m + "/data.bin"); }, 10s)) << m;
  }
  // Both hosts read the file at the same time.
  std::string out;
  const std::string script = "sha256sum < " + mnts[0] + "/data.bin > " + *base + "/a & " +
                             "sha256sum < " + mnts[1] + "/data.bin > " + *base + "/b & wait; cat " +
                             *base + "/a " + *base + "/b; sha256sum < " + src + "/data.bin";
  ASSERT_TRUE((*bed)->host(0).Run({"sh", "-c", script}, &out).ok());
  std::istringstream lines(out);
  std::string a, b, want;
  std::getline(lines, a);
  std::getline(lines, b);
  std::getline(lines, want);
  EXPECT_EQ(a, want);
  EXPECT_EQ(b, want);
  for (size_t i = 0; i < mnts.size(); ++i) {
    ASSERT_TRUE(testbed::RunCommand({"fusermount3", "-u", mnts[i]}).ok());
    auto status = daemons[i].Wait(10s);
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  }
}

}  // namespace
}  // namespace lcfs::fs
