#include "directory_warmer.h"

#include <algorithm>
#include <utility>

namespace lcfs::fs {

DirectoryWarmer::DirectoryWarmer(Decode decode, size_t max_queued)
    : decode_(std::move(decode)), max_queued_(max_queued), thread_([this] { Run(); }) {}

DirectoryWarmer::~DirectoryWarmer() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  thread_.join();
}

void DirectoryWarmer::Queue(std::span<const ObjectId> ids, bool urgent) {
  {
    MutexLock lock(&mu_);
    const size_t room = max_queued_ - std::min(max_queued_, queue_.size());
    ids = ids.first(std::min(ids.size(), room));
    if (ids.empty()) return;
    if (urgent) {
      queue_.insert(queue_.begin(), ids.begin(), ids.end());
    } else {
      queue_.insert(queue_.end(), ids.begin(), ids.end());
    }
  }
  cv_.Signal();
}

void DirectoryWarmer::Run() {
  while (true) {
    ObjectId id;
    {
      MutexLock lock(&mu_);
      while (!stop_ && queue_.empty()) cv_.Wait(&mu_);
      if (stop_) return;
      id = queue_.front();
      queue_.pop_front();
    }
    decode_(id);
  }
}

}  // namespace lcfs::fs
