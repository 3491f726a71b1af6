#include "lcfs/index/chunking.h"

#include <gtest/gtest.h>

namespace lcfs::index {
namespace {

TEST(Chunking, ValidSizesArePowersOfTwoFrom4KiBTo16MiB) {
  for (uint64_t s = 4096; s <= (16u << 20); s *= 2) EXPECT_TRUE(ValidateChunkSize(s).ok()) << s;
  for (uint64_t s : {0ull, 2048ull, 4095ull, 4097ull, 3ull << 20, 32ull << 20}) {
    Status st = ValidateChunkSize(s);
    EXPECT_FALSE(st.ok()) << s;
    EXPECT_NE(st.message().find(std::to_string(s)), std::string::npos) << st.message();
  }
}

TEST(Chunking, ParsesUnits) {
  EXPECT_EQ(ParseChunkSize("4096").value(), 4096u);
  EXPECT_EQ(ParseChunkSize("64K").value(), 65536u);
  EXPECT_EQ(ParseChunkSize("64KiB").value(), 65536u);
  EXPECT_EQ(ParseChunkSize("1M").value(), 1u << 20);
  EXPECT_EQ(ParseChunkSize("16MiB").value(), 16u << 20);
  for (const char* bad : {"", "M", "1G", "1Mx", "3K", "32M", "-1M", "99999999999999999999"}) {
    EXPECT_FALSE(ParseChunkSize(bad).ok()) << bad;
  }
}

TEST(Chunking, CountAndLength) {
  const uint32_t cs = 4096;
  EXPECT_EQ(ChunkCount(0, cs), 0u);
  EXPECT_EQ(ChunkCount(1, cs), 1u);
  EXPECT_EQ(ChunkCount(cs, cs), 1u);
  EXPECT_EQ(ChunkCount(cs + 1, cs), 2u);
  EXPECT_EQ(ChunkLength(cs + 1, cs, 0), cs);
  EXPECT_EQ(ChunkLength(cs + 1, cs, 1), 1u);
  EXPECT_EQ(ChunkLength(2 * cs, cs, 1), cs);
  EXPECT_EQ(ChunkSizeLog2(1u << 20), 20);
  EXPECT_EQ(TreeFanout(1u << 20), 32768u);
}

}  // namespace
}  // namespace lcfs::index
