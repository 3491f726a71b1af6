#include "lcfs/cache/chunk_cache.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/random_bytes.h"
#include "common/temp_dir.h"

namespace lcfs::cache {
namespace {

using lcfs::testing::RandomBytes;

class ChunkCacheTest : public ::testing::Test {
 protected:
  // Before the directory goes (tmp_'s destructor).
  void TearDown() override {
    if (tmpfs_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  // Stores `bytes` as a chunk through a cache that is closed again, as an
  // earlier process leaves it, and returns the object file's path (empty
  // on failure, which fails the test).
  std::string StoreAndClose(const std::vector<uint8_t>& bytes) {
    const Hash h = ObjectHash(ObjectKind::kChunk, bytes);
    auto cache = ChunkCache::Open(dir_, 0);
    EXPECT_TRUE(cache.ok()) << cache.status().ToString();
    if (!cache.ok() || !(*cache)->Insert(h, ObjectKind::kChunk, bytes).ok()) {
      ADD_FAILURE() << "cannot store " << h.ToHex();
      return "";
    }
    return (*cache)->ObjectPath(h, ObjectKind::kChunk);
  }
  // `cache` holds the object (h, kind), and reading it back gives `bytes`.
  static void ExpectHolds(ChunkCache& cache, const Hash& h, ObjectKind kind,
                          const std::vector<uint8_t>& bytes) {
    auto hit = cache.Lookup(h, kind);
    ASSERT_TRUE(hit.has_value());
    EXPECT_EQ(*hit->ReadAll(), bytes);
  }
  lcfs::testing::TempDir tmp_{"lcfs-cache-test"};
  std::string dir_ = tmp_.path();
  bool tmpfs_ = false;
};

TEST_F(ChunkCacheTest, InsertThenLookupReturnsSameBytes) {
  auto cache = ChunkCache::Open(dir_, 0);
  ASSERT_TRUE(cache.ok()) << cache.status().ToString();
  const auto bytes = RandomBytes(10000, 1);
  const Hash h = ObjectHash(ObjectKind::kChunk, bytes);
  EXPECT_FALSE((*cache)->Lookup(h, ObjectKind::kChunk).has_value());
  auto stored = (*cache)->Insert(h, ObjectKind::kChunk, bytes);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->size(), bytes.size());
  auto hit = (*cache)->Lookup(h, ObjectKind::kChunk);
  ASSERT_TRUE(hit.has_value());
  auto read = hit->ReadAll();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, bytes);
  std::vector<uint8_t> part(100);
  ASSERT_TRUE(hit->ReadAt(5000, part).ok());
  EXPECT_TRUE(std::equal(part.begin(), part.end(), bytes.begin() + 5000));
  EXPECT_FALSE(hit->ReadAt(9950, part).ok());  // past the end
}

TEST_F(ChunkCacheTest, RejectsBytesThatDoNotVerify) {
  auto cache = ChunkCache::Open(dir_, 0);
  ASSERT_TRUE(cache.ok());
  const auto bytes = RandomBytes(1000, 2);
  Hash h = ObjectHash(ObjectKind::kChunk, bytes);
  auto bad = bytes;
  bad[10] ^= 1;
  auto stored = (*cache)->Insert(h, ObjectKind::kChunk, bad);
  EXPECT_FALSE(stored.ok());
  EXPECT_EQ(stored.status().code(), EIO);
  // Same bytes under another kind: different name, so rejected too.
  EXPECT_FALSE((*cache)->Insert(h, ObjectKind::kTreeNode, bytes).ok());
  EXPECT_FALSE(std::filesystem::exists((*cache)->ObjectPath(h, ObjectKind::kChunk)));
  EXPECT_EQ((*cache)->stats().rejected, 2u);
}

// InsertVerified takes the caller's verification as proof: it stores what it
// is given under the hash without hashing (a caller that verified nothing
// must use Insert), and a later process finds the object as one Insert wrote.
TEST_F(ChunkCacheTest, InsertVerifiedStoresWithoutHashingAgain) {
  const auto bytes = RandomBytes(3000, 9);
  const Hash h = ObjectHash(ObjectKind::kChunk, bytes);
  auto other = bytes;
  other[0] ^= 1;
  const Hash unhashed = ObjectHash(ObjectKind::kChunk, RandomBytes(10, 10));
  {
    auto cache = ChunkCache::Open(dir_, 0);
    ASSERT_TRUE(cache.ok());
    auto stored = (*cache)->InsertVerified(h, ObjectKind::kChunk, bytes);
    ASSERT_TRUE(stored.ok()) << stored.status().ToString();
    EXPECT_EQ(*stored->ReadAll(), bytes);
    // Not hashed: bytes under a name they do not hash to are stored as given.
    ASSERT_TRUE((*cache)->InsertVerified(unhashed, ObjectKind::kChunk, other).ok());
    EXPECT_EQ((*cache)->stats().inserts, 2u);
    EXPECT_EQ((*cache)->stats().rejected, 0u);
  }
  auto cache = ChunkCache::Open(dir_, 0);
  ASSERT_TRUE(cache.ok());
  ExpectHolds(**cache, h, ObjectKind::kChunk, bytes);
}

TEST_F(ChunkCacheTest, RestartReusesObjects) {
  const auto bytes = RandomBytes(5000, 3);
  const Hash h = ObjectHash(ObjectKind::kDirectory, bytes);
  {
    auto cache = ChunkCache::Open(dir_, 0);
    ASSERT_TRUE(cache.ok());
    ASSERT_TRUE((*cache)->Insert(h, ObjectKind::kDirectory, bytes).ok());
  }
  auto cache = ChunkCache::Open(dir_, 0);
  ASSERT_TRUE(cache.ok());
  EXPECT_EQ((*cache)->stats().objects, 1u);
  EXPECT_EQ((*cache)->stats().bytes, bytes.size());
  ExpectHolds(**cache, h, ObjectKind::kDirectory, bytes);
}

TEST_F(ChunkCacheTest, CorruptFileIsDroppedOnFirstOpen) {
  const auto bytes = RandomBytes(5000, 4);
  const Hash h = ObjectHash(ObjectKind::kChunk, bytes);
  const std::string path = StoreAndClose(bytes);
  ASSERT_FALSE(path.empty());
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put(static_cast<char>(bytes[100] ^ 0xff));
  }
  auto cache = ChunkCache::Open(dir_, 0);
  ASSERT_TRUE(cache.ok());
  EXPECT_FALSE((*cache)->Lookup(h, ObjectKind::kChunk).has_value());
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ((*cache)->stats().rejected, 1u);
  EXPECT_EQ((*cache)->stats().bytes, 0u);
}

TEST_F(ChunkCacheTest, LeftoverTempFilesOfDeadWritersAreRemoved) {
  ASSERT_TRUE(ChunkCache::Open(dir_, 0).ok());
  // PID 0 / garbage names can never belong to a live writer.
  const std::string stale = dir_ + "/v1/tmp/999999999.1";
  std::ofstream(stale) << "partial";
  ASSERT_TRUE(std::filesystem::exists(stale));
  ASSERT_TRUE(ChunkCache::Open(dir_, 0).ok());
  EXPECT_FALSE(std::filesystem::exists(stale));
}

TEST_F(ChunkCacheTest, EvictsLeastRecentlyUsedButNeverPinned) {
  auto cache = ChunkCache::Open(dir_, 3000);
  ASSERT_TRUE(cache.ok());
  std::vector<Hash> hashes;
  std::vector<std::vector<uint8_t>> data;
  std::optional<CachedObject> pinned;
  for (uint32_t i = 0; i < 3; ++i) {
    data.push_back(RandomBytes(1000, 10 + i));
    hashes.push_back(ObjectHash(ObjectKind::kChunk, data.back()));
    auto stored = (*cache)->Insert(hashes[i], ObjectKind::kChunk, data[i]);
    ASSERT_TRUE(stored.ok());
    // Object 0, the least recently used, stays pinned by a "reader".
    if (i == 0) pinned = std::move(*stored);
  }
  // Use 1 after 2: the unpinned LRU order is now 2, 1.
  (void)(*cache)->Lookup(hashes[1], ObjectKind::kChunk);
  const auto extra = RandomBytes(1000, 99);
  const Hash he = ObjectHash(ObjectKind::kChunk, extra);
  ASSERT_TRUE((*cache)->Insert(he, ObjectKind::kChunk, extra).ok());
  EXPECT_TRUE((*cache)->Contains(hashes[0]));   // oldest, but pinned
  EXPECT_FALSE((*cache)->Contains(hashes[2]));  // least recently used unpinned
  EXPECT_TRUE((*cache)->Contains(hashes[1]));
  EXPECT_TRUE((*cache)->Contains(he));
  EXPECT_LE((*cache)->stats().bytes, 3000u);
  EXPECT_EQ((*cache)->stats().evictions, 1u);
  EXPECT_EQ(*pinned->ReadAll(), data[0]);
}

TEST_F(ChunkCacheTest, OverLimitWhileAllPinnedShrinksWhenUnpinned) {
  auto cache = ChunkCache::Open(dir_, 1500);
  ASSERT_TRUE(cache.ok());
  const auto a = RandomBytes(1000, 5), b = RandomBytes(1000, 6);
  const Hash ha = ObjectHash(ObjectKind::kChunk, a), hb = ObjectHash(ObjectKind::kChunk, b);
  auto pa = (*cache)->Insert(ha, ObjectKind::kChunk, a);
  ASSERT_TRUE(pa.ok());
  {
    auto pb = (*cache)->Insert(hb, ObjectKind::kChunk, b);
    ASSERT_TRUE(pb.ok());
    EXPECT_TRUE((*cache)->Contains(ha));  // pinned: kept despite the limit
    EXPECT_EQ((*cache)->stats().bytes, 2000u);
  }
  // b is now unpinned and the cache is over its limit: b goes.
  EXPECT_LE((*cache)->stats().bytes, 1500u);
  EXPECT_TRUE((*cache)->Contains(ha));
}

TEST_F(ChunkCacheTest, FullDiskEvictsThenFailsWithEioNeverCorrupt) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  ASSERT_EQ(::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=256k"), 0);
  tmpfs_ = true;
  auto cache = ChunkCache::Open(dir_, 0);  // no limit: only the disk stops it
  ASSERT_TRUE(cache.ok());
  std::vector<Hash> stored;
  // Fill the disk with unpinned objects.
  for (uint32_t i = 0; i < 12; ++i) {
    auto bytes = RandomBytes(32 * 1024, 100 + i);
    Hash h = ObjectHash(ObjectKind::kChunk, bytes);
    auto r = (*cache)->Insert(h, ObjectKind::kChunk, bytes);
    if (r.ok()) stored.push_back(h);
  }
  // The disk filled up at some point; the inserts that hit it evicted older
  // objects and succeeded.
  EXPECT_EQ(stored.size(), 12u);
  EXPECT_GT((*cache)->stats().evictions, 0u);
  // An object larger than the whole disk cannot fit even after eviction.
  auto huge = RandomBytes(512 * 1024, 7);
  auto r = (*cache)->Insert(ObjectHash(ObjectKind::kChunk, huge), ObjectKind::kChunk, huge);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), EIO);
  // Nothing partial was left behind, and what is cached still verifies.
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/v1/tmp"));
  auto reopened = ChunkCache::Open(dir_, 0);
  ASSERT_TRUE(reopened.ok());
  for (const Hash& h : stored) {
    if (!(*reopened)->Contains(h)) continue;
    EXPECT_TRUE((*reopened)->Lookup(h, ObjectKind::kChunk).has_value());
  }
  EXPECT_EQ((*reopened)->stats().rejected, 0u);
}

