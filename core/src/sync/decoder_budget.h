// DecoderBudget: the memory one fetcher's object assemblers may hold beyond
// what its requests need, shared between them.
//
// An object the receiver asked for, with its size known, always gets one
// decoder: the window bounds how many there are and the parent bounds their
// size. Everything a hostile host can make a receiver hold on top of that
// (decoders for other senders of the object, decoders for a root directory
// whose size nobody told us, the symbol pools kept to retry a decode) is
// charged here and refused once the budget is spent.
//
// Threads: none of its own; used by the fetcher's receive thread only.
#pragma once

#include <cstdint>

namespace lcfs::sync {

class DecoderBudget {
 public:
  explicit DecoderBudget(uint64_t limit) : limit_(limit) {}
  DecoderBudget(const DecoderBudget&) = delete;
  DecoderBudget& operator=(const DecoderBudget&) = delete;

  // Takes `bytes` if they fit; false (nothing taken) otherwise.
  bool TryCharge(uint64_t bytes) {
    if (bytes > limit_ - used_) return false;
    used_ += bytes;
    if (used_ > peak_) peak_ = used_;
    return true;
  }
  // Gives back bytes taken with TryCharge.
  void Release(uint64_t bytes) { used_ -= bytes < used_ ? bytes : used_; }

  uint64_t limit() const { return limit_; }
  uint64_t used() const { return used_; }
  uint64_t peak() const { return peak_; }

 private:
  const uint64_t limit_;
  uint64_t used_ = 0;
  uint64_t peak_ = 0;
};

}  // namespace lcfs::sync
