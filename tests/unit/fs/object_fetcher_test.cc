#include "object_fetcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "common/temp_dir.h"
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
    last_ = request;
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
    // Bytes that do not verify: a source reports that (ObjectSource's
    // contract), as MdexObjectSource and the network source do.
    if (corrupt_) return Status::Error(EIO, "object does not verify");
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
  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  FetchRequest last_request() {
    std::lock_guard lock(mu_);
    return last_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<Hash, std::vector<uint8_t>> objects_;
  bool blocked_ = false, offline_ = false, corrupt_ = false;
  int calls_ = 0, fetched_ = 0;
  FetchRequest last_;
};

class ObjectFetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cache = lcfs::cache::ChunkCache::Open(dir_, 0);
    ASSERT_TRUE(cache.ok());
    cache_ = std::move(*cache);
  }

  // A hard-mount fetcher (50 ms per attempt) whose source is offline.
  std::unique_ptr<ObjectFetcher> OfflineHardFetcher() {
    source_.SetOffline(true);
    FetchPolicy policy;
    policy.timeout = 50ms;
    policy.hard = true;
    return std::make_unique<ObjectFetcher>(source_, *cache_, policy);
  }

  lcfs::testing::TempDir tmp_{"lcfs-fetcher-test"};
  std::string dir_ = tmp_.path();
  std::unique_ptr<cache::ChunkCache> cache_;
  FakeSource source_;
};

TEST_F(ObjectFetcherTest, FetchesOnceThenServesFromCache) {
  const Hash h = source_.Add(ObjectKind::kChunk, std::vector<uint8_t>(4096, 7));
  ObjectFetcher fetcher(source_, *cache_, FetchPolicy{});
  auto a = fetcher.Get({h, ObjectKind::kChunk});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = fetcher.Get({h, ObjectKind::kChunk});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(source_.fetched(), 1);
  EXPECT_EQ((*b)->size(), 4096u);
  EXPECT_TRUE(fetcher.GetCached({h, ObjectKind::kChunk}) != nullptr);
}

TEST_F(ObjectFetcherTest, ConcurrentReadersShareOneFetch) {
  const Hash h = source_.Add(ObjectKind::kChunk, std::vector<uint8_t>(100000, 1));
  ObjectFetcher fetcher(source_, *cache_, FetchPolicy{});
  source_.SetBlocked(true);
  std::vector<std::thread> readers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i)
    readers.emplace_back([&] { ok += fetcher.Get({h, ObjectKind::kChunk}).ok(); });
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
  auto r = fetcher.Get({h, ObjectKind::kChunk});
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), EIO);
  EXPECT_NE(r.status().message().find("ETIMEDOUT"), std::string::npos) << r.status().message();
  EXPECT_LT(took, 5s);
}

// The retry rule (object_fetcher.h), on a fake clock: the kernel asks again
// at once for a page whose read-ahead timed out; that Get waits only
// retry_wait, yet gets the object if the source is back.
class RetryRuleTest : public ObjectFetcherTest {
 protected:
  std::unique_ptr<ObjectFetcher> SoftFetcher() {
    FetchPolicy policy;
    policy.timeout = 150ms;
    policy.retry_window = 1000ms;
    policy.retry_wait = 20ms;
    auto fetcher = std::make_unique<ObjectFetcher>(source_, *cache_, policy);
    fetcher->SetClock([this] { return now_.load(); });
    return fetcher;
  }
  void Advance(std::chrono::milliseconds d) { now_ = now_.load() + d; }
  // Gets `id` while the source is offline: the timeout the source was
  // asked with.
  std::chrono::milliseconds FailedGetAsked(ObjectFetcher& fetcher, const ObjectId& id) {
    EXPECT_FALSE(fetcher.Get(id).ok());
    return source_.last_request().timeout;
  }

  std::atomic<std::chrono::steady_clock::time_point> now_{std::chrono::steady_clock::time_point{}};
  const Hash h_ = source_.Add(ObjectKind::kChunk, std::vector<uint8_t>(10, 5));
  const ObjectId id_{h_, ObjectKind::kChunk, 10};
};

TEST_F(RetryRuleTest, AGetSoonAfterATimeoutAsksWithTheShortWaitAndFailsWhileTheSourceIsSilent) {
  auto fetcher = SoftFetcher();
  source_.SetOffline(true);
  ASSERT_FALSE(fetcher->Get(id_).ok());
  EXPECT_EQ(source_.last_request().timeout, 150ms);
  Advance(999ms);
  auto again = fetcher->Get(id_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), EIO);
  EXPECT_NE(again.status().message().find("a retry within 1000 ms"), std::string::npos)
      << again.status().message();
  // The source was asked again, with the short wait as its timeout.
  EXPECT_EQ(source_.calls(), 2);
  EXPECT_EQ(source_.last_request().timeout, 20ms);
  EXPECT_EQ(fetcher->stats().short_retries, 1u);
}

