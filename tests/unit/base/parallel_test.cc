#include "lcfs/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "common/wait.h"
#include "lcfs/mutex.h"

namespace lcfs {
namespace {

TEST(ParallelFor, RunsEveryIndexExactlyOnce) {
  std::vector<std::atomic<int>> runs(1000);
  Status s = ParallelFor(runs.size(), 4, [&](size_t i) {
    ++runs[i];
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok());
  for (const auto& r : runs) EXPECT_EQ(r.load(), 1);
}

TEST(ParallelFor, ReturnsAnErrorAndStartsNothingAfterIt) {
  std::atomic<size_t> started{0};
  Status s = ParallelFor(100000, 1, [&](size_t i) {
    ++started;
    return i == 10 ? Status::Error(EIO, "task 10") : Status::Ok();
  });
  EXPECT_EQ(s.code(), EIO);
  EXPECT_EQ(s.message(), "task 10");
  EXPECT_EQ(started.load(), 11u);  // one thread: nothing after index 10
}

TEST(ParallelFor, CancelStopsNewTasksWithECANCELED) {
  std::atomic<bool> cancel{false};
  std::atomic<size_t> started{0};
  Status s = ParallelFor(
      100000, 2,
      [&](size_t i) {
        ++started;
        if (i == 5) cancel = true;
        return Status::Ok();
      },
      &cancel);
  EXPECT_EQ(s.code(), ECANCELED);
  EXPECT_LT(started.load(), 100000u);
}

TEST(ParallelFor, WorkerIndicesAreBelowTheThreadCountAndOwnedByOneThread) {
  ParallelOptions options;
  options.threads = 3;
  Mutex mu;
  std::vector<std::set<std::thread::id>> owners(3);
  Status s = ParallelFor(3000, options, [&](size_t, unsigned worker) {
    if (worker >= 3) return Status::Error(ERANGE, "worker " + std::to_string(worker));
    MutexLock lock(&mu);
    owners[worker].insert(std::this_thread::get_id());
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (const auto& o : owners) EXPECT_LE(o.size(), 1u);
}

// With a tick the caller only reports: it runs no task, and it ticks while
// tasks are still running.
TEST(ParallelFor, TickRunsOnTheCallingThreadWhileTasksRun) {
  ParallelOptions options;
  options.threads = 2;
  options.tick_period = std::chrono::milliseconds(1);
  const auto caller = std::this_thread::get_id();
  std::atomic<int> ticks{0};
  std::atomic<bool> caller_ran_a_task{false};
  options.tick = [&] {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    ++ticks;
  };
  Status s = ParallelFor(2, options, [&](size_t, unsigned) {
    if (std::this_thread::get_id() == caller) caller_ran_a_task = true;
    // Hold the task until the caller has ticked: ticks come during the work.
    if (!testing::WaitUntil([&] { return ticks.load() >= 3; }, std::chrono::seconds(30)))
      return Status::Error(ETIMEDOUT, "no ticks while tasks ran");
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok());
  EXPECT_GE(ticks.load(), 3);
  EXPECT_FALSE(caller_ran_a_task.load());
}

}  // namespace
}  // namespace lcfs
