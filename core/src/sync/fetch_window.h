// FetchWindow: which fetches hold the Fetcher's joined groups.
//
// A pure bookkeeping class (no I/O, so its rules are unit-tested directly):
// the Fetcher tells it which fetches exist and how urgent each is, and asks
// it which to join and which to leave. The rules:
//  - at most `window` fetches are joined at once;
//  - queued fetches are joined most urgent first, in arrival order within a
//    priority (a preempted fetch goes back to the front of its queue);
//  - `blocking_reserve` slots are only for blocking fetches, and
//    `metadata_reserve` more are not for data prefetch;
//  - when the window is full and a blocking fetch waits, the joined fetch of
//    least priority that joined last gives up its slot (the Fetcher leaves
//    its group but keeps its symbols), so a blocked request never waits
//    behind prefetch;
//  - changing a queued fetch's priority moves it to that priority's queue.
//
// Not thread-safe: the Fetcher's receive thread owns it.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

#include "lcfs/net/packet.h"
#include "lcfs/object.h"

namespace lcfs::sync {

class FetchWindow {
 public:
  using Id = net::ObjectId;

  FetchWindow(size_t window, size_t blocking_reserve, size_t metadata_reserve);

  // A new fetch, queued. Its id must not be present.
  void Add(const Id& id, FetchPriority priority);
  // Raises or lowers a fetch's priority (a joined fetch stays joined).
  void SetPriority(const Id& id, FetchPriority priority);
  // Forgets a fetch (done or abandoned); its slot, if any, is free again.
  void Remove(const Id& id);

  // What to do now: fetches to leave (preempted; they stay queued) and
  // fetches to join, already counted as joined. The caller leaves before it
  // joins. A fetch whose join fails is Remove()d by the caller.
  void Schedule(std::vector<Id>* leave, std::vector<Id>* join);

  bool contains(const Id& id) const { return entries_.contains(id); }
  bool joined(const Id& id) const;
  FetchPriority priority(const Id& id) const { return entries_.at(id).priority; }
  size_t joined_count() const { return joined_; }
  size_t size() const { return entries_.size(); }
  // Slots a fetch of `priority` may hold (counting every joined fetch).
  size_t Limit(FetchPriority priority) const;

 private:
  static constexpr int kPriorities = 3;
  struct IdHash {
    size_t operator()(const Id& id) const noexcept;
  };
  struct Entry {
    FetchPriority priority;
    bool joined = false;
    uint64_t joined_seq = 0;  // order of joining, for the preemption choice
  };

  void Enqueue(const Id& id, FetchPriority priority, bool front);
  // The joined non-blocking fetch to give up its slot, or nullptr.
  const Id* Victim() const;

  size_t window_, blocking_reserve_, metadata_reserve_;
  std::unordered_map<Id, Entry, IdHash> entries_;
  // Queued ids per priority; stale entries (joined, removed, moved) are
  // skipped when they reach the front.
  std::array<std::deque<Id>, kPriorities> queues_;
  size_t joined_ = 0;
  uint64_t seq_ = 0;
};

}  // namespace lcfs::sync