TEST_F(RetryRuleTest, AGetSoonAfterATimeoutGetsTheObjectWhenTheSourceIsBack) {
  auto fetcher = SoftFetcher();
  source_.SetOffline(true);
  ASSERT_FALSE(fetcher->Get(id_).ok());
  source_.SetOffline(false);
  auto again = fetcher->Get(id_);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(source_.fetched(), 1);
  EXPECT_EQ(fetcher->stats().short_retries, 1u);
}

TEST_F(RetryRuleTest, AfterTheWindowAGetWaitsTheFullTimeoutAgain) {
  auto fetcher = SoftFetcher();
  source_.SetOffline(true);
  EXPECT_EQ(FailedGetAsked(*fetcher, id_), 150ms);
  Advance(1000ms);
  EXPECT_EQ(FailedGetAsked(*fetcher, id_), 150ms);
  EXPECT_EQ(fetcher->stats().short_retries, 0u);
}

TEST_F(RetryRuleTest, AShortRetryThatFailsDoesNotOpenAnotherWindow) {
  auto fetcher = SoftFetcher();
  source_.SetOffline(true);
  EXPECT_EQ(FailedGetAsked(*fetcher, id_), 150ms);  // a full wait: opens the window
  Advance(500ms);
  EXPECT_EQ(FailedGetAsked(*fetcher, id_), 20ms);
  Advance(600ms);  // 1.1 s after the full wait, 0.6 s after the short one
  EXPECT_EQ(FailedGetAsked(*fetcher, id_), 150ms);
  EXPECT_EQ(fetcher->stats().short_retries, 1u);
}

TEST_F(RetryRuleTest, OnlyTheObjectThatTimedOutIsShortened) {
  const Hash other = source_.Add(ObjectKind::kChunk, std::vector<uint8_t>(10, 6));
  auto fetcher = SoftFetcher();
  source_.SetOffline(true);
  EXPECT_EQ(FailedGetAsked(*fetcher, id_), 150ms);
  EXPECT_EQ(FailedGetAsked(*fetcher, {other, ObjectKind::kChunk, 10}), 150ms);
}

TEST_F(RetryRuleTest, APrefetchThatTimedOutDoesNotShortenTheNextRead) {
  auto fetcher = SoftFetcher();
  source_.SetOffline(true);
  fetcher->Prefetch(id_, FetchPriority::kPrefetch);
  ASSERT_TRUE(
      lcfs::testing::WaitUntil([&] { return fetcher->stats().upstream_failures >= 1; }, 10s));
  EXPECT_EQ(FailedGetAsked(*fetcher, id_), 150ms);
  EXPECT_EQ(fetcher->stats().short_retries, 0u);
}

TEST_F(ObjectFetcherTest, HardMountRetriesUntilTheSourceIsBack) {
  const Hash h = source_.Add(ObjectKind::kChunk, std::vector<uint8_t>(10, 2));
  auto fetcher = OfflineHardFetcher();
  Result<ObjectRef> r = Status::Error(EIO, "not run");
  std::thread reader([&] { r = fetcher->Get({h, ObjectKind::kChunk}); });
  ASSERT_TRUE(source_.WaitForCalls(3));  // several timed-out attempts
  source_.SetOffline(false);
  reader.join();
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST_F(ObjectFetcherTest, HardMountGivesUpOnShutdown) {
  const Hash h = source_.Add(ObjectKind::kChunk, std::vector<uint8_t>(10, 3));
  auto fetcher = OfflineHardFetcher();
  Result<ObjectRef> r = Status::Error(0, "");
  std::thread reader([&] { r = fetcher->Get({h, ObjectKind::kChunk}); });
  ASSERT_TRUE(source_.WaitForCalls(2));
  fetcher->Shutdown();
  reader.join();
  EXPECT_FALSE(r.ok());
}

TEST_F(ObjectFetcherTest, CorruptBytesNeverEnterTheCache) {
  const Hash h = source_.Add(ObjectKind::kChunk, std::vector<uint8_t>(1000, 4));
  source_.SetCorrupt(true);
  ObjectFetcher fetcher(source_, *cache_, FetchPolicy{});
  auto r = fetcher.Get({h, ObjectKind::kChunk});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), EIO);
  EXPECT_FALSE(cache_->Contains(h));
}

