#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "lcfs/net/mld_snooper.h"

namespace lcfs::net {
namespace {

// The thread runner drives the querier's timers on the real clock until
// stopped, and stops promptly.
TEST(MldSnooperThread, RunsTimersUntilStopped) {
  std::mutex mu;
  std::condition_variable cv;
  int sent = 0;
  MldSnooperOptions opts;
  opts.timers = MldTimers::Fast(Millis(100));
  auto snooper = MldSnooper::WithoutSocket(
      opts, {},
      [&](int, const Ipv6Address&, const Ipv6Address&, std::span<const uint8_t>) {
        std::lock_guard<std::mutex> lock(mu);
        ++sent;
        cv.notify_all();
        return Status::Ok();
      },
      {{1, *Ipv6Address::Parse("fe80::1")}}, MldClock::now());
  auto runner = MldSnooperThread::Start(std::move(snooper));
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  {
    std::unique_lock<std::mutex> lock(mu);
    // Start-up queries at 0 and 25 ms, then every 100 ms.
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return sent >= 4; }));
  }
  (*runner)->Stop();
  const int after_stop = sent;
  EXPECT_EQ((*runner)->snooper().querier()->counters().general_queries,
            static_cast<uint64_t>(after_stop));
}

}  // namespace
}  // namespace lcfs::net
