#include "directory_warmer.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <vector>

namespace lcfs::fs {
namespace {

ObjectId Id(uint8_t n) {
  ObjectId id;
  id.hash.bytes[0] = n;
  id.kind = ObjectKind::kDirectory;
  id.size = n;
  return id;
}

// Records the ids decoded; the first decode waits until Release(), so the
// test can queue more while the warmer is busy.
class Recorder {
 public:
  void Decode(const ObjectId& id) {
    std::unique_lock lock(mu_);
    decoded_.push_back(id.hash.bytes[0]);
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  // Waits until `n` ids were decoded; returns them.
  std::vector<int> WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return decoded_.size() >= n; });
    return decoded_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  std::vector<int> decoded_;
};

TEST(DirectoryWarmerTest, DecodesUrgentIdsBeforeTheCrawl) {
  Recorder r;
  DirectoryWarmer warmer([&r](const ObjectId& id) { r.Decode(id); });
  const std::vector<ObjectId> first = {Id(1)};
  warmer.Queue(first, false);
  r.WaitFor(1);  // busy with 1
  const std::vector<ObjectId> crawl = {Id(2), Id(3)}, urgent = {Id(4), Id(5)};
  warmer.Queue(crawl, false);
  warmer.Queue(urgent, true);
  r.Release();
  EXPECT_EQ(r.WaitFor(5), (std::vector<int>{1, 4, 5, 2, 3}));
}

TEST(DirectoryWarmerTest, DropsWhatExceedsItsQueue) {
  Recorder r;
  std::vector<ObjectId> more = {Id(2), Id(3), Id(4), Id(5)};
  {
    DirectoryWarmer warmer([&r](const ObjectId& id) { r.Decode(id); }, /*max_queued=*/2);
    const std::vector<ObjectId> first = {Id(1)};
    warmer.Queue(first, false);
    r.WaitFor(1);
    warmer.Queue(more, false);  // 4 and 5 do not fit
    const std::vector<ObjectId> last = {Id(6)};
    warmer.Queue(last, true);  // nor does this
    r.Release();
    EXPECT_EQ(r.WaitFor(3), (std::vector<int>{1, 2, 3}));
  }
}

}  // namespace
}  // namespace lcfs::fs
