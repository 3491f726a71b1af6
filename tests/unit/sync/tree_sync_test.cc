// SyncTree, SyncFile and SyncMemory against a local export (IndexPath +
// MdexObjectSource): no network, so every detail of what is fetched, reused
// and written can be asserted.
#include "lcfs/sync/tree_sync.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <mutex>

#include "lcfs/index/file_tree.h"
#include "lcfs/index/indexer.h"
#include "lcfs/index/mdex.h"
#include "lcfs/sync/file_sync.h"
#include "tree_listing.h"

namespace lcfs::sync {
namespace {

using lcfs::testing::RandomString;
using testing::ReadAll;
using testing::ScratchDir;
using testing::TreeListing;
using testing::WriteAll;

constexpr uint32_t kChunk = 4096;  // small chunks: deep trees from small files

// Counts what is fetched and how it was asked for; can be told to fail after
// some fetches, or to play a source that ignores the expected length and
// returns chunks one byte too long.
class CountingSource : public ObjectSource {
 public:
  explicit CountingSource(std::shared_ptr<const index::Mdex> mdex) : inner_(std::move(mdex)) {}
  Result<std::vector<uint8_t>> Fetch(const FetchRequest& request) override {
    const ObjectKind kind = request.kind;
    if (fail_after_ >= 0 && count_.load() >= fail_after_)
      return Status::Error(ETIMEDOUT, "test source: exporter gone");
    if (request.expected_size == 0) ++unsized_;
    FetchRequest inner = request;
    if (pad_chunks_ && kind == ObjectKind::kChunk) inner.expected_size = 0;
    auto r = inner_.Fetch(inner);
    if (r.ok() && pad_chunks_ && kind == ObjectKind::kChunk) r->push_back(0);
    if (r.ok()) {
      ++count_;
      std::lock_guard lock(mu_);
      by_kind_[static_cast<int>(kind)] += 1;
      bytes_[static_cast<int>(kind)] += r->size();
    }
    return r;
  }
  uint64_t fetched(ObjectKind k) {
    std::lock_guard lock(mu_);
    return by_kind_[static_cast<int>(k)];
  }
  uint64_t bytes(ObjectKind k) {
    std::lock_guard lock(mu_);
    return bytes_[static_cast<int>(k)];
  }
  void FailAfter(int n) { fail_after_ = n; }
  void PadChunks() { pad_chunks_ = true; }
  // Requests that did not say how long the object is.
  int unsized() const { return unsized_.load(); }