// Two ChunkCache instances on one directory hold separate open files, as two
// processes would: flock(2) pins conflict between them just the same.
TEST_F(ChunkCacheTest, PinsAreVisibleToOtherOpenersOfTheDirectory) {
  auto a = ChunkCache::Open(dir_, 0);
  ASSERT_TRUE(a.ok());
  const auto x = RandomBytes(2000, 30);
  const Hash hx = ObjectHash(ObjectKind::kChunk, x);
  const std::string path = (*a)->ObjectPath(hx, ObjectKind::kChunk);
  {
    auto pinned = (*a)->Insert(hx, ObjectKind::kChunk, x);
    ASSERT_TRUE(pinned.ok());
    auto removed = RemoveUnlessPinned(path);
    ASSERT_TRUE(removed.ok());
    EXPECT_FALSE(*removed);
    EXPECT_TRUE(std::filesystem::exists(path));

    // Another mount over its limit evicts what it can, never x.
    auto b = ChunkCache::Open(dir_, 2500);
    ASSERT_TRUE(b.ok());
    EXPECT_TRUE((*b)->Contains(hx));
    const auto y = RandomBytes(2000, 31);
    ASSERT_TRUE((*b)->Insert(ObjectHash(ObjectKind::kChunk, y), ObjectKind::kChunk, y).ok());
    EXPECT_TRUE(std::filesystem::exists(path));
    EXPECT_EQ(*pinned->ReadAll(), x);
  }
  auto removed = RemoveUnlessPinned(path);
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(*removed);
  EXPECT_FALSE(std::filesystem::exists(path));
  // The first cache still lists it: a miss now, and it can be stored again.
  EXPECT_FALSE((*a)->Lookup(hx, ObjectKind::kChunk).has_value());
  EXPECT_EQ((*a)->stats().rejected, 0u);  // gone is not corrupt
  ASSERT_TRUE((*a)->Insert(hx, ObjectKind::kChunk, x).ok());
  EXPECT_TRUE(std::filesystem::exists(path));
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST_F(ChunkCacheTest, NewCacheIsPrivateWhateverTheUmask) {
  const mode_t old_umask = ::umask(0);
  const std::string dir = dir_ + "/fresh/cache";
  auto cache = ChunkCache::Open(dir, 0);
  ::umask(old_umask);
  ASSERT_TRUE(cache.ok()) << cache.status().ToString();
  const auto bytes = RandomBytes(3000, 20);
  const Hash h = ObjectHash(ObjectKind::kChunk, bytes);
  ASSERT_TRUE((*cache)->Insert(h, ObjectKind::kChunk, bytes).ok());
  const std::string object = (*cache)->ObjectPath(h, ObjectKind::kChunk);
  for (const std::string& d : {dir_ + "/fresh", dir, dir + "/v1", dir + "/v1/objects",
                               dir + "/v1/tmp", object.substr(0, object.rfind('/'))})
    EXPECT_EQ(ModeOf(d), 0700u) << d;
  EXPECT_EQ(ModeOf(object), 0600u);
  EXPECT_EQ((*cache)->stats().tightened, 0u);
}

TEST_F(ChunkCacheTest, LooserExistingCacheIsTightenedAndKept) {
  const auto bytes = RandomBytes(3000, 21);
  const Hash h = ObjectHash(ObjectKind::kChunk, bytes);
  const std::string object = StoreAndClose(bytes);
  ASSERT_FALSE(object.empty());
  // What caches made before this change look like.
  const std::string fanout = object.substr(0, object.rfind('/'));
  for (const std::string& d : {dir_, dir_ + "/v1", dir_ + "/v1/objects", fanout})
    ASSERT_EQ(::chmod(d.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(object.c_str(), 0644), 0);
  auto cache = ChunkCache::Open(dir_, 0);
  ASSERT_TRUE(cache.ok()) << cache.status().ToString();
  EXPECT_EQ((*cache)->stats().tightened, 5u);
  for (const std::string& d : {dir_, dir_ + "/v1", dir_ + "/v1/objects", fanout})
    EXPECT_EQ(ModeOf(d), 0700u) << d;
  EXPECT_EQ(ModeOf(object), 0600u);
  ExpectHolds(**cache, h, ObjectKind::kChunk, bytes);
}

TEST_F(ChunkCacheTest, CacheOwnedByAnotherUserIsRefusedWithAMessage) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the directory away";
  ASSERT_EQ(::chown(dir_.c_str(), 65534, 65534), 0);
  auto cache = ChunkCache::Open(dir_, 0);
  ASSERT_FALSE(cache.ok());
  EXPECT_EQ(cache.status().code(), EPERM);
  EXPECT_NE(cache.status().message().find("belongs to uid 65534"), std::string::npos)
      << cache.status().message();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/v1"));  // nothing written into it
}

// Directory objects written by a cold listing, as a later mount over the
// same cache finds them. `skew_` moves the stamps' clock forward, as the
// time that passes between the listing and the next mount.
class ChunkCacheStampsTest : public ChunkCacheTest {
 protected:
  Result<std::unique_ptr<ChunkCache>> OpenWithClock() {
    StampOptions options;  // the window: 1 s
    options.now = [this] {
      timespec t;
      ::clock_gettime(CLOCK_REALTIME, &t);
      t.tv_sec += skew_.load();
      return t;
    };
    return ChunkCache::Open(dir_, 0, options);
  }
  // Overwrites the object file in place with other bytes of the same size.
  static void Tamper(const std::string& path) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.put('X');
  }
  const std::vector<uint8_t> bytes_ = RandomBytes(3000, 7);
  const Hash hash_ = ObjectHash(ObjectKind::kDirectory, bytes_);
  std::atomic<int> skew_{0};
};

