#include <gtest/gtest.h>

#include <chrono>

#include "lcfs/mutex.h"
#include "lcfs/net/mld_snooper.h"
#include "net/mld_querier.h"

namespace lcfs::net {
namespace {

// The thread runner drives the querier's timers on the real clock until
// stopped, and stops promptly.
TEST(MldSnooperThread, RunsTimersUntilStopped) {
  Mutex mu;
  CondVar cv;
  int sent = 0;  // guarded by mu
  MldSnooperOptions opts;
  opts.timers = MldTimers::Fast(Millis(100));
  auto snooper = MldSnooper::WithoutSocket(
      opts, {},
      [&](int, const Ipv6Address&, const Ipv6Address&, std::span<const uint8_t>) {
        MutexLock lock(&mu);
        ++sent;
        cv.SignalAll();
        return Status::Ok();
      },
      {{1, *Ipv6Address::Parse("fe80::1")}}, MldClock::now());
  auto runner = MldSnooperThread::Start(std::move(snooper));
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  {
    MutexLock lock(&mu);
    // Start-up queries at 0 and 25 ms, then every 100 ms.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (sent < 4 && cv.WaitUntil(&mu, deadline)) {
    }
    EXPECT_GE(sent, 4);
  }
  (*runner)->Stop();
  int after_stop;
  {
    MutexLock lock(&mu);
    after_stop = sent;
  }
  EXPECT_EQ((*runner)->snooper().querier()->counters().general_queries,
            static_cast<uint64_t>(after_stop));
}

}  // namespace
}  // namespace lcfs::net