TEST_F(ObjectFetcherTest, PrefetchStoresInTheBackgroundThenRunsItsContinuation) {
  const Hash h = source_.Add(ObjectKind::kChunk, std::vector<uint8_t>(1000, 5));
  ObjectFetcher fetcher(source_, *cache_, FetchPolicy{});
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  fetcher.Prefetch({h, ObjectKind::kChunk, 1000}, FetchPriority::kPrefetch, [&] {
    std::lock_guard lock(mu);
    done = true;
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return done; }));
  // The continuation runs once the object is stored.
  EXPECT_TRUE(cache_->Contains(h));
  EXPECT_EQ(fetcher.stats().prefetches, 1u);
}

TEST_F(ObjectFetcherTest, AnObjectOfAnotherLengthThanItsParentSaysIsRefused) {
  const Hash h = source_.Add(ObjectKind::kChunk, std::vector<uint8_t>(1000, 6));
  ObjectFetcher fetcher(source_, *cache_, FetchPolicy{});
  // The source (like a buggy or hostile one) ignores expected_size.
  auto r = fetcher.Get({h, ObjectKind::kChunk, 999});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), EIO);
  EXPECT_NE(r.status().message().find("its parent says 999"), std::string::npos)
      << r.status().message();
  EXPECT_FALSE(cache_->Contains(h));
  // The size was asked of the source too.
  EXPECT_EQ(source_.last_request().expected_size, 999u);
  // With the right length it is fine.
  EXPECT_TRUE(fetcher.Get({h, ObjectKind::kChunk, 1000}).ok());
}