 private:
  index::MdexObjectSource inner_;
  std::atomic<int> count_{0};
  int fail_after_ = -1;
  bool pad_chunks_ = false;
  std::atomic<int> unsized_{0};
  std::mutex mu_;
  uint64_t by_kind_[3] = {}, bytes_[3] = {};
};

index::IndexResult Index(const std::string& dir) {
  index::IndexOptions o;
  o.chunk_size = kChunk;
  o.warn = [](const std::string&) {};
  auto r = index::IndexPath(dir, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

void MakeSampleTree(const ScratchDir& src) {
  for (int i = 0; i < 40; ++i)
    WriteAll(src / ("small/f" + std::to_string(i)), RandomString(100 + 97 * i, i), 0640);
  WriteAll(src / "empty", "", 0600);
  WriteAll(src / "big", RandomString(130 * kChunk + 123, 7), 0755);  // depth-2 tree
  WriteAll(src / "one_chunk", RandomString(kChunk, 8));
  WriteAll(src / "deep/a/b/c/leaf", RandomString(5000, 9));
  symlink("../big", (src / "deep/link").c_str());
  symlink("no/such/target", (src / "dangling").c_str());
  chmod((src / "deep/a").c_str(), 0750);
  for (const char* d : {"small", "deep/a/b/c", "deep/a/b", "deep/a", "deep"}) {
    timespec t[2] = {{1600000000, 5}, {1600000000, 5}};
    utimensat(AT_FDCWD, (src / d).c_str(), t, AT_SYMLINK_NOFOLLOW);
  }
}

// MakeSampleTree, indexed.
index::IndexResult IndexSample(const ScratchDir& src) {
  MakeSampleTree(src);
  return Index(src.path());
}

// Puts a "big" of other bytes (from `seed`) than the sample's into `dst`, as
// an earlier version would have left; returns them, for the tests that a
// failed sync leaves it untouched.
std::string WriteOldBig(const ScratchDir& dst, uint64_t seed) {
  std::string old_big = RandomString(50 * kChunk, seed);
  WriteAll(dst / "big", old_big);
  return old_big;
}

TEST(TreeSync, ColdSyncReproducesTheTree) {
  ScratchDir src, dst;
  index::IndexResult index = IndexSample(src);
  CountingSource source(index.mdex);
  SyncStats stats;
  auto got = SyncTree(source, index.root, dst / "out", {}, &stats);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(TreeListing(src.path()), TreeListing(dst / "out"));
  EXPECT_EQ(*got, stats.bytes_received);
  EXPECT_GE(*got, 130 * kChunk + 123 + kChunk);  // at least the big files' content
  EXPECT_EQ(stats.symlinks, 2u);
  EXPECT_GT(source.fetched(ObjectKind::kTreeNode), 1u);
}

TEST(TreeSync, EveryRequestButTheRootsCarriesTheObjectsLength) {
  ScratchDir src, dst;
  index::IndexResult index = IndexSample(src);
  CountingSource source(index.mdex);
  ASSERT_TRUE(SyncTree(source, index.root, dst / "out").ok());
  EXPECT_GT(source.fetched(ObjectKind::kChunk), 10u);
  EXPECT_EQ(source.unsized(), 1);  // the root directory: nothing names its length
}

TEST(TreeSync, AnObjectOfAnotherLengthIsRefusedAndNotWritten) {
  ScratchDir src, dst;
  index::IndexResult index = IndexSample(src);
  const std::string old_big = WriteOldBig(dst, 98);
  CountingSource source(index.mdex);
  source.PadChunks();
  auto got = SyncTree(source, index.root, dst.path());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), EIO);
  EXPECT_NE(got.status().message().find("bytes, its parent says"), std::string::npos)
      << got.status().ToString();
  EXPECT_EQ(ReadAll(dst / "big"), old_big);
  EXPECT_FALSE(std::filesystem::exists(dst / "one_chunk"));
}

TEST(TreeSync, ResyncAfterOneChunkChangedFetchesOneChunk) {
  ScratchDir src, dst;
  MakeSampleTree(src);
  CountingSource first(Index(src.path()).mdex);
  index::IndexResult before = Index(src.path());
  ASSERT_TRUE(SyncTree(first, before.root, dst.path()).ok());

  std::string big = ReadAll(src / "big");
  big[70 * kChunk + 5] ^= 0x5a;
  WriteAll(src / "big", big, 0755);
  index::IndexResult after = Index(src.path());
  CountingSource second(after.mdex);
  SyncStats stats;
  auto got = SyncTree(second, after.root, dst.path(), {}, &stats);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(TreeListing(src.path()), TreeListing(dst.path()));
  EXPECT_EQ(second.fetched(ObjectKind::kChunk), 1u);
  EXPECT_EQ(second.bytes(ObjectKind::kChunk), kChunk);
  // Only the root and the one level-1 node over the changed chunk.
  EXPECT_EQ(second.fetched(ObjectKind::kTreeNode), 2u);
  EXPECT_EQ(stats.files_written, 1u);
  EXPECT_GE(stats.bytes_reused, 129u * kChunk);
  EXPECT_LT(*got, 2 * kChunk + second.bytes(ObjectKind::kTreeNode) +
                      second.bytes(ObjectKind::kDirectory));
}

TEST(TreeSync, ExtraLocalFilesStayUnlessDeleteIsAsked) {
  ScratchDir src, dst;
  index::IndexResult index = IndexSample(src);
  CountingSource source(index.mdex);
  WriteAll(dst / "extra", "mine");
  WriteAll(dst / "deep/a/extra_dir/x", "mine too");
  ASSERT_TRUE(SyncTree(source, index.root, dst.path()).ok());
  EXPECT_TRUE(std::filesystem::exists(dst / "extra"));
  EXPECT_TRUE(std::filesystem::exists(dst / "deep/a/extra_dir/x"));

  SyncOptions o;
  o.delete_extra = true;
  SyncStats stats;
  ASSERT_TRUE(SyncTree(source, index.root, dst.path(), o, &stats).ok());
  EXPECT_FALSE(std::filesystem::exists(dst / "extra"));
  EXPECT_FALSE(std::filesystem::exists(dst / "deep/a/extra_dir"));
  EXPECT_EQ(stats.deleted, 2u);
  EXPECT_EQ(TreeListing(src.path()), TreeListing(dst.path()));
}

TEST(TreeSync, LocalEntriesOfTheWrongTypeAreReplaced) {
  ScratchDir src, dst;
  index::IndexResult index = IndexSample(src);
  CountingSource source(index.mdex);
  std::filesystem::create_directories(dst / "big/inside");  // a dir where a file goes
  WriteAll(dst / "deep", "a file where a directory goes");
  symlink("elsewhere", (dst / "one_chunk").c_str());
  WriteAll(dst / "dangling", "a file where a symlink goes");
  ASSERT_TRUE(SyncTree(source, index.root, dst.path()).ok());
  EXPECT_EQ(TreeListing(src.path()), TreeListing(dst.path()));
}

TEST(TreeSync, FailureLeavesNoTemporaryOrHalfWrittenFiles) {
  ScratchDir src, dst;
  index::IndexResult index = IndexSample(src);
  const std::string old_big = WriteOldBig(dst, 99);
  CountingSource source(index.mdex);
  source.FailAfter(30);  // past the directories, within the chunks
  SyncOptions o;
  o.window = 4;
  auto got = SyncTree(source, index.root, dst.path(), o);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ETIMEDOUT);
  EXPECT_EQ(ReadAll(dst / "big"), old_big);  // untouched, not half-new
  for (auto& e : std::filesystem::recursive_directory_iterator(dst.path())) {
    EXPECT_EQ(e.path().filename().string().rfind(".lcfs-sync.", 0), std::string::npos)
        << "left behind: " << e.path();
    if (e.is_regular_file() && !e.is_symlink() && e.path() != dst / "big") {
      // Every file present is complete: equal to its source.
      const std::string rel = e.path().string().substr(dst.path().size());
      EXPECT_EQ(ReadAll(e.path()), ReadAll(src.path() + rel)) << rel;
    }
  }
}

TEST(TreeSync, NoRootLeavesDestUntouched) {
  ScratchDir src, dst;
  WriteAll(src / "f", "x");
  CountingSource source(Index(src.path()).mdex);
  source.FailAfter(0);
  auto got = SyncTree(source, Sha256Of("nothing"), dst / "never");
  ASSERT_FALSE(got.ok());
  EXPECT_FALSE(std::filesystem::exists(dst / "never"));
}

TEST(FileSync, CreatesGrowsAndShrinksFiles) {
  ScratchDir dir;
  const std::string want = RandomString(20 * kChunk + 1, 3);
  auto tree = index::FileTree::FromData(
      std::span(reinterpret_cast<const uint8_t*>(want.data()), want.size()), kChunk);
  ASSERT_TRUE(tree.ok());
  WriteAll(dir / "src", want);
  index::IndexResult index = Index(dir / "src");
  ASSERT_EQ(index.root, tree->root());
  RemoteFile remote{index.root, want.size(), kChunk};

  CountingSource source(index.mdex);
  auto got = SyncFile(source, remote, dir / "new");  // missing: created
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(ReadAll(dir / "new"), want);
  EXPECT_EQ(source.fetched(ObjectKind::kChunk), 21u);

  WriteAll(dir / "longer", want + RandomString(3 * kChunk, 4));  // extra tail: truncated
  CountingSource s2(index.mdex);
  ASSERT_TRUE(SyncFile(s2, remote, dir / "longer").ok());
  EXPECT_EQ(ReadAll(dir / "longer"), want);
  // Only the last chunk: 1 byte remotely, a full chunk locally.
  EXPECT_EQ(s2.fetched(ObjectKind::kChunk), 1u);

  WriteAll(dir / "shorter", want.substr(0, 10 * kChunk));  // grows: 11 chunks fetched
  CountingSource s3(index.mdex);
  ASSERT_TRUE(SyncFile(s3, remote, dir / "shorter").ok());
  EXPECT_EQ(ReadAll(dir / "shorter"), want);
  EXPECT_EQ(s3.fetched(ObjectKind::kChunk), 11u);
}

TEST(FileSync, ChunksFoundElsewhereInTheLocalCopyAreReused) {
  ScratchDir dir;
  const std::string a = RandomString(kChunk, 1), b = RandomString(kChunk, 2);
  WriteAll(dir / "src", a + b + a + b);
  index::IndexResult index = Index(dir / "src");
  WriteAll(dir / "dst", b + a);  // every chunk is here, at other offsets
  CountingSource source(index.mdex);
  SyncStats stats;
  ASSERT_TRUE(SyncFile(source, {index.root, 4 * kChunk, kChunk}, dir / "dst", {}, &stats).ok());
  EXPECT_EQ(ReadAll(dir / "dst"), a + b + a + b);
  EXPECT_EQ(source.fetched(ObjectKind::kChunk), 0u);
  EXPECT_EQ(stats.bytes_reused, 4u * kChunk);
}

TEST(MemorySync, FetchesOnlyDifferingChunks) {
  ScratchDir dir;
  const std::string want = RandomString(9 * kChunk + 10, 5);
  WriteAll(dir / "src", want);
  index::IndexResult index = Index(dir / "src");
  std::string have = want;
  have[3 * kChunk] ^= 1;
  have[9 * kChunk + 2] ^= 1;
  std::vector<uint8_t> memory(have.begin(), have.end());
  CountingSource source(index.mdex);
  auto got = SyncMemory(source, {index.root, want.size(), kChunk}, memory);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(std::string(memory.begin(), memory.end()), want);
  EXPECT_EQ(source.fetched(ObjectKind::kChunk), 2u);
  EXPECT_EQ(*got, kChunk + 10 + source.bytes(ObjectKind::kTreeNode));

  std::vector<uint8_t> wrong_size(5);
  EXPECT_EQ(SyncMemory(source, {index.root, want.size(), kChunk}, wrong_size).status().code(),
            EINVAL);
}

}  // namespace
}  // namespace lcfs::sync
