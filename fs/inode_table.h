// InodeTable: the inode numbers of a mount and what each one is.
//
// Content is immutable, so an inode is just a directory entry (name, type,
// mode, size, mtime, object hash) plus, for directories, the decoded
// directory object once fetched. Numbers are handed out on first sight
// (lookup or readdir) and never reused or forgotten for the life of the
// mount, so they are stable however the kernel evicts its own caches. The
// root is FUSE_ROOT_ID (1).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/index/directory.h"

namespace lcfs::fs {

using InodeNumber = uint64_t;
inline constexpr InodeNumber kRootInode = 1;

struct Inode {
  InodeNumber ino = 0;
  InodeNumber parent = 0;
  DirEntry entry;           // for the root: a synthetic directory entry
  uint32_t chunk_size = 0;  // files: the chunk size of the directory that lists it

  // Directories, once the directory object was fetched and decoded.
  std::mutex mu;
  std::shared_ptr<const Directory> dir;
  std::vector<InodeNumber> children;  // parallel to dir->entries; 0 = not numbered yet
};

class InodeTable {
 public:
  // `root_hash` names the root directory object of `root_size` bytes.
  InodeTable(const Hash& root_hash, uint64_t root_size);

  // nullptr if `ino` was never handed out.
  std::shared_ptr<Inode> Get(InodeNumber ino) const;
  // The inode of entry `index` of the loaded directory `parent`, numbering it
  // on first use. `parent->dir` must be set.
  std::shared_ptr<Inode> Child(Inode& parent, size_t index);
  // Stores a decoded directory object in `dir` (first caller wins).
  void SetDirectory(Inode& dir, std::shared_ptr<const Directory> decoded);

  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<InodeNumber, std::shared_ptr<Inode>> inodes_;
  InodeNumber next_ = kRootInode + 1;
};

}  // namespace lcfs::fs
