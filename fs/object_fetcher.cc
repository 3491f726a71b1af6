#include "object_fetcher.h"

#include <syslog.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace lcfs::fs {
namespace {

// How often a blocked Get looks at its cancel flag and at shutdown.
constexpr auto kPollPeriod = std::chrono::milliseconds(50);
// Timed-out fetches the retry rule remembers at most.
constexpr size_t kMaxTimedOut = 64;

std::string LengthError(const ObjectId& id, size_t size) {
  return "object " + id.hash.ToHex() + " is " + std::to_string(size) + " bytes, its parent says " +
         std::to_string(id.size);
}

}  // namespace

// One object on its way from the source: every request for it, blocking or
// background, waits here. Fields set at construction are immutable.
struct ObjectFetcher::Flight {
  Flight(const ObjectId& object, FetchPriority first, bool in_background)
      : id(object), priority(first), background(in_background) {}

  const ObjectId id;
  Mutex mu;
  CondVar cv;  // done, or bytes for a waiter to store
  bool done GUARDED_BY(mu) = false;
  Result<ObjectRef> result GUARDED_BY(mu) = Status::Error(EIO, "fetch not finished");
  // The most urgent priority asked of the source so far.
  FetchPriority priority GUARDED_BY(mu);
  // Counted in background_ until it completes.
  const bool background;
  int pending GUARDED_BY(mu) = 1;  // requests the source has not answered (the first is sent)
  std::vector<FetchTicket> tickets GUARDED_BY(mu);
  // Background requests a promotion cancelled: their ECANCELED answers are
  // no failure.
  int superseded GUARDED_BY(mu) = 0;
  int waiters GUARDED_BY(mu) = 0;  // blocked Gets
  // Bytes a blocked Get stores on its own thread (not behind the pipeline).
  bool has_bytes GUARDED_BY(mu) = false;
  bool storing GUARDED_BY(mu) = false;  // someone took the bytes
  std::vector<uint8_t> bytes GUARDED_BY(mu);
  Status last_error GUARDED_BY(mu);
  bool timed_out GUARDED_BY(mu) = false;  // failed: the source's answer was ETIMEDOUT
  std::vector<std::function<void()>> thens GUARDED_BY(mu);
};

ObjectFetcher::ObjectFetcher(ObjectSource& upstream, cache::ChunkCache& cache, FetchPolicy policy)
    : upstream_(upstream), cache_(cache), policy_(policy) {
  pipeline_ = std::thread([this] { PipelineLoop(); });
}

ObjectFetcher::~ObjectFetcher() { Shutdown(); }

void ObjectFetcher::Shutdown() {
  shutdown_ = true;
  {
    MutexLock lock(&queue_mu_);
    metadata_queue_.clear();
    data_queue_.clear();
    stop_pipeline_ = true;
  }
  queue_cv_.SignalAll();
  idle_cv_.SignalAll();
  if (pipeline_.joinable()) pipeline_.join();

  std::vector<std::shared_ptr<Flight>> flights;
  {
    MutexLock lock(&inflight_mu_);
    for (auto& [hash, flight] : inflight_) flights.push_back(flight);
  }
  for (auto& flight : flights) {
    std::vector<FetchTicket> tickets;
    {
      MutexLock lock(&flight->mu);
      tickets = flight->tickets;
    }
    for (FetchTicket t : tickets) upstream_.Cancel(t);
  }
  // The source calls back exactly once per request, cancelled or not: wait
  // for those answers, since they refer to this object. A source that runs
  // fetches on its caller's thread answers within its timeout.
  {
    MutexLock lock(&queue_mu_);
    const auto deadline = std::chrono::steady_clock::now() + 2 * policy_.timeout + kPollPeriod;
    while (in_source_ > 0 && std::chrono::steady_clock::now() < deadline)
      idle_cv_.WaitFor(&queue_mu_, kPollPeriod);
    if (in_source_ > 0)
      syslog(LOG_ERR, "lcfs: %zu fetches still unanswered at shutdown", in_source_);
    to_store_.clear();
    to_run_.clear();
  }
  for (auto& flight : flights) Complete(flight, Status::Error(EIO, "shutting down"));
}