// A source that answers only when the test says so, like the network source
// with fetches in flight: requests are kept with their priority.
class HeldSource : public ObjectSource {
 public:
  struct Held {
    FetchRequest request;
    FetchCallback done;
    FetchTicket ticket;
  };
  Hash Add(std::vector<uint8_t> bytes) {
    Hash h = ObjectHash(ObjectKind::kChunk, bytes);
    std::lock_guard lock(mu_);
    objects_[h] = std::move(bytes);
    return h;
  }
  Result<std::vector<uint8_t>> Fetch(const FetchRequest&) override {
    return Status::Error(EINVAL, "asynchronous only");
  }
  FetchTicket FetchAsync(const FetchRequest& request, FetchCallback done) override {
    std::lock_guard lock(mu_);
    held_.push_back({request, std::move(done), ++next_ticket_});
    cv_.notify_all();
    return next_ticket_;
  }
  void Cancel(FetchTicket ticket) override {
    FetchCallback done;
    {
      std::lock_guard lock(mu_);
      cancels_++;
      for (auto it = held_.begin(); it != held_.end(); ++it) {
        if (it->ticket != ticket) continue;
        done = std::move(it->done);
        held_.erase(it);
        break;
      }
    }
    if (done) done(Status::Error(ECANCELED, "cancelled"));
  }
  // Waits (bounded) for a held request matching `pred`, then answers it.
  bool Answer(const std::function<bool(const FetchRequest&)>& pred) {
    Held h;
    {
      std::unique_lock lock(mu_);
      auto find = [&] {
        return std::find_if(held_.begin(), held_.end(),
                            [&](const Held& x) { return pred(x.request); });
      };
      if (!cv_.wait_for(lock, 10s, [&] { return find() != held_.end(); })) return false;
      auto it = find();
      h = std::move(*it);
      held_.erase(it);
    }
    h.done(objects_.at(h.request.hash));
    return true;
  }
  bool WaitForHeld(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return held_.size() >= n; });
  }
  size_t held() {
    std::lock_guard lock(mu_);
    return held_.size();
  }
  int cancels() {
    std::lock_guard lock(mu_);
    return cancels_;
  }
  void AnswerAll() {
    while (held() > 0) Answer([](const FetchRequest&) { return true; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<Hash, std::vector<uint8_t>> objects_;
  std::vector<Held> held_;
  FetchTicket next_ticket_ = 0;
  int cancels_ = 0;
};

// A reader blocked in Get of a 5000-byte chunk of `source` whose prefetch
// the source holds unanswered: where a promotion starts. Join() returns the
// reader's answer.
class ReadBehindHeldPrefetch {
 public:
  ReadBehindHeldPrefetch(ObjectFetcher& fetcher, HeldSource& source, const Hash& h) {
    fetcher.Prefetch({h, ObjectKind::kChunk, 5000}, FetchPriority::kPrefetch);
    if (!source.WaitForHeld(1)) return;  // Join() says so
    reader_ = std::thread([this, &fetcher, h] {
      got_ = fetcher.Get({h, ObjectKind::kChunk, 5000});
    });
  }
  ~ReadBehindHeldPrefetch() { Join(); }
  const Result<ObjectRef>& Join() {
    if (reader_.joinable()) reader_.join();
    return got_;
  }

 private:
  Result<ObjectRef> got_ = Status::Error(EIO, "the source never held the prefetch");
  std::thread reader_;
};

TEST_F(ObjectFetcherTest, ABlockedGetPromotesAPrefetchAndDoesNotWaitForIt) {
  HeldSource source;
  const Hash h = source.Add(std::vector<uint8_t>(5000, 1));
  ObjectFetcher fetcher(source, *cache_, FetchPolicy{});
  ReadBehindHeldPrefetch read(fetcher, source, h);
  // The reader asks again at kBlocking, and that answer alone completes it
  // while the prefetch's request is still held.
  ASSERT_TRUE(
      source.Answer([](const FetchRequest& r) { return r.priority == FetchPriority::kBlocking; }));
  const Result<ObjectRef>& got = read.Join();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(fetcher.stats().promoted, 1u);
  // The redundant prefetch request is given up (by whichever thread sees
  // it last: the reader, or the pipeline thread that sent it).
  EXPECT_TRUE(lcfs::testing::WaitUntil([&] { return source.held() == 0; }, 10s));
  EXPECT_GE(source.cancels(), 1);
}

TEST_F(ObjectFetcherTest, APromotionCancelsThePrefetchRequestBeforeAnyAnswer) {
  HeldSource source;
  const Hash h = source.Add(std::vector<uint8_t>(5000, 2));
  ObjectFetcher fetcher(source, *cache_, FetchPolicy{});
  ReadBehindHeldPrefetch read(fetcher, source, h);
  // Nothing answered yet: the promotion's request alone is left, so the
  // source never hands the object over twice.
  EXPECT_TRUE(lcfs::testing::WaitUntil([&] { return source.cancels() == 1; }, 10s));
  EXPECT_EQ(source.held(), 1u);
  ASSERT_TRUE(
      source.Answer([](const FetchRequest& r) { return r.priority == FetchPriority::kBlocking; }));
  const Result<ObjectRef>& got = read.Join();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  // The cancelled request is no failure of the source.
  EXPECT_EQ(fetcher.stats().upstream_failures, 0u);
  EXPECT_EQ(fetcher.stats().upstream_fetches, 1u);
}

TEST_F(ObjectFetcherTest, BackgroundFetchesAreBoundedAndTheQueueDropsTheRest) {
  HeldSource source;
  FetchPolicy policy;
  policy.max_background = 4;
  policy.data_queue = 3;
  ObjectFetcher fetcher(source, *cache_, policy);
  auto prefetch = [&](int i) {
    const Hash h = source.Add(std::vector<uint8_t>(100, static_cast<uint8_t>(i)));
    fetcher.Prefetch({h, ObjectKind::kChunk, 100}, FetchPriority::kPrefetch);
  };
  for (int i = 0; i < 4; ++i) {
    prefetch(i);
    ASSERT_TRUE(source.WaitForHeld(static_cast<size_t>(i) + 1));
  }
  // The source holds four: of six more, three wait and three are dropped.
  for (int i = 4; i < 10; ++i) prefetch(i);
  EXPECT_EQ(fetcher.stats().background_inflight, 4u);
  EXPECT_EQ(fetcher.stats().background_queued, 3u);
  EXPECT_EQ(fetcher.stats().prefetch_dropped, 3u);
  EXPECT_EQ(source.held(), 4u);
  // As answers come back, the queued ones go out.
  source.AnswerAll();
  ASSERT_TRUE(lcfs::testing::WaitUntil(
      [&] {
        source.AnswerAll();
        const auto s = fetcher.stats();
        return s.background_inflight == 0 && s.background_queued == 0;
      },
      10s));
  EXPECT_EQ(fetcher.stats().upstream_fetches, 10 - fetcher.stats().prefetch_dropped);
}

TEST_F(ObjectFetcherTest, ACancelledGetGivesUpItsFetchAtOnce) {
  HeldSource source;
  const Hash h = source.Add(std::vector<uint8_t>(100, 9));
  FetchPolicy policy;
  policy.timeout = 60s;  // far longer than the test may take
  ObjectFetcher fetcher(source, *cache_, policy);
  std::atomic<bool> cancel{false};
  Result<ObjectRef> got = Status::Error(0, "");
  std::thread reader([&] { got = fetcher.Get({h, ObjectKind::kChunk, 100}, &cancel); });
  ASSERT_TRUE(source.WaitForHeld(1));
  cancel = true;
  reader.join();
  EXPECT_EQ(got.status().code(), ECANCELED);
  // Nobody else wanted it: the request was withdrawn from the source.
  EXPECT_EQ(source.held(), 0u);
  EXPECT_EQ(source.cancels(), 1);
  EXPECT_EQ(fetcher.stats().cancelled, 1u);
}

}  // namespace
}  // namespace lcfs::fs
