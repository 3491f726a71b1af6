// InodeTable: the inode numbers of a mount and what each one is.
//
// Content is immutable, so an inode is just a directory entry (name, type,
// mode, size, mtime, object hash) plus, for directories, the decoded
// directory object once fetched. Numbers are handed out on first sight
// (lookup or readdir) and never reused or forgotten for the life of the
// mount, so they are stable however the kernel evicts its own caches. The
// root is FUSE_ROOT_ID (1).
//
// Thread safety: every method may be called from any FUSE request thread at
// once. The table's map is guarded by its own mutex; an Inode's directory
// state (dir, children) by the Inode's `mu`. Child() takes the parent's `mu`
// and then the table's (the lock order of filesystem.h); nothing else holds
// two locks. The immutable fields of an Inode (ino, parent, entry,
// chunk_size) are read without a lock.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/index/directory.h"
#include "lcfs/mutex.h"
#include "lcfs/thread_annotations.h"

namespace lcfs::fs {

using InodeNumber = uint64_t;
inline constexpr InodeNumber kRootInode = 1;

struct Inode {
  InodeNumber ino = 0;
  InodeNumber parent = 0;
  index::DirEntry entry;    // for the root: a synthetic directory entry
  uint32_t chunk_size = 0;  // files: the chunk size of the directory that lists it

  // Directories, once the directory object was fetched and decoded.
  Mutex mu;
  std::shared_ptr<const index::Directory> dir GUARDED_BY(mu);
  // Parallel to dir->entries; 0 = not numbered yet.
  std::vector<InodeNumber> children GUARDED_BY(mu);
};

class InodeTable {
 public:
  // `root_hash` names the root directory object of `root_size` bytes.
  InodeTable(const Hash& root_hash, uint64_t root_size);

  // nullptr if `ino` was never handed out.
  std::shared_ptr<Inode> Get(InodeNumber ino) const EXCLUDES(mu_);
  // The inode of entry `index` of the loaded directory `parent`, numbering it
  // on first use. `parent->dir` must be set.
  std::shared_ptr<Inode> Child(Inode& parent, size_t index) EXCLUDES(parent.mu, mu_);
  // Stores a decoded directory object in `dir` (first caller wins).
  void SetDirectory(Inode& dir, std::shared_ptr<const index::Directory> decoded) EXCLUDES(dir.mu);

  size_t size() const EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  std::unordered_map<InodeNumber, std::shared_ptr<Inode>> inodes_ GUARDED_BY(mu_);
  InodeNumber next_ GUARDED_BY(mu_) = kRootInode + 1;
};

}  // namespace lcfs::fs
