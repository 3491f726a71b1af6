#include "lcfs/index/file_tree.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "lcfs/index/chunking.h"
#include "temp_tree.h"

namespace lcfs::index {
namespace {

constexpr uint32_t kCs = 4096;  // fanout 128: deep trees stay cheap to build

std::span<const uint8_t> Bytes(const std::string& s) {
  return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::vector<Hash> SyntheticLeaves(size_t n, uint32_t salt = 0) {
  std::vector<Hash> v;
  for (size_t i = 0; i < n; ++i)
    v.push_back(Sha256Of(std::to_string(i) + "/" + std::to_string(salt)));
  return v;
}

FileTree TreeOf(std::vector<Hash> leaves, uint32_t cs = kCs) {
  auto shape = FileShape::Make(uint64_t{leaves.size()} * cs, cs);
  EXPECT_TRUE(shape.ok());
  auto t = FileTree::FromLeaves(*shape, std::move(leaves));
  EXPECT_TRUE(t.ok());
  return std::move(t).value();
}

// Serves the tree node objects of some trees, and counts fetches.
class MapSource : public ObjectSource {
 public:
  void AddTree(const FileTree& t) {
    t.ForEachNode([&](const Hash& h, std::vector<uint8_t> b) {
      objects_[{h, ObjectKind::kTreeNode}] = std::move(b);
    });
  }
  void Put(const Hash& h, ObjectKind k, std::vector<uint8_t> b) { objects_[{h, k}] = std::move(b); }
  Result<std::vector<uint8_t>> Fetch(const FetchRequest& request) override {
    ++fetches;
    auto it = objects_.find({request.hash, request.kind});
    if (it == objects_.end()) return Status::Error(ENOENT, "no such object");
    if (check_sizes) LCFS_RETURN_IF_ERROR(CheckExpectedSize(request, it->second.size()));
    return it->second;
  }
  int fetches = 0;
  bool check_sizes = true;  // false: a source that ignores the expected length

 private:
  std::map<std::pair<Hash, ObjectKind>, std::vector<uint8_t>> objects_;
};

TEST(FileTree, EmptyFileHashIsTheEmptyChunk) {
  // SHA-256 of the single tag byte 0x00, computed independently.
  EXPECT_EQ(EmptyFileHash(), Sha256Of(std::string(1, '\0')));
  auto t = FileTree::FromData({}, kCs);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->root(), EmptyFileHash());
  EXPECT_EQ(t->shape().chunk_count(), 0u);
  EXPECT_EQ(t->shape().depth(), 0);
}

TEST(FileTree, OneChunkFileIsNamedByItsChunk) {
  for (size_t n : {size_t{1}, size_t{100}, size_t{kCs}}) {
    const std::string data = testing::RandomString(n, 1);
    auto t = FileTree::FromData(Bytes(data), kCs);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->shape().chunk_count(), 1u);
    EXPECT_EQ(t->shape().depth(), 0);
    EXPECT_EQ(t->root(), Sha256Of(std::string(1, '\0') + data)) << n;
  }
}

TEST(FileTree, OneChunkPlusOneByteHasOneNode) {
  const std::string data = testing::RandomString(kCs + 1, 2);
  auto t = FileTree::FromData(Bytes(data), kCs);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->shape().chunk_count(), 2u);
  EXPECT_EQ(t->shape().depth(), 1);
  const Hash c0 = Sha256Of(std::string(1, '\0') + data.substr(0, kCs));
  const Hash c1 = Sha256Of(std::string(1, '\0') + data.substr(kCs));
  std::string node(1, '\1');
  node.append(reinterpret_cast<const char*>(c0.bytes.data()), 32);
  node.append(reinterpret_cast<const char*>(c1.bytes.data()), 32);
  EXPECT_EQ(t->root(), Sha256Of(node));
}

TEST(FileTree, LeafAndNodeAreDomainSeparated) {
  const std::vector<uint8_t> bytes(64, 7);
  EXPECT_NE(ObjectHash(ObjectKind::kChunk, bytes), ObjectHash(ObjectKind::kTreeNode, bytes));
  // A 64-byte chunk with the bytes of a 2-child node must not name that node.
  FileTree t = TreeOf(SyntheticLeaves(2));
  std::vector<uint8_t> node = t.EncodeNode(1, 0);
  EXPECT_EQ(ObjectHash(ObjectKind::kTreeNode, node), t.root());
  EXPECT_NE(ObjectHash(ObjectKind::kChunk, node), t.root());
  // And a source holding those bytes as a chunk does not satisfy a node walk.
  MapSource src;
  src.Put(t.root(), ObjectKind::kChunk, node);
  EXPECT_FALSE(FetchChunkHash(src, t.root(), t.shape(), 0, std::chrono::milliseconds(1)).ok());
}

