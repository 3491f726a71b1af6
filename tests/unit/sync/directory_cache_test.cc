#include "lcfs/sync/directory_cache.h"

#include <gtest/gtest.h>

namespace lcfs::sync {
namespace {

index::Directory MakeDirectory(int entries, const std::string& prefix) {
  index::Directory dir;
  dir.chunk_size = 1 << 20;
  for (int i = 0; i < entries; ++i) {
    index::DirEntry e;
    e.name = prefix + std::to_string(i);
    e.mode = 0644;
    dir.entries.push_back(e);
  }
  return dir;
}

Hash H(const std::string& s) { return Sha256Of(std::string_view(s)); }

TEST(DirectoryCacheTest, OneDecodedCopyPerHashWhoeverInsertsIt) {
  DirectoryCache cache(1 << 20);
  EXPECT_EQ(cache.Get(H("a")), nullptr);
  auto first = cache.Insert(H("a"), MakeDirectory(10, "x"));
  // A second decode of the same object (another path naming it) is dropped
  // in favour of the kept one.
  auto second = cache.Insert(H("a"), MakeDirectory(10, "x"));
  EXPECT_EQ(first.get(), second.get());
  EXPECT_EQ(cache.Get(H("a")).get(), first.get());
  EXPECT_EQ(cache.stats().directories, 1u);
}

TEST(DirectoryCacheTest, StaysWithinItsByteLimitEvictingTheLeastRecentlyUsed) {
  const size_t one = DirectoryCache::ApproximateBytes(MakeDirectory(100, "name-"));
  DirectoryCache cache(3 * one + one / 2);
  cache.Insert(H("a"), MakeDirectory(100, "name-"));
  cache.Insert(H("b"), MakeDirectory(100, "name-"));
  cache.Insert(H("c"), MakeDirectory(100, "name-"));
  ASSERT_NE(cache.Get(H("a")), nullptr);  // a is now more recent than b
  cache.Insert(H("d"), MakeDirectory(100, "name-"));
  EXPECT_EQ(cache.Get(H("b")), nullptr);
  EXPECT_NE(cache.Get(H("a")), nullptr);
  EXPECT_NE(cache.Get(H("d")), nullptr);
  EXPECT_LE(cache.stats().bytes, 3 * one + one / 2);
  EXPECT_EQ(cache.stats().evictions, 1u);
}

TEST(DirectoryCacheTest, ADirectoryLargerThanTheLimitIsUsedButNotKept) {
  DirectoryCache cache(1024);
  auto big = cache.Insert(H("big"), MakeDirectory(1000, "long-entry-name-"));
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->entries.size(), 1000u);
  EXPECT_EQ(cache.Get(H("big")), nullptr);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

}  // namespace
}  // namespace lcfs::sync
