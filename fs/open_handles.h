// OpenHandles: the objects behind FUSE file handles (fi->fh) of one kind,
// owned here so that handles the kernel never releases (the connection
// aborted) are freed with the filesystem.
//
// Thread safety: Add and Take may be called from any request thread; one
// leaf mutex, never held while a handle is destroyed.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "lcfs/mutex.h"

namespace lcfs::fs {

template <class T>
class OpenHandles {
 public:
  // Takes ownership; returns the value for fi->fh (the object's address).
  uint64_t Add(std::unique_ptr<T> object) EXCLUDES(mu_) {
    const T* key = object.get();
    MutexLock lock(&mu_);
    handles_.emplace(key, std::move(object));
    return reinterpret_cast<uint64_t>(key);
  }
  // Gives the object of `fh` back to the caller (to destroy outside the
  // lock); nullptr for an unknown handle.
  std::unique_ptr<T> Take(uint64_t fh) EXCLUDES(mu_) {
    std::unique_ptr<T> object;
    MutexLock lock(&mu_);
    auto it = handles_.find(reinterpret_cast<const T*>(fh));
    if (it == handles_.end()) return nullptr;
    object = std::move(it->second);
    handles_.erase(it);
    return object;
  }

 private:
  Mutex mu_;
  std::unordered_map<const T*, std::unique_ptr<T>> handles_ GUARDED_BY(mu_);
};

}  // namespace lcfs::fs
