// InodeTable: the inode numbers of a mount and what each one is.
//
// Content is immutable, so an inode is just a directory entry (name, type,
// mode, size, mtime, object hash). The decoded directory objects themselves
// live in the DirectoryCache, shared by hash, so the table costs a small
// constant per inode however large or repeated the directories are.
//
// Numbering: when a directory inode is first listed or looked up in, it
// reserves a block of numbers, one per entry of its directory object; entry
// i is always number first_child + i. Plain READDIR can therefore report the
// number a later LOOKUP will give, without creating anything. Numbers are
// never reused: a new block is reserved when the kernel forgot the directory
// and looks it up again. The root is FUSE_ROOT_ID (1).
//
// Lifetime follows the kernel's lookup count: every reply that hands the
// kernel an inode (LOOKUP, each READDIRPLUS entry) counts one, FORGET and
// BATCH_FORGET subtract, and an inode whose count reaches zero is dropped. So
// the table holds what the kernel holds, and `find` over a million-entry tree
// does not grow the daemon without end. Open files keep their Inode alive by
// shared_ptr after it left the table.
//
// Thread safety: every method may be called from any FUSE request thread at
// once. The map and lookup counts are guarded by the table's mutex; an
// Inode's first_child by the Inode's `mu`. ChildOf takes the parent's `mu`
// and then the table's (the lock order of filesystem.h); nothing else holds
// two locks. The immutable fields of an Inode (ino, parent, entry,
// chunk_size) are read without a lock.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>

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

  Mutex mu;
  // Directories: number of entry 0 of the directory object; 0 = no block
  // reserved yet.
  InodeNumber first_child GUARDED_BY(mu) = 0;
};

class InodeTable {
 public:
  // `root_hash` names the root directory object of `root_size` bytes.
  InodeTable(const Hash& root_hash, uint64_t root_size);

  // nullptr if `ino` is unknown (never handed out, or forgotten).
  std::shared_ptr<Inode> Get(InodeNumber ino) const EXCLUDES(mu_);

  // The number entry `index` of `dir` (the decoded object of `parent`) has,
  // reserving the parent's block if needed. Creates nothing else.
  InodeNumber ChildNumber(Inode& parent, const index::Directory& dir, size_t index)
      EXCLUDES(parent.mu, mu_);
  // The inode of entry `index` of `dir`, creating it if the kernel does not
  // know it, and counting one kernel lookup of it. The caller must hand it
  // to the kernel, or Forget(ino, 1) if the reply fails.
  std::shared_ptr<Inode> LookupChild(Inode& parent, const index::Directory& dir, size_t index)
      EXCLUDES(parent.mu, mu_);
  // Makes FUSE_ROOT_ID name the directory object `root_hash` (a channel
  // mount switching versions). The old root Inode lives on in whoever holds
  // it (an open directory); the new one reserves a new block of child
  // numbers, so no number ever names two entries. Returns the old root.
  std::shared_ptr<Inode> ReplaceRoot(const Hash& root_hash, uint64_t root_size) EXCLUDES(mu_);
  // The kernel dropped `count` lookups of `ino`; at zero it is forgotten.
  // The root is never forgotten.
  void Forget(InodeNumber ino, uint64_t count) EXCLUDES(mu_);

  // Inodes the kernel knows now (statfs reports it as f_files).
  size_t size() const EXCLUDES(mu_);

 private:
  struct Slot {
    std::shared_ptr<Inode> inode;
    uint64_t lookups = 0;
  };

  static std::shared_ptr<Inode> MakeRoot(const Hash& root_hash, uint64_t root_size);

  mutable Mutex mu_;
  std::unordered_map<InodeNumber, Slot> inodes_ GUARDED_BY(mu_);
  InodeNumber next_ GUARDED_BY(mu_) = kRootInode + 1;
};

}  // namespace lcfs::fs