TEST_F(ChunkCacheStampsTest, ADirectoryWrittenInsideTheRacyWindowIsStampedOnceItPassed) {
  {
    auto cache = OpenWithClock();
    ASSERT_TRUE(cache.ok()) << cache.status().ToString();
    ASSERT_TRUE((*cache)->Insert(hash_, ObjectKind::kDirectory, bytes_).ok());
    EXPECT_EQ((*cache)->stats().settled, 0u);  // just written: not yet
    skew_ = 2;
    ExpectHolds(**cache, hash_, ObjectKind::kDirectory, bytes_);
    EXPECT_EQ((*cache)->stats().settled, 1u);  // hashed again, stamped
  }
  // A new mount: not hashed again.
  auto later = ChunkCache::Open(dir_, 0);
  ASSERT_TRUE(later.ok());
  ExpectHolds(**later, hash_, ObjectKind::kDirectory, bytes_);
  EXPECT_EQ((*later)->stats().unchanged, 1u);
  EXPECT_EQ((*later)->stats().rejected, 0u);
}

TEST_F(ChunkCacheStampsTest, ClosingTheCacheStampsWhatHasSettled) {
  {
    auto cache = OpenWithClock();
    ASSERT_TRUE(cache.ok());
    ASSERT_TRUE((*cache)->Insert(hash_, ObjectKind::kDirectory, bytes_).ok());
    skew_ = 2;
  }
  auto later = ChunkCache::Open(dir_, 0);
  ASSERT_TRUE(later.ok());
  ExpectHolds(**later, hash_, ObjectKind::kDirectory, bytes_);
  EXPECT_EQ((*later)->stats().unchanged, 1u);
}

