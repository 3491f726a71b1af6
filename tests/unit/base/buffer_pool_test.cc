// BufferPool: buffers are reused, not reallocated; the pool keeps at most its
// capacity; sizes outside its range are left to the heap.
#include "lcfs/buffer_pool.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace lcfs {
namespace {

constexpr size_t kSize = 1 << 16;

TEST(BufferPoolTest, AllocatesItsBuffersOnceAndReusesThem) {
  BufferPool pool(2, kSize);
  EXPECT_EQ(pool.stats().allocations, 2u);
  EXPECT_EQ(pool.stats().idle, 2u);
  for (int round = 0; round < 100; ++round) {
    std::vector<uint8_t> a = pool.Take(kSize);
    std::vector<uint8_t> b = pool.Take(kSize - 1000);  // a short last chunk
    ASSERT_EQ(a.size(), kSize);
    ASSERT_EQ(b.size(), kSize - 1000);
    pool.Give(std::move(a));
    pool.Give(std::move(b));
    pool.Give(pool.Take(kSize / 2));
  }
  const BufferPoolStats s = pool.stats();
  EXPECT_EQ(s.allocations, 2u);  // none beyond the first two
  EXPECT_EQ(s.takes, 300u);
  EXPECT_EQ(s.reuses, 300u);
  EXPECT_EQ(s.returns, 300u);
  EXPECT_EQ(s.discarded, 0u);
  EXPECT_EQ(s.idle, 2u);
}

TEST(BufferPoolTest, ReusedBufferIsTheSameMemory) {
  BufferPool pool(1, kSize);
  std::vector<uint8_t> a = pool.Take(kSize);
  const uint8_t* where = a.data();
  a[0] = 42;
  pool.Give(std::move(a));
  std::vector<uint8_t> b = pool.Take(kSize / 2);
  EXPECT_EQ(b.data(), where);
  EXPECT_EQ(b[0], 42);  // not zero-filled: the caller writes what it reads
}

TEST(BufferPoolTest, AllocatesBeyondItsCapacityAndFreesTheExcess) {
  BufferPool pool(1, kSize);
  std::vector<uint8_t> a = pool.Take(kSize);
  std::vector<uint8_t> b = pool.Take(kSize);  // the pool is empty: a new one
  EXPECT_EQ(pool.stats().allocations, 2u);
  EXPECT_EQ(pool.stats().reuses, 1u);
  pool.Give(std::move(a));
  pool.Give(std::move(b));  // the pool is full again: freed
  const BufferPoolStats s = pool.stats();
  EXPECT_EQ(s.idle, 1u);
  EXPECT_EQ(s.returns, 1u);
  EXPECT_EQ(s.discarded, 1u);
}

TEST(BufferPoolTest, LeavesSmallAndLargeObjectsToTheHeap) {
  BufferPool pool(1, kSize);
  EXPECT_FALSE(pool.Serves(kSize / 4));
  EXPECT_TRUE(pool.Serves(kSize / 4 + 1));
  EXPECT_FALSE(pool.Serves(kSize + 1));
  std::vector<uint8_t> small = pool.Take(100);
  std::vector<uint8_t> large = pool.Take(3 * kSize);
  EXPECT_EQ(small, std::vector<uint8_t>(100, 0));  // as the heap gives them: zeroed
  EXPECT_EQ(large.size(), 3 * kSize);
  EXPECT_EQ(pool.stats().takes, 0u);
  EXPECT_EQ(pool.stats().idle, 1u);  // the pool's buffer was not used
  pool.Give(std::move(small));
  pool.Give(std::move(large));  // too large to keep in a buffer's place
  EXPECT_EQ(pool.stats().returns, 0u);
  EXPECT_EQ(pool.stats().idle, 1u);
}

TEST(BufferPoolTest, KeepsAHeapBufferOfItsSizeInPlaceOfOneNotReturned) {
  BufferPool pool(1, kSize);
  std::vector<uint8_t> lost = pool.Take(kSize);
  lost = {};  // its holder freed it
  pool.Give(std::vector<uint8_t>(kSize));
  EXPECT_EQ(pool.stats().idle, 1u);
  EXPECT_EQ(pool.stats().returns, 1u);
}

TEST(BufferPoolTest, ManyThreadsTakeAndGive) {
  BufferPool pool(4, kSize);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, t] {
      for (int i = 0; i < 200; ++i) {
        std::vector<uint8_t> b = pool.Take(kSize);
        b[static_cast<size_t>(i)] = static_cast<uint8_t>(t);
        pool.Give(std::move(b));
      }
    });
  }
  for (auto& t : threads) t.join();
  const BufferPoolStats s = pool.stats();
  // Four threads never hold more than four buffers: nothing allocated anew.
  EXPECT_EQ(s.allocations, 4u);
  EXPECT_EQ(s.reuses, 800u);
  EXPECT_EQ(s.idle, 4u);
}

}  // namespace
}  // namespace lcfs
