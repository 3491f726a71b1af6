// Bounded waits for tests that observe another thread or process.
//
// Tests wait for events (a fd, a future, a callback) where they have one;
// when only a state can be observed (a file appears, a mount shows up, a
// counter moves), they poll it with WaitUntil, which gives up at a deadline
// so a broken feature fails the test instead of hanging it. The deadline is
// generous: the suites run in parallel on loaded machines.
#pragma once

#include <chrono>
#include <thread>

namespace lcfs::testing {

// Calls `done` until it returns true (then true) or `timeout` has passed
// (then false, after one last call). Polls every `period`.
template <typename Predicate>
bool WaitUntil(Predicate&& done, std::chrono::milliseconds timeout,
               std::chrono::milliseconds period = std::chrono::milliseconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(period);
  }
  return true;
}

}  // namespace lcfs::testing
