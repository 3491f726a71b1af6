// RepairHold: how long the relay's cached streams hold, once their listeners
// were sent all they are owed, before a round of repair (docs/protocol.md
// sections 9 and 15): twice the recent delay between that moment and the
// last listener's leave, within [min, max], as the exporter holds.
//
// A listener without loss leaves after its queue, decode, hash and MLD
// report; a hold shorter than that sends it repair it does not need (with a
// fixed 50 ms, busy readers behind a relay were sent 0.3-0.8x a 32 MiB file
// again from the cache), a longer one only delays a lossy listener.
//
// Threads: not thread-safe; the relay's loop owns it.
#pragma once

#include <algorithm>
#include <chrono>

namespace lcfs::relay {

class RepairHold {
 public:
  using Clock = std::chrono::steady_clock;

  RepairHold(Clock::duration min, Clock::duration max) : min_(min), max_(max) {}

  // The hold to use now: twice the recent leave delay, within [min, max];
  // 50 ms before any leave was seen.
  Clock::duration Get() const { return std::clamp<Clock::duration>(2 * delay_, min_, max_); }

  // The last listener of a stream left `delay` after it was first sent all
  // it was owed. An average (1/8) of recent ones, each capped at twice the
  // longest hold so one listener that never leaves cannot stretch all holds.
  void OnLeave(Clock::duration delay) {
    delay = std::min<Clock::duration>(delay, 2 * max_);
    delay_ += (delay - delay_) / 8;
  }

 private:
  Clock::duration min_, max_;
  Clock::duration delay_ = std::chrono::milliseconds(25);
};

}  // namespace lcfs::relay
