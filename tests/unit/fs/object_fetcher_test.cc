#include "object_fetcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "common/wait.h"

namespace lcfs::fs {
namespace {

using namespace std::chrono_literals;

// A source holding objects in memory, with switches for the failure modes
// the fetcher must handle: blocking until released, being offline (waits
// out the timeout), returning corrupt bytes.
class FakeSource : public ObjectSource {
 public:
  Hash Add(ObjectKind kind, std::vector<uint8_t> bytes) {
    Hash h = ObjectHash(kind, bytes);
    std::lock_guard lock(mu_);
    objects_[h] = std::move(bytes);
    return h;
  }
  Result<std::vector<uint8_t>> Fetch(const FetchRequest& request) override {
    const Hash& hash = request.hash;
    const auto timeout = request.timeout;
    std::unique_lock lock(mu_);
    calls_++;
    cv_.notify_all();
    if (offline_) {
      cv_.wait_for(lock, timeout, [&] { return !offline_; });
      if (offline_) return Status::Error(ETIMEDOUT, "offline");
    }
    cv_.wait(lock, [&] { return !blocked_; });
    auto it = objects_.find(hash);
    if (it == objects_.end()) return Status::Error(ENOENT, "unknown object");
    auto bytes = it->second;
    if (corrupt_) bytes[0] ^= 1;
    fetched_++;
    return bytes;
  }
  void SetBlocked(bool b) {
    std::lock_guard lock(mu_);
    blocked_ = b;
    cv_.notify_all();
  }
  void SetOffline(bool b) {
    std::lock_guard lock(mu_);
    offline_ = b;
    cv_.notify_all();
  }
  void SetCorrupt(bool b) {
    std::lock_guard lock(mu_);
    corrupt_ = b;
  }
  // Waits (bounded) until Fetch has been entered `n` times in total.
  bool WaitForCalls(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return calls_ >= n; });
  }
  int fetched() {
    std::lock_guard lock(mu_);
    return fetched_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<Hash, std::vector<uint8_t>> objects_;
  bool blocked_ = false, offline_ = false, corrupt_ = false;
  int calls_ = 0, fetched_ = 0;
};

class ObjectFetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lcfs-fetcher-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto cache = ChunkCache::Open(dir_, 0);
    ASSERT_TRUE(cache.ok());
    cache_ = std::move(*cache);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  std::unique_ptr<ChunkCache> cache_;
  FakeSource source_;
};

TEST_F(ObjectFetcherTest, FetchesOnceThenServesFromCache) {
  const Hash h = source_.Add(ObjectKind::kChunk, std::vector<uint8_t>(4096, 7));
  ObjectFetcher fetcher(source_, *cache_, FetchPolicy{});
  auto a = fetcher.Get(h, ObjectKind::kChunk);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = fetcher.Get(h, ObjectKind::kChunk);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(source_.fetched(), 1);
  EXPECT_EQ((*b)->size(), 4096u);
  EXPECT_TRUE(fetcher.GetCached(h, ObjectKind::kChunk) != nullptr);
}

TEST_F(ObjectFetcherTest, ConcurrentReadersShareOneFetch) {
  const Hash h = source_.Add(ObjectKind::kChunk, std::vector<uint8_t>(100000, 1));
  ObjectFetcher fetcher(source_, *cache_, FetchPolicy{});
  source_.SetBlocked(true);
  std::vector<std::thread> readers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i)
    readers.emplace_back([&] { ok += fetcher.Get(h, ObjectKind::kChunk).ok(); });
  // The first reader is inside the source; wait until the others are
  // queued behind it (counted by the fetcher), then let it finish.
  ASSERT_TRUE(source_.WaitForCalls(1));
  ASSERT_TRUE(lcfs::testing::WaitUntil([&] { return fetcher.stats().shared_waits >= 7; }, 10s));
  source_.SetBlocked(false);
  for (auto& t : readers) t.join();
  EXPECT_EQ(ok, 8);
  EXPECT_EQ(source_.fetched(), 1);
  EXPECT_EQ(fetcher.stats().upstream_fetches, 1u);
}

TEST_F(ObjectFetcherTest, SoftTimeoutGivesEio) {
  const Hash h = source_.Add(ObjectKind::kChunk, std::vector<uint8_t>(10, 1));
  source_.SetOffline(true);
  FetchPolicy policy;
  policy.timeout = 200ms;
  ObjectFetcher fetcher(source_, *cache_, policy);
  const auto start = std::chrono::steady_clock::now();
  auto r = fetcher.Get(h, ObjectKind::kChunk);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), EIO);
  EXPECT_NE(r.status().message().find("ETIMEDOUT"), std::string::npos) << r.status().message();
  EXPECT_LT(took, 5s);
}

TEST_F(ObjectFetcherTest, HardMountRetriesUntilTheSourceIsBack) {
  const Hash h = source_.Add(ObjectKind::kChunk, std::vector<uint8_t>(10, 2));
  source_.SetOffline(true);
  FetchPolicy policy;
  policy.timeout = 50ms;
  policy.hard = true;
  ObjectFetcher fetcher(source_, *cache_, policy);
  Result<ObjectRef> r = Status::Error(EIO, "not run");
  std::thread reader([&] { r = fetcher.Get(h, ObjectKind::kChunk); });
  ASSERT_TRUE(source_.WaitForCalls(3));  // several timed-out attempts
  source_.SetOffline(false);
  reader.join();
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST_F(ObjectFetcherTest, HardMountGivesUpOnShutdown) {
  const Hash h = source_.Add(ObjectKind::kChunk, std::vector<uint8_t>(10, 3));
  source_.SetOffline(true);
  FetchPolicy policy;
  policy.timeout = 50ms;
  policy.hard = true;
  ObjectFetcher fetcher(source_, *cache_, policy);
  Result<ObjectRef> r = Status::Error(0, "");
  std::thread reader([&] { r = fetcher.Get(h, ObjectKind::kChunk); });
  ASSERT_TRUE(source_.WaitForCalls(2));
  fetcher.Shutdown();
  reader.join();
  EXPECT_FALSE(r.ok());
}

TEST_F(ObjectFetcherTest, CorruptBytesNeverEnterTheCache) {
  const Hash h = source_.Add(ObjectKind::kChunk, std::vector<uint8_t>(1000, 4));
  source_.SetCorrupt(true);
  ObjectFetcher fetcher(source_, *cache_, FetchPolicy{});
  auto r = fetcher.Get(h, ObjectKind::kChunk);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), EIO);
  EXPECT_FALSE(cache_->Contains(h));
}

TEST_F(ObjectFetcherTest, PrefetchRunsInTheBackground) {
  const Hash h = source_.Add(ObjectKind::kChunk, std::vector<uint8_t>(1000, 5));
  ObjectFetcher fetcher(source_, *cache_, FetchPolicy{});
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  fetcher.Prefetch([&] {
    (void)fetcher.Get(h, ObjectKind::kChunk);
    std::lock_guard lock(mu);
    done = true;
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return done; }));
  EXPECT_TRUE(cache_->Contains(h));
}

}  // namespace
}  // namespace lcfs::fs
