#include "chunk_locator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "lcfs/cache/chunk_cache.h"
#include "lcfs/index/chunking.h"
#include "object_fetcher.h"

namespace lcfs::fs {
namespace {

// The locator's introspection never fetches: a source that fails the test
// if it is asked anything.
class NoSource : public ObjectSource {
 public:
  Result<std::vector<uint8_t>> Fetch(const FetchRequest&) override {
    ADD_FAILURE() << "CachedBytes fetched an object";
    return Status::Error(ENOENT, "no source");
  }
};

class ChunkLocatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("lcfs-locator-test-" + std::to_string(::getpid()));
    auto cache = lcfs::cache::ChunkCache::Open(dir_.string(), 0);
    ASSERT_TRUE(cache.ok()) << cache.status().ToString();
    cache_ = std::move(*cache);
    fetcher_ = std::make_unique<ObjectFetcher>(source_, *cache_, FetchPolicy{});
  }
  void TearDown() override {
    fetcher_.reset();
    cache_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  NoSource source_;
  std::unique_ptr<cache::ChunkCache> cache_;
  std::unique_ptr<ObjectFetcher> fetcher_;
};

TEST_F(ChunkLocatorTest, CachedBytesCountsExactlyTheCachedChunksOfADeepTree) {
  // 4 KiB chunks have a fanout of 128: 300 chunks make a tree of depth 2.
  constexpr uint32_t kChunk = 4096;
  std::vector<uint8_t> data(300 * kChunk - 100);
  std::mt19937 rng(7);  // distinct chunks: a repeated one would count twice
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  auto tree = index::FileTree::FromData(data, kChunk);
  ASSERT_TRUE(tree.ok()) << tree.status().ToString();
  ASSERT_EQ(tree->shape().depth(), 2);
  ChunkLocator locator(*fetcher_);
  // Nothing cached: nothing counted.
  EXPECT_EQ(locator.CachedBytes(tree->root(), tree->shape()), 0u);

  tree->ForEachNode([&](const Hash& h, std::vector<uint8_t> bytes) {
    ASSERT_TRUE(cache_->Insert(h, ObjectKind::kTreeNode, bytes).ok());
  });
  // Chunks 0..9, 200 and the short last one.
  uint64_t expected = 0;
  for (uint64_t c : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 200, 299}) {
    const uint32_t len = index::ChunkLength(data.size(), kChunk, c);
    std::span<const uint8_t> bytes(data.data() + c * kChunk, len);
    ASSERT_TRUE(cache_->Insert(tree->leaves()[c], ObjectKind::kChunk, bytes).ok());
    expected += len;
  }
  EXPECT_EQ(locator.CachedBytes(tree->root(), tree->shape()), expected);
}

TEST_F(ChunkLocatorTest, CachedBytesOfAFileClaimingTheLargestSizeAnswersWithoutWalkingIt) {
  // 2^43 chunks: walking them one by one would never end.
  auto shape = index::FileShape::Make(index::kMaxFileSize, index::kDefaultChunkSize);
  ASSERT_TRUE(shape.ok());
  ChunkLocator locator(*fetcher_);
  EXPECT_EQ(locator.CachedBytes(Sha256Of(std::string_view("claimed root")), *shape), 0u);
}

}  // namespace
}  // namespace lcfs::fs
