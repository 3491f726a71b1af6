// BufferPool: a fixed budget of object-sized byte buffers, allocated once and
// reused instead of freed (issue 14 point 5).
//
// A receiver decodes every object into a fresh buffer of its size (1 MiB for
// a chunk). Freed, those buffers left holes in the heap that the periodic
// malloc_trim gave back and the next objects faulted in again, so resident
// memory followed how many objects happened to be in flight when it was
// sampled (tests/soak/soak.sh: a mount grew 11-18% after its first minute).
// The pool holds `buffers` buffers of `buffer_size` bytes, allocated and
// touched when it is made: their pages are resident from the start and serve
// object after object, with neither a page fault nor a zero-fill.
//
//   auto pool = std::make_shared<BufferPool>(32, 1 << 20);
//   std::vector<uint8_t> b = pool->Take(size);  // contents unspecified
//   ... decode into b, hand it on, store it ...
//   pool->Give(std::move(b));                   // back for the next object
//
// A buffer taken and never given back (its holder freed it) is simply
// replaced: the next Take that finds the pool empty allocates one, counted in
// `allocations`, so a consumer that does not give buffers back costs only the
// reuse. The pool bounds the memory it keeps, not how many buffers are out:
// what bounds those is the caller's limit on objects in flight (the network
// fetcher's window, sized to the pool by the mount).
//
// Buffers for objects smaller than a quarter of `buffer_size` are allocated
// as usual (a directory or tree node should not take a chunk's buffer), and
// so are those larger than `buffer_size`; neither is counted.
//
// Thread safety: every method may be called from any thread at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "lcfs/mutex.h"
#include "lcfs/thread_annotations.h"

namespace lcfs {

struct BufferPoolStats {
  size_t capacity = 0;       // buffers the pool keeps at most
  size_t buffer_size = 0;    // bytes each
  size_t idle = 0;           // buffers in the pool now
  uint64_t takes = 0;        // Take calls served from the pool's size range
  uint64_t reuses = 0;       // of which got a buffer the pool held
  uint64_t allocations = 0;  // buffers allocated (the first `capacity` when made)
  uint64_t returns = 0;      // buffers given back and kept
  uint64_t discarded = 0;    // buffers given back and freed (the pool was full, or too small)
};

class BufferPool {
 public:
  // Allocates and touches `buffers` buffers of `buffer_size` bytes now.
  BufferPool(size_t buffers, size_t buffer_size);
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A buffer of `size` bytes whose contents are unspecified (not zeroed when
  // it comes from the pool): the caller writes every byte it reads.
  std::vector<uint8_t> Take(size_t size) EXCLUDES(mu_);
  // Gives a buffer back (any buffer, not only the pool's). It is kept if its
  // capacity is between buffer_size and twice that and the pool holds fewer
  // than its capacity; freed otherwise.
  void Give(std::vector<uint8_t> buffer) EXCLUDES(mu_);

  // Whether Take(size) draws on the pool (sizes in (buffer_size/4, buffer_size]).
  bool Serves(size_t size) const { return size > buffer_size_ / 4 && size <= buffer_size_; }

  BufferPoolStats stats() const EXCLUDES(mu_);

 private:
  const size_t capacity_;
  const size_t buffer_size_;
  mutable Mutex mu_;
  // Each of size buffer_size_ (so that Take shrinks, never zero-fills).
  std::vector<std::vector<uint8_t>> idle_ GUARDED_BY(mu_);
  BufferPoolStats stats_ GUARDED_BY(mu_);
};

}  // namespace lcfs
