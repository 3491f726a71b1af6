// The index cache: its bytes (docs/protocol.md section 13), its strict
// parser, and what the indexer does with it: reuse what is unchanged, read
// again what changed, even behind the cache's back.
#include "index/index_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <time.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/wait.h"
#include "lcfs/index/indexer.h"
#include "temp_tree.h"

namespace lcfs::index {
namespace {

using namespace std::chrono_literals;

// docs/protocol.md section 13, computed with Python's struct and hashlib.
constexpr char kVector[] =
    "4c434943010c040000000000000000020000000000000801000000000000000c000000000000000300000000"
    "6553f10000000000000000006553f1011dcd650068690a0000000000000801000000000000000d0000000000"
    "001001000000006553f1001dcd6500000000006553f102000000008d0d7e85fe8e1cbd02f3f050bcfbb14e2e"
    "159d381bf0cd66eab71d1262d152b357eb35615d47f34ec714cacdf5fd74608a5e8e102724e80b24b287c0c2"
    "7b6a31044bcb78a0bf89b1177f6d6c9fc42ca6d221cf9630d9d0fae5527111f3c3b75a";

std::vector<uint8_t> FromHex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

std::string ToHex(const std::vector<uint8_t>& b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t c : b) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

IndexCache VectorCache() {
  IndexCache c;
  c.chunk_size = 4096;
  c.inline_max = 1024;
  CachedFile small;
  small.stamp = {0x801, 12, 3, 1700000000, 0, 1700000001, 500000000};
  small.data = {'h', 'i', '\n'};
  CachedFile big;
  big.stamp = {0x801, 13, 4097, 1700000000, 500000000, 1700000002, 0};
  big.leaves = {*Hash::FromHex("8d0d7e85fe8e1cbd02f3f050bcfbb14e2e159d381bf0cd66eab71d1262d152b3"),
                *Hash::FromHex("57eb35615d47f34ec714cacdf5fd74608a5e8e102724e80b24b287c0c27b6a31")};
  c.files = {small, big};
  return c;
}

// Recomputes the trailer so that a test reaches the check after the checksum.
std::vector<uint8_t> Resealed(std::vector<uint8_t> b) {
  b.resize(b.size() - Hash::kSize);
  const Hash sum = Sha256Of(b);
  b.insert(b.end(), sum.bytes.begin(), sum.bytes.end());
  return b;
}

TEST(IndexCacheFormat, EncodesTheDocumentedVector) {
  auto bytes = EncodeIndexCache(VectorCache());
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(ToHex(*bytes), kVector);
  auto back = DecodeIndexCache(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->files.size(), 2u);
  EXPECT_EQ(back->files[0].stamp, VectorCache().files[0].stamp);
  EXPECT_EQ(back->files[0].data, VectorCache().files[0].data);
  EXPECT_EQ(back->files[1].leaves, VectorCache().files[1].leaves);
  EXPECT_EQ(back->Find(VectorCache().files[1].stamp), &back->files[1]);

  std::ifstream in(std::string(LCFS_SOURCE_DIR) + "/docs/protocol.md");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc;
  for (char ch : ss.str())
    if (!std::isspace(static_cast<unsigned char>(ch))) doc += ch;
  EXPECT_NE(doc.find(kVector), std::string::npos) << "protocol.md lacks the index cache vector";
}

TEST(IndexCacheFormat, FindWantsTheWholeStamp) {
  const IndexCache c = VectorCache();
  FileStamp s = c.files[0].stamp;
  EXPECT_NE(c.Find(s), nullptr);
  s.ctime_nsec += 1;
  EXPECT_EQ(c.Find(s), nullptr);
  s = c.files[0].stamp;
  s.mtime_sec -= 1;
  EXPECT_EQ(c.Find(s), nullptr);
  s = c.files[0].stamp;
  s.ino = 14;
  EXPECT_EQ(c.Find(s), nullptr);
}

TEST(IndexCacheFormat, RefusesAnyDamage) {
  const std::vector<uint8_t> good = FromHex(kVector);
  ASSERT_TRUE(DecodeIndexCache(good).ok());
  for (size_t i = 0; i < good.size(); ++i) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x01;
    EXPECT_FALSE(DecodeIndexCache(bad).ok()) << "byte " << i;
  }
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(DecodeIndexCache(std::span(good).first(n)).ok()) << n << " bytes";
  }
}

