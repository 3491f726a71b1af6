#include "lcfs/buffer_pool.h"

#include <utility>

namespace lcfs {

BufferPool::BufferPool(size_t buffers, size_t buffer_size)
    : capacity_(buffers), buffer_size_(buffer_size) {
  stats_.capacity = capacity_;
  stats_.buffer_size = buffer_size_;
  // Zero-filled by the constructor: touched now, so that they are resident
  // from the start rather than when the load first needs them.
  idle_.reserve(capacity_);
  for (size_t i = 0; i < capacity_; ++i) idle_.emplace_back(buffer_size_);
  stats_.allocations = capacity_;
}

std::vector<uint8_t> BufferPool::Take(size_t size) {
  if (!Serves(size)) return std::vector<uint8_t>(size);
  std::vector<uint8_t> buffer;
  {
    MutexLock lock(&mu_);
    ++stats_.takes;
    if (!idle_.empty()) {
      buffer = std::move(idle_.back());
      idle_.pop_back();
      ++stats_.reuses;
    } else {
      ++stats_.allocations;
    }
  }
  // A pooled buffer is buffer_size_ long: shrinking it writes nothing.
  if (buffer.capacity() == 0) buffer.reserve(buffer_size_);
  buffer.resize(size);
  return buffer;
}

void BufferPool::Give(std::vector<uint8_t> buffer) {
  const size_t capacity = buffer.capacity();
  if (capacity <= buffer_size_ / 4) return;  // never the pool's: freed as usual
  // A much larger buffer (a big directory object) is not kept in its place.
  const bool fits = capacity >= buffer_size_ && capacity <= 2 * buffer_size_;
  // Back to full length, so that the next Take only shrinks it (the bytes
  // past a short object's end are zero-filled here, once).
  if (fits) buffer.resize(buffer_size_);
  MutexLock lock(&mu_);
  if (fits && idle_.size() < capacity_) {
    idle_.push_back(std::move(buffer));
    ++stats_.returns;
  } else {
    ++stats_.discarded;  // freed when `buffer` goes, after the lock
  }
}

BufferPoolStats BufferPool::stats() const {
  MutexLock lock(&mu_);
  BufferPoolStats s = stats_;
  s.idle = idle_.size();
  return s;
}

}  // namespace lcfs
