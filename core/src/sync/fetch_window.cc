#include "fetch_window.h"

#include <cstring>

namespace lcfs::sync {
namespace {

int Rank(FetchPriority p) { return static_cast<int>(p); }

}  // namespace

size_t FetchWindow::IdHash::operator()(const Id& id) const noexcept {
  size_t v;
  std::memcpy(&v, id.data(), sizeof v);
  return v;
}

FetchWindow::FetchWindow(size_t window, size_t blocking_reserve, size_t metadata_reserve)
    : window_(window == 0 ? 1 : window),
      blocking_reserve_(blocking_reserve),
      metadata_reserve_(metadata_reserve) {}

size_t FetchWindow::Limit(FetchPriority priority) const {
  size_t reserved = 0;
  if (priority != FetchPriority::kBlocking) reserved += blocking_reserve_;
  if (priority == FetchPriority::kPrefetch) reserved += metadata_reserve_;
  return reserved >= window_ ? 1 : window_ - reserved;
}

bool FetchWindow::joined(const Id& id) const {
  auto it = entries_.find(id);
  return it != entries_.end() && it->second.joined;
}

void FetchWindow::Enqueue(const Id& id, FetchPriority priority, bool front) {
  auto& q = queues_[Rank(priority)];
  if (front) {
    q.push_front(id);
  } else {
    q.push_back(id);
  }
}

void FetchWindow::Add(const Id& id, FetchPriority priority) {
  entries_.emplace(id, Entry{priority});
  Enqueue(id, priority, false);
}

void FetchWindow::SetPriority(const Id& id, FetchPriority priority) {
  Entry& e = entries_.at(id);
  if (e.priority == priority) return;
  e.priority = priority;
  if (!e.joined) Enqueue(id, priority, false);  // the old queue's entry goes stale
}

void FetchWindow::Remove(const Id& id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  if (it->second.joined) --joined_;
  entries_.erase(it);
}

const FetchWindow::Id* FetchWindow::Victim() const {
  const Id* victim = nullptr;
  const Entry* worst = nullptr;
  for (const auto& [id, e] : entries_) {
    if (!e.joined || e.priority == FetchPriority::kBlocking) continue;
    if (worst == nullptr || Rank(e.priority) > Rank(worst->priority) ||
        (e.priority == worst->priority && e.joined_seq > worst->joined_seq)) {
      victim = &id;
      worst = &e;
    }
  }
  return victim;
}

void FetchWindow::Schedule(std::vector<Id>* leave, std::vector<Id>* join) {
  for (int rank = 0; rank < kPriorities; ++rank) {
    const auto priority = static_cast<FetchPriority>(rank);
    auto& queue = queues_[rank];
    while (!queue.empty()) {
      const Id id = queue.front();
      auto it = entries_.find(id);
      if (it == entries_.end() || it->second.joined || it->second.priority != priority) {
        queue.pop_front();  // stale
        continue;
      }
      if (joined_ >= Limit(priority)) {
        if (priority != FetchPriority::kBlocking) break;
        const Id* victim = Victim();
        if (victim == nullptr) break;
        Entry& v = entries_.at(*victim);
        v.joined = false;
        --joined_;
        leave->push_back(*victim);
        Enqueue(*victim, v.priority, /*front=*/true);
      }
      queue.pop_front();
      it->second.joined = true;
      it->second.joined_seq = ++seq_;
      ++joined_;
      join->push_back(id);
    }
  }
}

}  // namespace lcfs::sync