ObjectRef ObjectFetcher::GetCached(const ObjectId& id) {
  auto hit = cache_.Lookup(id.hash, id.kind);
  // An object of another length than its parent says is refused wherever it
  // comes from (docs/protocol.md section 10).
  if (!hit || (id.size != 0 && hit->size() != id.size)) return nullptr;
  return std::make_shared<const cache::CachedObject>(std::move(*hit));
}

std::shared_ptr<ObjectFetcher::Flight> ObjectFetcher::JoinFlight(const ObjectId& id,
                                                                 bool* created) {
  MutexLock lock(&inflight_mu_);
  auto [it, inserted] = inflight_.try_emplace(id.hash);
  *created = inserted;
  if (inserted) it->second = std::make_shared<Flight>(id, FetchPriority::kBlocking, false);
  return it->second;
}

void ObjectFetcher::Send(const std::shared_ptr<Flight>& flight, FetchPriority priority,
                         std::chrono::milliseconds timeout) {
  {
    MutexLock lock(&queue_mu_);
    in_source_++;
  }
  FetchRequest request{.hash = flight->id.hash,
                       .kind = flight->id.kind,
                       .expected_size = flight->id.size,
                       .timeout = timeout.count() > 0 ? timeout : policy_.timeout,
                       .priority = priority};
  // A local source answers before FetchAsync returns; the network source
  // later, on its receive thread.
  const FetchTicket ticket = upstream_.FetchAsync(
      request,
      [this, flight](Result<std::vector<uint8_t>> bytes) { OnAnswer(flight, std::move(bytes)); });
  if (ticket == 0) return;
  bool redundant;
  {
    MutexLock lock(&flight->mu);
    // The flight may have completed (through another request) before this
    // one was recorded, or a Get may have promoted it meanwhile (finding no
    // ticket to cancel): then nothing will cancel it but us.
    redundant = flight->done;
    if (!redundant && priority != FetchPriority::kBlocking &&
        flight->priority == FetchPriority::kBlocking) {
      redundant = true;
      flight->superseded++;
    }
    if (!redundant) flight->tickets.push_back(ticket);
  }
  if (redundant) upstream_.Cancel(ticket);
}

void ObjectFetcher::OnAnswer(const std::shared_ptr<Flight>& flight,
                             Result<std::vector<uint8_t>> bytes) {
  bool to_pipeline = false, failed = false;
  Status error;
  {
    MutexLock lock(&flight->mu);
    flight->pending--;
    if (!flight->done && !flight->storing && !flight->has_bytes) {
      if (!bytes.ok() && bytes.status().code() == ECANCELED && flight->superseded > 0 &&
          flight->pending > 0) {
        flight->superseded--;  // the promotion's own request is still coming
      } else if (bytes.ok()) {
        if (flight->waiters > 0) {
          flight->bytes = std::move(*bytes);
          flight->has_bytes = true;
          flight->cv.SignalAll();
        } else {
          flight->storing = true;
          to_pipeline = true;
        }
      } else {
        upstream_failures_++;
        flight->last_error = bytes.status();
        // Another request of the flight (a promotion) may still succeed.
        failed = flight->pending == 0;
        error = flight->last_error;
        if (failed) flight->timed_out = error.code() == ETIMEDOUT;
      }
    }
  }
  if (failed)
    Complete(flight,
             Status::Error(EIO, "fetch " + flight->id.hash.ToHex() + ": " + error.ToString()));
  {
    MutexLock lock(&queue_mu_);
    if (to_pipeline) to_store_.emplace_back(flight, std::move(*bytes));
    in_source_--;
  }
  queue_cv_.Signal();
  idle_cv_.SignalAll();
}

