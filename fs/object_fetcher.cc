#include "object_fetcher.h"

#include <syslog.h>

#include <algorithm>
#include <utility>

namespace lcfs::fs {

ObjectFetcher::ObjectFetcher(ObjectSource& upstream, ChunkCache& cache, FetchPolicy policy)
    : upstream_(upstream), cache_(cache), policy_(policy) {
  has_workers_ = policy_.prefetch_threads > 0;
  for (int i = 0; i < policy_.prefetch_threads; ++i)
    workers_.emplace_back([this] { WorkerLoop(); });
}

ObjectFetcher::~ObjectFetcher() { Shutdown(); }

void ObjectFetcher::Shutdown() {
  {
    MutexLock lock(&queue_mu_);
    shutdown_ = true;
    queue_.clear();
  }
  queue_cv_.SignalAll();
  retry_cv_.SignalAll();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
  workers_.clear();
}

ObjectRef ObjectFetcher::GetCached(const Hash& hash, ObjectKind kind) {
  auto hit = cache_.Lookup(hash, kind);
  if (!hit) return nullptr;
  return std::make_shared<const CachedObject>(std::move(*hit));
}

Result<ObjectRef> ObjectFetcher::Get(const Hash& hash, ObjectKind kind) {
  if (ObjectRef hit = GetCached(hash, kind)) return hit;
  if (shutdown_) return Status::Error(EIO, "fetch " + hash.ToHex() + ": shutting down");

  std::shared_ptr<Inflight> flight;
  bool leader = false;
  {
    MutexLock lock(&inflight_mu_);
    auto [it, inserted] = inflight_.try_emplace(hash);
    if (inserted) it->second = std::make_shared<Inflight>();
    flight = it->second;
    leader = inserted;
  }

  if (!leader) {
    shared_waits_++;
    MutexLock lock(&flight->mu);
    // The leader's fetch is itself bounded by the timeout in soft mode; the
    // extra margin only guards against a source that overruns it.
    const auto deadline =
        std::chrono::steady_clock::now() + policy_.timeout + std::chrono::seconds(2);
    while (!flight->done) {
      if (policy_.hard) {
        flight->cv.Wait(&flight->mu);
      } else if (!flight->cv.WaitUntil(&flight->mu, deadline) && !flight->done) {
        return Status::Error(EIO,
                             "fetch " + hash.ToHex() + ": timed out waiting for a shared fetch");
      }
    }
    return flight->result;
  }

  Result<ObjectRef> result = FetchUpstream(hash, kind);
  {
    MutexLock lock(&inflight_mu_);
    inflight_.erase(hash);
  }
  {
    MutexLock lock(&flight->mu);
    flight->result = result;
    flight->done = true;
  }
  flight->cv.SignalAll();
  return result;
}

Result<ObjectRef> ObjectFetcher::FetchUpstream(const Hash& hash, ObjectKind kind) {
  // The object may have entered the cache between our miss and becoming the
  // leader (another fetch finishing, or another mount sharing the cache).
  if (ObjectRef hit = GetCached(hash, kind)) return hit;
  for (int attempt = 1;; ++attempt) {
    Result<std::vector<uint8_t>> bytes =
        upstream_.Fetch({.hash = hash, .kind = kind, .timeout = policy_.timeout});
    if (bytes.ok()) {
      Result<CachedObject> stored = cache_.Insert(hash, kind, *bytes);
      if (stored.ok()) {
        upstream_fetches_++;
        upstream_bytes_ += bytes->size();
        return ObjectRef(std::make_shared<const CachedObject>(std::move(*stored)));
      }
      upstream_failures_++;
      // A source returning bad bytes or a full disk is not helped by retrying.
      return Status::Error(EIO, stored.status().message());
    }
    upstream_failures_++;
    if (!policy_.hard || shutdown_ || (cancelled_ && cancelled_())) {
      return Status::Error(EIO, "fetch " + hash.ToHex() + ": " + bytes.status().ToString());
    }
    if (attempt == 1 || attempt % 10 == 0)
      syslog(LOG_WARNING, "lcfs: object %s unavailable (%s), retrying (hard mount)",
             hash.ToHex().c_str(), bytes.status().ToString().c_str());
    // A source that fails at once (rather than after the timeout) must not
    // turn the retry loop into a busy loop.
    MutexLock lock(&queue_mu_);
    if (!shutdown_) retry_cv_.WaitFor(&queue_mu_, std::chrono::milliseconds(200));
    if (shutdown_) return Status::Error(EIO, "fetch " + hash.ToHex() + ": shutting down");
  }
}

void ObjectFetcher::Prefetch(std::function<void()> task) {
  {
    MutexLock lock(&queue_mu_);
    if (shutdown_ || !has_workers_ || queue_.size() >= policy_.prefetch_queue) return;
    queue_.push_back(std::move(task));
  }
  queue_cv_.Signal();
}

void ObjectFetcher::WorkerLoop() {
  for (;;) {
    std::function<void()> task;
    {
      MutexLock lock(&queue_mu_);
      while (!shutdown_ && queue_.empty()) queue_cv_.Wait(&queue_mu_);
      if (shutdown_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    prefetches_++;
    task();
  }
}

ObjectFetcherStats ObjectFetcher::stats() const {
  ObjectFetcherStats s;
  s.upstream_fetches = upstream_fetches_;
  s.upstream_bytes = upstream_bytes_;
  s.upstream_failures = upstream_failures_;
  s.shared_waits = shared_waits_;
  s.prefetches = prefetches_;
  return s;
}

}  // namespace lcfs::fs
