// TokenBucket: the exporter's global send-rate limit.
//
// Tokens are bytes; they accrue at rate/8 per second up to `burst` bytes. A
// sender may spend while the balance is positive and may overdraw by one
// batch, so batches never need to be split and the long-run rate is exact:
// the debt is paid back before the next batch goes out.
#pragma once

#include <chrono>
#include <cstdint>

namespace lcfs::share {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // `bits_per_second` > 0; `burst_bytes` > 0. Starts full at `now`.
  TokenBucket(uint64_t bits_per_second, uint64_t burst_bytes, Clock::time_point now);

  // Adds the tokens accrued since the last call.
  void Refill(Clock::time_point now);
  // Bytes that may be sent now (0 while in debt).
  uint64_t Available() const { return balance_ > 0 ? static_cast<uint64_t>(balance_) : 0; }
  // Takes `bytes`, possibly going into debt.
  void Spend(uint64_t bytes) { balance_ -= static_cast<int64_t>(bytes); }
  // When at least `bytes` (<= burst) will be available (now if they are).
  Clock::time_point NextAvailable(Clock::time_point now, uint64_t bytes = 1) const;

  uint64_t rate() const { return bits_per_second_; }
  uint64_t burst() const { return burst_; }

 private:
  uint64_t bits_per_second_;
  uint64_t burst_;
  int64_t balance_;         // bytes; negative = debt
  Clock::time_point last_;  // time of the last refill
  uint64_t carry_ = 0;  // sub-byte remainder, in bit-nanoseconds, so no rate is lost to rounding
};

}  // namespace lcfs::share