void ObjectFetcher::Store(const std::shared_ptr<Flight>& flight, std::vector<uint8_t> bytes) {
  const ObjectId& id = flight->id;
  if (id.size != 0 && bytes.size() != id.size) {
    upstream_failures_++;
    return Complete(flight, Status::Error(EIO, LengthError(id, bytes.size())));
  }
  // The source verified the bytes (ObjectSource's contract): hashing them
  // again here cost a SHA-256 of every object on the mount's hot path.
  Result<cache::CachedObject> stored = cache_.InsertVerified(id.hash, id.kind, bytes);
  const size_t size = bytes.size();
  if (policy_.buffers) policy_.buffers->Give(std::move(bytes));
  if (!stored.ok()) {
    upstream_failures_++;
    // A source returning bad bytes or a full disk is not helped by retrying.
    return Complete(flight, Status::Error(EIO, stored.status().message()));
  }
  upstream_fetches_++;
  upstream_bytes_ += size;
  Complete(flight, ObjectRef(std::make_shared<const cache::CachedObject>(std::move(*stored))));
}

void ObjectFetcher::Complete(const std::shared_ptr<Flight>& flight, Result<ObjectRef> result) {
  {
    MutexLock lock(&inflight_mu_);
    auto it = inflight_.find(flight->id.hash);
    if (it != inflight_.end() && it->second == flight) inflight_.erase(it);
  }
  std::vector<std::function<void()>> thens;
  std::vector<FetchTicket> unanswered;
  {
    MutexLock lock(&flight->mu);
    if (flight->done) return;
    flight->done = true;
    flight->result = std::move(result);
    if (flight->result.ok()) thens = std::move(flight->thens);
    flight->thens.clear();
    if (flight->pending > 0) unanswered = flight->tickets;
    flight->bytes.clear();
    flight->cv.SignalAll();
  }
  // Requests made redundant (a prefetch and its promotion): the source
  // stops working on the object once nothing else waits for it.
  for (FetchTicket t : unanswered) upstream_.Cancel(t);
  {
    MutexLock lock(&queue_mu_);
    if (flight->background) background_--;
    for (auto& then : thens) to_run_.push_back(std::move(then));
  }
  queue_cv_.Signal();
}

Result<ObjectRef> ObjectFetcher::Attempt(const ObjectId& id, const std::atomic<bool>* cancel,
                                         std::chrono::milliseconds wait, bool* timed_out) {
  bool created = false;
  std::shared_ptr<Flight> flight = JoinFlight(id, &created);
  bool send = created;
  std::vector<FetchTicket> superseded;
  {
    MutexLock lock(&flight->mu);
    if (flight->done) return flight->result;  // lost the race with its completion
    flight->waiters++;
    if (!created) {
      shared_waits_++;
      if (flight->priority != FetchPriority::kBlocking) {
        // A background flight: ask again at kBlocking. The network source
        // shares the group and promotes it; whichever answer comes first
        // completes the flight.
        promoted_++;
        flight->priority = FetchPriority::kBlocking;
        flight->pending++;
        send = true;
        superseded = flight->tickets;
        flight->superseded += static_cast<int>(superseded.size());
      }
    }
  }
  if (send) Send(flight, FetchPriority::kBlocking, wait);
  // The background requests the promotion replaces are cancelled once it is
  // sent (the source sees them in that order, so the group stays joined):
  // otherwise the source answers each with its own copy of the object, one
  // of them thrown away here (a megabyte copied per chunk of a sequential
  // read, which prefetches every chunk before it is read).
  for (FetchTicket t : superseded) upstream_.Cancel(t);

  // The leader's request is bounded by the timeout in soft mode; the margin
  // only guards against a source that overruns it. A short retry gives up at
  // its own bound even in a flight another Get asked with the full timeout.
  const auto deadline = std::chrono::steady_clock::now() +
                        (wait.count() > 0 ? wait : policy_.timeout + std::chrono::seconds(2));
  flight->mu.Lock();
  for (;;) {
    if (flight->done) {
      flight->waiters--;
      Result<ObjectRef> result = flight->result;
      *timed_out = !result.ok() && flight->timed_out;
      flight->mu.Unlock();
      return result;
    }
    if (flight->has_bytes && !flight->storing) {
      flight->storing = true;
      std::vector<uint8_t> bytes = std::move(flight->bytes);
      flight->mu.Unlock();
      Store(flight, std::move(bytes));  // completes the flight
      flight->mu.Lock();
      continue;
    }
    Status gave_up;
    if (cancel && cancel->load()) {
      cancelled_gets_++;
      gave_up = Status::Error(ECANCELED, "fetch " + id.hash.ToHex() + ": cancelled");
    } else if (shutdown_) {
      gave_up = Status::Error(EIO, "fetch " + id.hash.ToHex() + ": shutting down");
    } else if (!policy_.hard && std::chrono::steady_clock::now() >= deadline) {
      gave_up = Status::Error(EIO, "fetch " + id.hash.ToHex() + ": timed out waiting for it");
      *timed_out = true;
    }
    if (!gave_up.ok()) {
      flight->waiters--;
      // Bytes handed to us go to the pipeline; a flight nobody waits for any
      // more, and no prefetch wants, is given up at the source.
      const bool hand_over = flight->has_bytes && !flight->storing && flight->waiters == 0;
      std::vector<uint8_t> bytes;
      if (hand_over) {
        flight->storing = true;
        bytes = std::move(flight->bytes);
      }
      std::vector<FetchTicket> tickets;
      if (!hand_over && flight->waiters == 0 && !flight->background) tickets = flight->tickets;
      flight->mu.Unlock();
      if (hand_over) {
        MutexLock lock(&queue_mu_);
        to_store_.emplace_back(flight, std::move(bytes));
        queue_cv_.Signal();
      }
      for (FetchTicket t : tickets) upstream_.Cancel(t);
      return gave_up;
    }
    flight->cv.WaitFor(&flight->mu, kPollPeriod);
  }
}