TEST(FileShape, DepthGrowsWithFanout) {
  struct Case {
    uint64_t chunks;
    int depth;
  } cases[] = {{0, 0}, {1, 0}, {2, 1}, {128, 1}, {129, 2}, {128 * 128, 2}, {128 * 128 + 1, 3}};
  for (const Case& c : cases) {
    auto s = FileShape::Make(c.chunks * kCs, kCs);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->depth(), c.depth) << c.chunks;
  }
  // 1 TiB with 1 MiB chunks: two node levels.
  EXPECT_EQ(FileShape::Make(uint64_t{1} << 40, 1u << 20)->depth(), 2);
  EXPECT_FALSE(FileShape::Make(uint64_t{1} << 63, kCs).ok());
  EXPECT_FALSE(FileShape::Make(10, 1000).ok());
}

TEST(FileShape, ChildCountsMatchTheBuiltTree) {
  FileTree t = TreeOf(SyntheticLeaves(128 * 128 + 300));
  const FileShape& s = t.shape();
  for (int l = 1; l <= s.depth(); ++l) {
    ASSERT_EQ(s.NodesAtLevel(l), t.level(l).size());
    for (uint64_t i = 0; i < s.NodesAtLevel(l); ++i) {
      EXPECT_EQ(t.EncodeNode(l, i).size(), uint64_t{s.ChildCount(l, i)} * 32);
    }
  }
}

TEST(FileTree, WalkToEveryChunkFetchesOnlyThePath) {
  FileTree t = TreeOf(SyntheticLeaves(128 * 128 + 300));
  ASSERT_EQ(t.shape().depth(), 3);
  MapSource src;
  src.AddTree(t);
  for (uint64_t i = 0; i < t.shape().chunk_count(); i += 97) {
    src.fetches = 0;
    auto h = FetchChunkHash(src, t.root(), t.shape(), i, std::chrono::milliseconds(1));
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    EXPECT_EQ(*h, t.leaves()[i]) << i;
    EXPECT_EQ(src.fetches, 3);
  }
  const uint64_t last = t.shape().chunk_count() - 1;
  EXPECT_EQ(*FetchChunkHash(src, t.root(), t.shape(), last, std::chrono::milliseconds(1)),
            t.leaves()[last]);
  EXPECT_FALSE(
      FetchChunkHash(src, t.root(), t.shape(), last + 1, std::chrono::milliseconds(1)).ok());
}

TEST(FileTree, WalkRejectsANodeOfTheWrongShape) {
  // The source holds a node of another size under the right name: the walk
  // asks for the length the shape gives, so the source refuses it; and a
  // source that ignores the length still cannot make the walk accept it.
  FileTree t = TreeOf(SyntheticLeaves(300));
  MapSource src;
  std::vector<uint8_t> root = t.EncodeNode(t.shape().depth(), 0);
  root.resize(root.size() - 32);
  src.Put(t.root(), ObjectKind::kTreeNode, root);
  auto h = FetchChunkHash(src, t.root(), t.shape(), 0, std::chrono::milliseconds(1));
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("its parent says"), std::string::npos)
      << h.status().message();
  src.check_sizes = false;
  h = FetchChunkHash(src, t.root(), t.shape(), 0, std::chrono::milliseconds(1));
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("expected"), std::string::npos) << h.status().message();
}

TEST(TreeNode, StrictDecode) {
  std::vector<uint8_t> two(64, 1);
  auto ok = DecodeTreeNode(two, 2);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size(), 2u);
  EXPECT_FALSE(DecodeTreeNode(two, 3).ok());
  EXPECT_FALSE(DecodeTreeNode(two, 1).ok());
  EXPECT_FALSE(DecodeTreeNode(std::span(two).first(63), 2).ok());
  EXPECT_FALSE(DecodeTreeNode({}, 0).ok());
  EXPECT_FALSE(DecodeTreeNode(two, 0).ok());
  EXPECT_EQ(EncodeTreeNode(*ok), two);
}

TEST(FileTree, FromLeavesChecksTheCount) {
  auto shape = FileShape::Make(3 * kCs, kCs);
  EXPECT_FALSE(FileTree::FromLeaves(*shape, SyntheticLeaves(2)).ok());
  EXPECT_FALSE(FileTree::FromLeaves(*shape, SyntheticLeaves(4)).ok());
}

// ---- Merkle diff ----

std::vector<uint64_t> BruteForceDiff(const std::vector<Hash>& have, const std::vector<Hash>& want) {
  std::vector<uint64_t> out;
  for (uint64_t i = 0; i < want.size(); ++i) {
    if (i >= have.size() || have[i] != want[i]) out.push_back(i);
  }
  return out;
}

TEST(Diff, IdenticalTreesDifferNowhere) {
  FileTree a = TreeOf(SyntheticLeaves(1000)), b = TreeOf(SyntheticLeaves(1000));
  EXPECT_TRUE(DiffChunks(a, b).empty());
  EXPECT_TRUE(DiffChunks(a.leaves(), b).empty());
}

