#include "share/token_bucket.h"

#include <gtest/gtest.h>

namespace lcfs::share {
namespace {

using namespace std::chrono_literals;
using Clock = TokenBucket::Clock;

TEST(TokenBucket, StartsFullAndCapsAtBurst) {
  const auto t0 = Clock::time_point{} + 1h;
  TokenBucket b(8'000'000, 10'000, t0);  // 1 MB/s
  EXPECT_EQ(b.Available(), 10'000u);
  b.Refill(t0 + 10s);
  EXPECT_EQ(b.Available(), 10'000u);
}

TEST(TokenBucket, AccruesAtTheRateWithoutRoundingLoss) {
  const auto t0 = Clock::time_point{} + 1h;
  TokenBucket b(1'000'003, 1'000'000, t0);  // an odd rate: fractions of bytes carry over
  b.Spend(1'000'000);
  EXPECT_EQ(b.Available(), 0u);
  uint64_t total = 0;
  auto t = t0;
  for (int i = 0; i < 1000; ++i) {  // 1 s in 1 ms steps
    t += 1ms;
    const uint64_t before = b.Available();
    b.Refill(t);
    total += b.Available() - before;
  }
  // 1'000'003 bits in one second = 125'000.375 bytes.
  EXPECT_EQ(total, 125'000u);
}

TEST(TokenBucket, DebtDelaysTheNextSend) {
  const auto t0 = Clock::time_point{} + 1h;
  TokenBucket b(8'000'000, 1000, t0);  // 1 byte per microsecond
  b.Spend(1000 + 5000);                // overdraw by 5000 bytes
  EXPECT_EQ(b.Available(), 0u);
  const auto next = b.NextAvailable(t0);
  EXPECT_GE(next - t0, 5000us);
  EXPECT_LE(next - t0, 5002us);
  b.Refill(next);
  EXPECT_GT(b.Available(), 0u);
  b.Refill(next - 10us);  // time going backwards changes nothing
  EXPECT_GT(b.Available(), 0u);
}

TEST(TokenBucket, WaitsForABatchWorthOfTokens) {
  const auto t0 = Clock::time_point{} + 1h;
  TokenBucket b(8'000'000, 4000, t0);  // 1 byte per microsecond
  b.Spend(4000);
  EXPECT_EQ(b.NextAvailable(t0, 3000) - t0, 3000us);
  EXPECT_EQ(b.NextAvailable(t0, 100'000) - t0, 4000us);  // capped at the burst
  b.Refill(t0 + 3000us);
  EXPECT_EQ(b.Available(), 3000u);
  EXPECT_EQ(b.NextAvailable(t0 + 3000us, 3000), t0 + 3000us);
}

TEST(TokenBucket, LongRunRateIsExactWithBatches) {
  const auto t0 = Clock::time_point{} + 1h;
  TokenBucket b(100'000'000, 50'000, t0);
  auto t = t0;
  uint64_t sent = 0;
  while (t < t0 + 10s) {
    b.Refill(t);
    if (b.Available() > 0) {
      b.Spend(47'000);  // a batch larger than what is available
      sent += 47'000;
    }
    t = b.NextAvailable(t);
  }
  const double expected = 100e6 / 8 * 10 + 50'000;  // 10 s of rate plus the initial burst
  EXPECT_NEAR(static_cast<double>(sent), expected, 47'000 * 2);
}

}  // namespace
}  // namespace lcfs::share