void ObjectFetcher::RememberTimeout(const Hash& hash) {
  const auto now = clock_();
  MutexLock lock(&inflight_mu_);
  std::erase_if(timed_out_, [&](const auto& e) { return e.first == hash; });
  timed_out_.emplace_back(hash, now);
  while (!timed_out_.empty() && (timed_out_.size() > kMaxTimedOut ||
                                 now - timed_out_.front().second >= policy_.retry_window))
    timed_out_.pop_front();
}

bool ObjectFetcher::InRetryWindow(const Hash& hash) {
  const auto now = clock_();
  MutexLock lock(&inflight_mu_);
  // Not consumed: two readers of one object both retry.
  return std::any_of(timed_out_.begin(), timed_out_.end(), [&](const auto& e) {
    return e.first == hash && now - e.second < policy_.retry_window;
  });
}

Result<ObjectRef> ObjectFetcher::Get(const ObjectId& id, const std::atomic<bool>* cancel) {
  if (ObjectRef hit = GetCached(id)) return hit;
  // The retry rule (header): soon after a timeout, wait only retry_wait.
  const bool retry = !policy_.hard && InRetryWindow(id.hash);
  const auto wait =
      retry ? std::min(policy_.retry_wait, policy_.timeout) : std::chrono::milliseconds(0);
  if (retry) short_retries_++;
  for (int attempt = 1;; ++attempt) {
    if (shutdown_) return Status::Error(EIO, "fetch " + id.hash.ToHex() + ": shutting down");
    bool timed_out = false;
    const auto start = std::chrono::steady_clock::now();
    Result<ObjectRef> result = Attempt(id, cancel, wait, &timed_out);
    // Only a full wait opens a window: neither a retry that failed too, nor
    // a Get that joined such a retry's fetch, makes the next read short.
    if (!result.ok() && timed_out && !retry && !policy_.hard &&
        std::chrono::steady_clock::now() - start >= policy_.timeout)
      RememberTimeout(id.hash);
    if (retry && !result.ok() && timed_out)
      return Status::Error(EIO, result.status().message() + " (a retry within " +
                                    std::to_string(policy_.retry_window.count()) +
                                    " ms of a timeout waits " + std::to_string(wait.count()) +
                                    " ms)");
    if (result.ok() || !policy_.hard || result.status().code() == ECANCELED || shutdown_ ||
        (cancelled_ && cancelled_()))
      return result;
    if (attempt == 1 || attempt % 10 == 0)
      syslog(LOG_WARNING, "lcfs: object %s unavailable (%s), retrying (hard mount)",
             id.hash.ToHex().c_str(), result.status().ToString().c_str());
    // A source that fails at once (rather than after the timeout) must not
    // turn the retry loop into a busy loop.
    MutexLock lock(&queue_mu_);
    if (!shutdown_) idle_cv_.WaitFor(&queue_mu_, std::chrono::milliseconds(200));
  }
}

