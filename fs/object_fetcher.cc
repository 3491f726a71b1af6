#include "object_fetcher.h"

#include <syslog.h>

#include <algorithm>
#include <utility>

namespace lcfs::fs {

ObjectFetcher::ObjectFetcher(ObjectSource& upstream, ChunkCache& cache, FetchPolicy policy)
    : upstream_(upstream), cache_(cache), policy_(policy) {
  for (int i = 0; i < std::max(policy_.prefetch_threads, 0); ++i)
    workers_.emplace_back([this] { WorkerLoop(); });
}

ObjectFetcher::~ObjectFetcher() { Shutdown(); }

void ObjectFetcher::Shutdown() {
  {
    std::lock_guard lock(queue_mu_);
    shutdown_ = true;
    queue_.clear();
  }
  queue_cv_.notify_all();
  retry_cv_.notify_all();
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
    std::lock_guard lock(inflight_mu_);
    auto [it, inserted] = inflight_.try_emplace(hash);
    if (inserted) it->second = std::make_shared<Inflight>();
    flight = it->second;
    leader = inserted;
  }

  if (!leader) {
    shared_waits_++;
    std::unique_lock lock(flight->mu);
    // The leader's fetch is itself bounded by the timeout in soft mode; the
    // extra margin only guards against a source that overruns it.
    auto finished = [&] { return flight->done; };
    if (policy_.hard) {
      flight->cv.wait(lock, finished);
    } else if (!flight->cv.wait_for(lock, policy_.timeout + std::chrono::seconds(2), finished)) {
      return Status::Error(EIO, "fetch " + hash.ToHex() + ": timed out waiting for a shared fetch");
    }
    return flight->result;
  }

  Result<ObjectRef> result = FetchUpstream(hash, kind);
  {
    std::lock_guard lock(inflight_mu_);
    inflight_.erase(hash);
  }
  {
    std::lock_guard lock(flight->mu);
    flight->result = result;
    flight->done = true;
  }
  flight->cv.notify_all();
  return result;
}

Result<ObjectRef> ObjectFetcher::FetchUpstream(const Hash& hash, ObjectKind kind) {
  // The object may have entered the cache between our miss and becoming the
  // leader (another fetch finishing, or another mount sharing the cache).
  if (ObjectRef hit = GetCached(hash, kind)) return hit;
  for (int attempt = 1;; ++attempt) {
    Result<std::vector<uint8_t>> bytes = upstream_.Fetch(hash, kind, policy_.timeout);
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
    std::unique_lock lock(queue_mu_);
    retry_cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return shutdown_.load(); });
    if (shutdown_) return Status::Error(EIO, "fetch " + hash.ToHex() + ": shutting down");
  }
}

void ObjectFetcher::Prefetch(std::function<void()> task) {
  {
    std::lock_guard lock(queue_mu_);
    if (shutdown_ || workers_.empty() || queue_.size() >= policy_.prefetch_queue) return;
    queue_.push_back(std::move(task));
  }
  queue_cv_.notify_one();
}

void ObjectFetcher::WorkerLoop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return shutdown_ || !queue_.empty(); });
      if (shutdown_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    prefetches_++;
    task();
  }
}

FetcherStats ObjectFetcher::stats() const {
  FetcherStats s;
  s.upstream_fetches = upstream_fetches_;
  s.upstream_bytes = upstream_bytes_;
  s.upstream_failures = upstream_failures_;
  s.shared_waits = shared_waits_;
  s.prefetches = prefetches_;
  return s;
}

}  // namespace lcfs::fs