TEST(Diff, FindsExactlyTheChangedChunks) {
  std::vector<Hash> have = SyntheticLeaves(128 * 128 + 77);
  std::vector<Hash> want = have;
  const std::vector<uint64_t> changed = {0, 1, 127, 128, 5000, 128 * 128 - 1, 128 * 128 + 76};
  for (uint64_t i : changed) want[i] = Sha256Of("changed " + std::to_string(i));
  FileTree a = TreeOf(have), b = TreeOf(want);
  EXPECT_EQ(DiffChunks(a, b), changed);
  EXPECT_EQ(DiffChunks(a.leaves(), b), changed);
}

TEST(Diff, RandomEditsMatchBruteForce) {
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    const size_t n_have = rng() % 20000, n_want = rng() % 20000;
    std::vector<Hash> base = SyntheticLeaves(std::max(n_have, n_want));
    std::vector<Hash> have(base.begin(), base.begin() + static_cast<long>(n_have));
    std::vector<Hash> want(base.begin(), base.begin() + static_cast<long>(n_want));
    for (int k = rng() % 10; k > 0 && n_want > 0; --k) {
      want[rng() % n_want] = Sha256Of("edit " + std::to_string(rng()));
    }
    EXPECT_EQ(DiffChunks(TreeOf(have), TreeOf(want)), BruteForceDiff(have, want))
        << n_have << " -> " << n_want;
  }
}

// Real bytes: growing a file changes its old short last chunk and adds new
// ones; shrinking it changes only the new short last chunk.
TEST(Diff, GrowAndShrinkOnRealData) {
  const std::string big = testing::RandomString(5 * kCs + 100, 9);
  const std::string small = big.substr(0, 2 * kCs + 10);
  auto t_small = FileTree::FromData(Bytes(small), kCs);
  auto t_big = FileTree::FromData(Bytes(big), kCs);
  auto t_exact = FileTree::FromData(Bytes(big.substr(0, 2 * kCs)), kCs);
  ASSERT_TRUE(t_small.ok() && t_big.ok() && t_exact.ok());
  EXPECT_EQ(DiffChunks(*t_small, *t_big), (std::vector<uint64_t>{2, 3, 4, 5}));
  EXPECT_EQ(DiffChunks(*t_big, *t_small), (std::vector<uint64_t>{2}));
  // Cut on a chunk boundary: nothing to fetch, only truncate.
  EXPECT_TRUE(DiffChunks(*t_big, *t_exact).empty());
  EXPECT_EQ(DiffChunks(*t_exact, *t_big), (std::vector<uint64_t>{2, 3, 4, 5}));
  auto empty = FileTree::FromData({}, kCs);
  EXPECT_EQ(DiffChunks(*empty, *t_small), (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_TRUE(DiffChunks(*t_small, *empty).empty());
}

TEST(Diff, OverTheNetworkFetchesOnlyChangedSubtrees) {
  std::vector<Hash> have = SyntheticLeaves(128 * 128 + 77);  // depth 3
  std::vector<Hash> want = have;
  want[5000] = Sha256Of("changed");
  FileTree a = TreeOf(have), b = TreeOf(want);
  MapSource src;
  src.AddTree(b);
  const auto timeout = std::chrono::milliseconds(1);
  auto changed = FetchChangedChunks(src, b.root(), b.shape(), a, timeout);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(*changed, (std::vector<uint64_t>{5000}));
  EXPECT_EQ(src.fetches, 3);  // the path to chunk 5000, nothing else
  src.fetches = 0;
  changed = FetchChangedChunks(src, b.root(), b.shape(), b, timeout);
  EXPECT_TRUE(changed->empty());
  EXPECT_EQ(src.fetches, 0);
  // Growth and shrink agree with the local diff.
  std::mt19937 rng(5);
  for (int round = 0; round < 10; ++round) {
    FileTree x = TreeOf(SyntheticLeaves(rng() % 20000)), y = TreeOf(SyntheticLeaves(rng() % 20000));
    MapSource s2;
    s2.AddTree(y);
    EXPECT_EQ(*FetchChangedChunks(s2, y.root(), y.shape(), x, timeout), DiffChunks(x, y));
  }
}

TEST(FileTree, FetchWholeTree) {
  FileTree t = TreeOf(SyntheticLeaves(128 * 128 + 77));
  MapSource src;
  src.AddTree(t);
  auto got = FetchFileTree(src, t.root(), t.shape(), std::chrono::milliseconds(1));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(
      std::equal(got->leaves().begin(), got->leaves().end(), t.leaves().begin(), t.leaves().end()));
  // A missing node is an error naming it, not a partial tree.
  MapSource empty;
  EXPECT_FALSE(FetchFileTree(empty, t.root(), t.shape(), std::chrono::milliseconds(1)).ok());
}

TEST(Diff, DifferentChunkSizesDifferEverywhere) {
  const std::string data = testing::RandomString(3 * 8192, 3);
  auto a = FileTree::FromData(Bytes(data), 4096);
  auto b = FileTree::FromData(Bytes(data), 8192);
  EXPECT_EQ(DiffChunks(*a, *b), (std::vector<uint64_t>{0, 1, 2}));
}

}  // namespace
}  // namespace lcfs::index
