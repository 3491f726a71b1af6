#include "inode_table.h"

namespace lcfs::fs {

std::shared_ptr<Inode> InodeTable::MakeRoot(const Hash& root_hash, uint64_t root_size) {
  auto root = std::make_shared<Inode>();
  root->ino = kRootInode;
  root->parent = kRootInode;
  root->entry.type = index::EntryType::kDirectory;
  root->entry.mode = 0755;
  root->entry.hash = root_hash;
  root->entry.size = root_size;
  return root;
}

InodeTable::InodeTable(const Hash& root_hash, uint64_t root_size) {
  auto root = MakeRoot(root_hash, root_size);
  MutexLock lock(&mu_);
  inodes_.emplace(kRootInode, Slot{std::move(root), 1});
}

std::shared_ptr<Inode> InodeTable::ReplaceRoot(const Hash& root_hash, uint64_t root_size) {
  auto root = MakeRoot(root_hash, root_size);
  MutexLock lock(&mu_);
  std::swap(inodes_.at(kRootInode).inode, root);
  return root;
}

std::shared_ptr<Inode> InodeTable::Get(InodeNumber ino) const {
  MutexLock lock(&mu_);
  auto it = inodes_.find(ino);
  return it == inodes_.end() ? nullptr : it->second.inode;
}

InodeNumber InodeTable::ChildNumber(Inode& parent, const index::Directory& dir, size_t index) {
  MutexLock parent_lock(&parent.mu);
  if (parent.first_child == 0) {
    MutexLock lock(&mu_);
    parent.first_child = next_;
    next_ += dir.entries.size() + 1;  // never 0 entries' worth: blocks stay distinct
  }
  return parent.first_child + index;
}

std::shared_ptr<Inode> InodeTable::LookupChild(Inode& parent, const index::Directory& dir,
                                               size_t index) {
  const InodeNumber ino = ChildNumber(parent, dir, index);
  MutexLock lock(&mu_);
  Slot& slot = inodes_[ino];
  if (!slot.inode) {
    auto child = std::make_shared<Inode>();
    child->ino = ino;
    child->parent = parent.ino;
    child->entry = dir.entries.at(index);
    child->chunk_size = dir.chunk_size;
    slot.inode = std::move(child);
  }
  slot.lookups++;
  return slot.inode;
}

void InodeTable::Forget(InodeNumber ino, uint64_t count) {
  std::shared_ptr<Inode> dropped;  // freed outside the lock
  MutexLock lock(&mu_);
  auto it = inodes_.find(ino);
  if (it == inodes_.end() || ino == kRootInode) return;
  it->second.lookups -= std::min(count, it->second.lookups);
  if (it->second.lookups == 0) {
    dropped = std::move(it->second.inode);
    inodes_.erase(it);
  }
}

size_t InodeTable::size() const {
  MutexLock lock(&mu_);
  return inodes_.size();
}

}  // namespace lcfs::fs
