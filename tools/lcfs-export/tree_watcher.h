// TreeWatcher: tells when anything below a directory changes (inotify).
//
// inotify watches single directories, so every directory of the tree gets a
// watch, and directories created later get theirs when their creation is
// seen. Symlinks are not followed (IN_DONT_FOLLOW), as the indexer does not.
// The caller polls fd() and calls Drain(), which reports whether a change
// was seen; deciding when to re-index (settling) is the caller's business.
#pragma once

#include <string>
#include <unordered_map>

#include "lcfs/status.h"
#include "lcfs/unique_fd.h"

namespace lcfs::exporter {

class TreeWatcher {
 public:
  // Watches `root` and every directory below it. Directories that cannot be
  // watched (e.g. past the inotify watch limit) are counted in unwatched().
  static Result<TreeWatcher> Open(const std::string& root);

  int fd() const { return fd_.get(); }
  // Reads the pending events; true if any was a change (or the queue
  // overflowed, which may have hidden one). Adds watches for new directories.
  bool Drain();
  // Directories that could not be watched so far.
  size_t unwatched() const { return unwatched_; }

 private:
  TreeWatcher() = default;
  void AddTree(const std::string& dir);

  UniqueFd fd_;
  std::unordered_map<int, std::string> dirs_;  // watch descriptor -> path
  size_t unwatched_ = 0;
};

}  // namespace lcfs::exporter
