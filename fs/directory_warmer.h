// DirectoryWarmer: decodes directory objects that are already in the chunk
// cache ahead of the listings that will need them, on a thread of its own.
//
// A new mount over a warm cache fetches nothing, so the prefetcher
// (ObjectFetcher::Prefetch) has nothing to do; yet every directory a lister
// enters cost the request's thread an open, a read and a decode of its
// object while the lister waited (`ls -lR` of /usr/share on a new mount:
// 31% of the mount's CPU). The warmer does that work beforehand, on the
// core the lister and the request thread leave idle while they wait for
// each other. Each directory decoded queues its subdirectories: a
// request's at the front (the lister goes there next), the warmer's own at
// the back, so the crawl follows the lister first and the rest of the tree
// breadth-first.
//
// The warmer only runs `decode`; what a decode does (skip what is decoded
// already, stay within the DirectoryCache's bounds, queue the children) is
// the caller's. At most `max_queued` ids wait; beyond that new ones are
// dropped (a request decodes its directory itself, as without the warmer).
//
// Thread safety: Queue may be called from any thread, including from
// `decode` on the warmer's thread. The destructor stops the thread (after
// the decode in progress, if any) and drops what is still queued.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <span>
#include <thread>

#include "lcfs/mutex.h"
#include "lcfs/thread_annotations.h"
#include "object_fetcher.h"

namespace lcfs::fs {

class DirectoryWarmer {
 public:
  using Decode = std::function<void(const ObjectId&)>;

  explicit DirectoryWarmer(Decode decode, size_t max_queued = 1 << 16);
  ~DirectoryWarmer();
  DirectoryWarmer(const DirectoryWarmer&) = delete;
  DirectoryWarmer& operator=(const DirectoryWarmer&) = delete;

  // Queues `ids` in their order, ahead of everything queued when `urgent`.
  void Queue(std::span<const ObjectId> ids, bool urgent) EXCLUDES(mu_);

 private:
  void Run() EXCLUDES(mu_);

  const Decode decode_;
  const size_t max_queued_;
  Mutex mu_;
  CondVar cv_;
  std::deque<ObjectId> queue_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started once the rest exists
};

}  // namespace lcfs::fs