TEST_F(ChunkCacheStampsTest, AnObjectChangedInsideTheWindowIsNeitherStampedNorServed) {
  auto cache = OpenWithClock();
  ASSERT_TRUE(cache.ok());
  ASSERT_TRUE((*cache)->Insert(hash_, ObjectKind::kDirectory, bytes_).ok());
  // Changed at once: its stamp may well be the one taken when it was written.
  Tamper((*cache)->ObjectPath(hash_, ObjectKind::kDirectory));
  skew_ = 2;
  // The lookup settles it first: hashed again, found changed, not served.
  EXPECT_FALSE((*cache)->Lookup(hash_, ObjectKind::kDirectory).has_value());
  EXPECT_EQ((*cache)->stats().settled, 0u);
  EXPECT_EQ((*cache)->stats().rejected, 1u);
}

TEST_F(ChunkCacheStampsTest, ATamperedObjectOfTheSameSizeIsHashedAgainByANewMount) {
  {
    auto cache = ChunkCache::Open(dir_, 0);  // the real clock and window
    ASSERT_TRUE(cache.ok());
    ASSERT_TRUE((*cache)->Insert(hash_, ObjectKind::kDirectory, bytes_).ok());
    Tamper((*cache)->ObjectPath(hash_, ObjectKind::kDirectory));
  }
  auto later = ChunkCache::Open(dir_, 0);
  ASSERT_TRUE(later.ok());
  EXPECT_FALSE((*later)->Lookup(hash_, ObjectKind::kDirectory).has_value());
  EXPECT_EQ((*later)->stats().unchanged, 0u);
  EXPECT_EQ((*later)->stats().rejected, 1u);
}

}  // namespace
}  // namespace lcfs::cache