void ObjectFetcher::Prefetch(const ObjectId& id, FetchPriority priority, std::function<void()> then,
                             bool urgent) {
  if (shutdown_ || cache_.Contains(id.hash)) return;
  std::shared_ptr<Flight> flight;
  {
    MutexLock lock(&inflight_mu_);
    auto it = inflight_.find(id.hash);
    if (it != inflight_.end()) flight = it->second;
  }
  if (flight) {  // already coming: it runs the continuation too
    if (then) {
      MutexLock lock(&flight->mu);
      if (!flight->done) flight->thens.push_back(std::move(then));
    }
    return;
  }
  {
    MutexLock lock(&queue_mu_);
    const bool metadata = priority != FetchPriority::kPrefetch;
    auto& queue = metadata ? metadata_queue_ : data_queue_;
    const size_t bound = metadata ? policy_.metadata_queue : policy_.data_queue;
    if (stop_pipeline_ || queue.size() >= bound) {
      prefetch_dropped_++;
      return;
    }
    if (urgent) {
      queue.push_front({id, std::move(then)});
    } else {
      queue.push_back({id, std::move(then)});
    }
  }
  queue_cv_.Signal();
}

void ObjectFetcher::Pump() {
  for (;;) {
    Queued next;
    FetchPriority priority;
    {
      MutexLock lock(&queue_mu_);
      if (stop_pipeline_ || background_ >= policy_.max_background) return;
      if (!metadata_queue_.empty()) {
        next = std::move(metadata_queue_.front());
        metadata_queue_.pop_front();
        priority = FetchPriority::kMetadata;
      } else if (!data_queue_.empty()) {
        next = std::move(data_queue_.front());
        data_queue_.pop_front();
        priority = FetchPriority::kPrefetch;
      } else {
        return;
      }
      background_++;  // reserved; given back below if no flight is made
    }
    bool created = false;
    std::shared_ptr<Flight> flight;
    if (!cache_.Contains(next.id.hash)) {
      MutexLock lock(&inflight_mu_);
      auto [it, inserted] = inflight_.try_emplace(next.id.hash);
      if (inserted) it->second = std::make_shared<Flight>(next.id, priority, true);
      created = inserted;
      flight = it->second;
    }
    if (flight && next.then) {
      MutexLock lock(&flight->mu);
      if (!flight->done) flight->thens.push_back(std::move(next.then));
    }
    if (created) {
      prefetches_++;
      Send(flight, priority);
    } else {
      MutexLock lock(&queue_mu_);
      background_--;
    }
  }
}

void ObjectFetcher::PipelineLoop() {
  for (;;) {
    std::deque<std::pair<std::shared_ptr<Flight>, std::vector<uint8_t>>> store;
    std::deque<std::function<void()>> run;
    {
      MutexLock lock(&queue_mu_);
      while (!stop_pipeline_ && to_store_.empty() && to_run_.empty() &&
             (background_ >= policy_.max_background ||
              (metadata_queue_.empty() && data_queue_.empty())))
        queue_cv_.Wait(&queue_mu_);
      if (stop_pipeline_) return;
      store.swap(to_store_);
      run.swap(to_run_);
    }
    for (auto& [flight, bytes] : store) Store(flight, std::move(bytes));
    for (auto& then : run) then();
    Pump();
  }
}

ObjectFetcherStats ObjectFetcher::stats() const {
  ObjectFetcherStats s;
  s.upstream_fetches = upstream_fetches_;
  s.upstream_bytes = upstream_bytes_;
  s.upstream_failures = upstream_failures_;
  s.shared_waits = shared_waits_;
  s.promoted = promoted_;
  s.prefetches = prefetches_;
  s.prefetch_dropped = prefetch_dropped_;
  s.cancelled = cancelled_gets_;
  s.short_retries = short_retries_;
  MutexLock lock(&queue_mu_);
  s.background_inflight = background_;
  s.background_queued = metadata_queue_.size() + data_queue_.size();
  return s;
}

}  // namespace lcfs::fs