TEST(IndexCacheFormat, RefusesBadStructureUnderAGoodChecksum) {
  const std::vector<uint8_t> good = FromHex(kVector);
  auto with = [&](size_t offset, uint8_t value) {
    std::vector<uint8_t> b = good;
    b[offset] = value;
    return DecodeIndexCache(Resealed(b));
  };
  EXPECT_FALSE(with(4, 2).ok());         // version
  EXPECT_FALSE(with(5, 11).ok());        // chunk size 2^11
  EXPECT_FALSE(with(6, 0x11).ok());      // inline maximum 4352
  EXPECT_FALSE(with(15, 3).ok());        // three files
  EXPECT_FALSE(with(15, 1).ok());        // one file, then trailing bytes
  EXPECT_FALSE(with(16 + 15, 13).ok());  // inodes 13, 13: not increasing
  auto status = with(16 + 32, 0x3c);     // mtime nanoseconds 0x3c000000 > 10^9
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.status().message().find("nanoseconds"), std::string::npos)
      << status.status().ToString();
  std::vector<uint8_t> huge = good;  // 2^56 files cannot fit: refused before allocating
  huge[8] = 1;
  EXPECT_FALSE(DecodeIndexCache(Resealed(huge)).ok());
}

// Indexing with a cache.
class IndexCacheRun : public ::testing::Test {
 protected:
  void SetUp() override {
    tree_.Write("small", "hello");
    tree_.Write("d/big", testing::RandomString(3 * 4096 + 17, 3));
    tree_.Write("d/other", testing::RandomString(9000, 4));
  }

  Result<IndexResult> Index(uint32_t chunk_size = 4096) {
    IndexOptions o;
    o.chunk_size = chunk_size;
    o.cache_path = cache_.Path("index");
    o.cache_min_age = 0s;  // the files were just written
    o.note = [this](const std::string& n) { notes_.push_back(n); };
    return IndexPath(tree_.root(), o);
  }
  Hash NoCacheRoot() {
    IndexOptions o;
    o.chunk_size = 4096;
    return IndexPath(tree_.root(), o)->root;
  }

  testing::TempTree tree_;
  testing::TempDir cache_{"lcfs-index-cache"};
  std::vector<std::string> notes_;
};

TEST_F(IndexCacheRun, SecondRunReadsNoUnchangedFile) {
  auto first = Index();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->stats.reused, 0u);
  auto second = Index();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->stats.files, 3u);
  EXPECT_EQ(second->stats.reused, 3u);
  EXPECT_EQ(second->root, first->root);
  EXPECT_EQ(second->root, NoCacheRoot());
  // The chunks are still served from the files: the mdex knows them all.
  EXPECT_EQ(second->mdex->size(), first->mdex->size());
}

TEST_F(IndexCacheRun, AFileChangedBehindItsBackIsReadAgain) {
  ASSERT_TRUE(Index().ok());
  // Same size, same mtime: only the ctime tells. Let the clock that stamps
  // ctimes move past the one recorded first.
  struct stat before;
  ASSERT_EQ(::stat(tree_.Path("d/other").c_str(), &before), 0);
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        struct timespec now;
        ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
        return std::pair(now.tv_sec, now.tv_nsec) >
               std::pair(before.st_ctim.tv_sec, before.st_ctim.tv_nsec);
      },
      10s));
  tree_.Write("d/other", testing::RandomString(9000, 5));  // restores mtime 1700000000
  struct stat after;
  ASSERT_EQ(::stat(tree_.Path("d/other").c_str(), &after), 0);
  ASSERT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  ASSERT_EQ(after.st_size, before.st_size);

  auto again = Index();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->stats.reused, 2u);
  EXPECT_EQ(again->root, NoCacheRoot());
}

TEST_F(IndexCacheRun, ACorruptCacheIsIgnoredWithAReason) {
  auto first = Index();
  ASSERT_TRUE(first.ok());
  {
    std::fstream f(cache_.Path("index"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x5a');
  }
  notes_.clear();
  auto second = Index();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->stats.reused, 0u);
  EXPECT_EQ(second->root, first->root);
  ASSERT_FALSE(notes_.empty());
  EXPECT_NE(notes_[0].find("checksum"), std::string::npos) << notes_[0];
  // ... and replaced by a good one.
  EXPECT_EQ(Index()->stats.reused, 3u);
}

TEST_F(IndexCacheRun, ACacheForOtherParametersIsIgnored) {
  ASSERT_TRUE(Index(4096).ok());
  notes_.clear();
  auto other = Index(8192);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->stats.reused, 0u);
  ASSERT_FALSE(notes_.empty());
  EXPECT_NE(notes_[0].find("chunk size 4096"), std::string::npos) << notes_[0];
}

TEST_F(IndexCacheRun, FreshFilesAreNotCachedUnderTheDefaultMargin) {
  IndexOptions o;
  o.chunk_size = 4096;
  o.cache_path = cache_.Path("index");
  o.note = [](const std::string&) {};
  ASSERT_TRUE(IndexPath(tree_.root(), o).ok());
  auto again = IndexPath(tree_.root(), o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->stats.reused, 0u);  // written less than 2 s ago: racy
}

}  // namespace
}  // namespace lcfs::index
