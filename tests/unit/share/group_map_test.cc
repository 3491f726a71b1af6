#include "share/group_map.h"

#include <gtest/gtest.h>

#include <set>

#include "lcfs/index/file_tree.h"
#include "lcfs/index/indexer.h"
#include "lcfs/net/group.h"
#include "share_test_util.h"

namespace lcfs::share {
namespace {

using testing::RandomBytes;
using testing::ScratchDir;

TEST(GroupMap, FindsEveryObjectOfAnIndexByItsGroup) {
  ScratchDir dir;
  constexpr uint32_t kChunk = 4096;
  // A 3-level file: fanout 128, so 131 chunks need two level-1 nodes and a root.
  const auto big = RandomBytes(130 * kChunk + 17, 1);
  dir.Write("big", big);
  dir.Write("sub/two-chunks", RandomBytes(2 * kChunk, 2));
  dir.Write("sub/one-chunk", RandomBytes(3000, 3));
  dir.Write("sub/deeper/tiny", RandomBytes(10, 4));  // inline: no object of its own
  index::IndexOptions opts;
  opts.chunk_size = kChunk;
  auto index = index::IndexPath(dir.path(), opts);
  ASSERT_TRUE(index.ok()) << index.status().ToString();

  auto map = GroupMap::Build(*index, net::GroupScheme{});
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_EQ(map->missing(), 0u);

  // What the map must hold: 3 directories, the big file's 131 chunks and 3
  // tree nodes, the 2-chunk file's 2 chunks and 1 node, the 1-chunk file.
  auto big_tree = index::FileTree::FromData(big, kChunk);
  ASSERT_TRUE(big_tree.ok());
  std::set<Hash> expected(big_tree->leaves().begin(), big_tree->leaves().end());
  big_tree->ForEachNode([&](const Hash& h, std::vector<uint8_t>) { expected.insert(h); });
  EXPECT_EQ(expected.size(), 134u);
  EXPECT_EQ(map->size(), 3u + 134u + 3u + 1u);
  const std::set<Hash> mapped(map->hashes().begin(), map->hashes().end());
  for (const Hash& h : expected) EXPECT_TRUE(mapped.count(h));
  EXPECT_EQ(map->MemoryUsage(), map->size() * (sizeof(Hash) + sizeof(uint64_t) + sizeof(uint32_t)));

  for (const Hash& h : map->hashes()) {
    auto found = map->Find(net::GroupAddress(h));
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(*found, h);
    EXPECT_TRUE(index->mdex->Contains(h));
  }
  EXPECT_EQ(map->Find(net::GroupAddress(index->root)), index->root);
}

TEST(GroupMap, UnknownGroupsAndOtherSchemesFindNothing) {
  std::vector<Hash> hashes;
  for (uint8_t i = 0; i < 50; ++i) hashes.push_back(Sha256Of(std::string(1, static_cast<char>(i))));
  auto map = GroupMap::FromHashes(hashes, net::GroupScheme{});
  EXPECT_EQ(map.size(), 50u);
  EXPECT_FALSE(map.Find(net::GroupAddress(Sha256Of("not published"))).has_value());
  // The cheap pre-check: every published group may be there, and of 10,000
  // random lcfs groups none (64 bits make a false match vanishingly rare).
  for (const Hash& h : hashes) EXPECT_TRUE(map.MayContain(net::GroupAddress(h)));
  int false_matches = 0;
  for (int i = 0; i < 10'000; ++i)
    false_matches += map.MayContain(net::GroupAddress(Sha256Of("random " + std::to_string(i))));
  EXPECT_EQ(false_matches, 0);
  net::GroupScheme site;
  site.scope = 0x5;
  EXPECT_FALSE(map.Find(net::GroupAddress(hashes[7], site)).has_value());
  EXPECT_EQ(map.Find(net::GroupAddress(hashes[7])), hashes[7]);
  // Duplicates collapse.
  hashes.push_back(hashes[0]);
  EXPECT_EQ(GroupMap::FromHashes(hashes, net::GroupScheme{}).size(), 50u);
  EXPECT_FALSE(GroupMap().Find(net::GroupAddress(hashes[0])).has_value());
}

TEST(GroupMap, SingleFileExport) {
  ScratchDir dir;
  const auto path = dir.Write("f", RandomBytes(3 * 4096, 9));
  index::IndexOptions opts;
  opts.chunk_size = 4096;
  auto index = index::IndexPath(path, opts);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  ASSERT_FALSE(index->root_is_directory);
  auto map = GroupMap::Build(*index, net::GroupScheme{});
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->size(), 4u);  // 3 chunks and the root node
  EXPECT_EQ(map->Find(net::GroupAddress(index->root)), index->root);
}

}  // namespace
}  // namespace lcfs::share
