#include "lcfs/sync/directory_cache.h"

#include <utility>
#include <vector>

namespace lcfs::sync {

size_t DirectoryCache::ApproximateBytes(const index::Directory& dir) {
  size_t bytes = sizeof(index::Directory) + dir.entries.capacity() * sizeof(index::DirEntry);
  for (const index::DirEntry& e : dir.entries)
    bytes += e.name.capacity() + e.inline_data.capacity() + e.symlink_target.capacity();
  return bytes;
}

std::shared_ptr<const index::Directory> DirectoryCache::Get(const Hash& hash) {
  MutexLock lock(&mu_);
  auto it = entries_.find(hash);
  if (it == entries_.end()) {
    stats_.misses++;
    return nullptr;
  }
  stats_.hits++;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.dir;
}

std::shared_ptr<const index::Directory> DirectoryCache::Insert(const Hash& hash,
                                                               index::Directory decoded) {
  const size_t bytes = ApproximateBytes(decoded);
  auto dir = std::make_shared<const index::Directory>(std::move(decoded));
  std::vector<std::shared_ptr<const index::Directory>> evicted;  // freed outside the lock
  MutexLock lock(&mu_);
  auto it = entries_.find(hash);
  if (it != entries_.end()) return it->second.dir;
  if (bytes > limit_) return dir;
  while (stats_.bytes + bytes > limit_ && !lru_.empty()) {
    auto victim = entries_.find(lru_.back());
    stats_.bytes -= victim->second.bytes;
    evicted.push_back(std::move(victim->second.dir));
    entries_.erase(victim);
    lru_.pop_back();
    stats_.evictions++;
  }
  lru_.push_front(hash);
  entries_.emplace(hash, Entry{dir, bytes, lru_.begin()});
  stats_.bytes += bytes;
  return dir;
}

DirectoryCacheStats DirectoryCache::stats() const {
  MutexLock lock(&mu_);
  DirectoryCacheStats s = stats_;
  s.directories = entries_.size();
  return s;
}

}  // namespace lcfs::sync
