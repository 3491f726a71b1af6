#include "inode_table.h"

#include <gtest/gtest.h>

namespace lcfs::fs {
namespace {

index::Directory MakeDirectory(int entries) {
  index::Directory dir;
  dir.chunk_size = 1 << 20;
  for (int i = 0; i < entries; ++i) {
    index::DirEntry e;
    e.name = "e" + std::to_string(1000 + i);
    e.type = index::EntryType::kDirectory;
    e.hash = Sha256Of(std::string_view(e.name));
    dir.entries.push_back(e);
  }
  return dir;
}

TEST(InodeTableTest, AChildKeepsTheNumberReaddirReportedForIt) {
  InodeTable table(Sha256Of(std::string_view("root")), 0);
  auto root = table.Get(kRootInode);
  ASSERT_NE(root, nullptr);
  const index::Directory dir = MakeDirectory(5);
  const InodeNumber listed = table.ChildNumber(*root, dir, 3);
  EXPECT_EQ(table.size(), 1u);  // a plain listing creates nothing
  auto child = table.LookupChild(*root, dir, 3);
  EXPECT_EQ(child->ino, listed);
  EXPECT_EQ(child->entry.name, "e1003");
  EXPECT_EQ(child->parent, kRootInode);
  EXPECT_NE(table.ChildNumber(*root, dir, 4), listed);
}

TEST(InodeTableTest, AnInodeLivesUntilTheKernelForgetsEveryLookup) {
  InodeTable table(Sha256Of(std::string_view("root")), 0);
  auto root = table.Get(kRootInode);
  const index::Directory dir = MakeDirectory(3);
  const InodeNumber ino = table.LookupChild(*root, dir, 1)->ino;
  EXPECT_EQ(table.LookupChild(*root, dir, 1)->ino, ino);  // two lookups
  EXPECT_EQ(table.size(), 2u);
  table.Forget(ino, 1);
  EXPECT_NE(table.Get(ino), nullptr);
  table.Forget(ino, 1);
  EXPECT_EQ(table.Get(ino), nullptr);
  EXPECT_EQ(table.size(), 1u);
  // Forgetting more than was counted, or something unknown, is harmless.
  table.Forget(ino, 5);
  table.Forget(987654321, 1);
  // The root is never forgotten.
  table.Forget(kRootInode, 100);
  EXPECT_NE(table.Get(kRootInode), nullptr);
}

TEST(InodeTableTest, ANewLookupAfterForgettingGetsTheInodeBack) {
  InodeTable table(Sha256Of(std::string_view("root")), 0);
  auto root = table.Get(kRootInode);
  const index::Directory dir = MakeDirectory(2);
  auto child = table.LookupChild(*root, dir, 0);
  table.Forget(child->ino, 1);
  auto again = table.LookupChild(*root, dir, 0);
  EXPECT_EQ(again->entry, dir.entries[0]);
  EXPECT_NE(table.Get(again->ino), nullptr);
}

TEST(InodeTableTest, MemoryFollowsWhatTheKernelHoldsNotWhatItWalked) {
  // A walk over many directories, each forgotten after use (as the kernel
  // does under memory pressure): the table ends as small as it started.
  InodeTable table(Sha256Of(std::string_view("root")), 0);
  auto root = table.Get(kRootInode);
  const index::Directory dir = MakeDirectory(50);
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < dir.entries.size(); ++i) {
      auto sub = table.LookupChild(*root, dir, i);
      std::vector<InodeNumber> grandchildren;
      for (size_t j = 0; j < dir.entries.size(); ++j)
        grandchildren.push_back(table.LookupChild(*sub, dir, j)->ino);
      for (InodeNumber g : grandchildren) table.Forget(g, 1);
      table.Forget(sub->ino, 1);
    }
    EXPECT_EQ(table.size(), 1u) << "round " << round;
  }
}

}  // namespace
}  // namespace lcfs::fs
