#include "share/token_bucket.h"

#include <algorithm>

namespace lcfs::share {
namespace {
constexpr uint64_t kBitNanosPerByte = 8'000'000'000ULL;  // 8 bits * 1e9 ns
}

TokenBucket::TokenBucket(uint64_t bits_per_second, uint64_t burst_bytes, Clock::time_point now)
    : bits_per_second_(std::max<uint64_t>(bits_per_second, 1)),
      burst_(std::max<uint64_t>(burst_bytes, 1)),
      balance_(static_cast<int64_t>(burst_)),
      last_(now) {}

void TokenBucket::Refill(Clock::time_point now) {
  if (now <= last_) return;
  // A long pause only fills the bucket: cap the interval so the product
  // below cannot overflow whatever the rate.
  const auto elapsed = std::min<int64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_).count(), 10'000'000'000LL);
  last_ = now;
  const unsigned __int128 bit_nanos =
      static_cast<unsigned __int128>(elapsed) * bits_per_second_ + carry_;
  const auto bytes = static_cast<uint64_t>(bit_nanos / kBitNanosPerByte);
  carry_ = static_cast<uint64_t>(bit_nanos % kBitNanosPerByte);
  balance_ =
      std::min<int64_t>(balance_ + static_cast<int64_t>(bytes), static_cast<int64_t>(burst_));
  if (balance_ == static_cast<int64_t>(burst_)) carry_ = 0;
}

TokenBucket::Clock::time_point TokenBucket::NextAvailable(Clock::time_point now,
                                                          uint64_t bytes) const {
  const auto want = static_cast<int64_t>(std::clamp<uint64_t>(bytes, 1, burst_));
  if (balance_ >= want) return now;
  // Time to accrue (want - balance) bytes, rounded up to whole nanoseconds.
  const unsigned __int128 needed =
      static_cast<unsigned __int128>(want - balance_) * kBitNanosPerByte - carry_;
  const auto ns = static_cast<int64_t>((needed + bits_per_second_ - 1) / bits_per_second_);
  return last_ + std::chrono::nanoseconds(ns);
}

}  // namespace lcfs::share
