#include "inode_table.h"

namespace lcfs::fs {

InodeTable::InodeTable(const Hash& root_hash, uint64_t root_size) {
  auto root = std::make_shared<Inode>();
  root->ino = kRootInode;
  root->parent = kRootInode;
  root->entry.type = index::EntryType::kDirectory;
  root->entry.mode = 0755;
  root->entry.hash = root_hash;
  root->entry.size = root_size;
  inodes_.emplace(kRootInode, std::move(root));
}

std::shared_ptr<Inode> InodeTable::Get(InodeNumber ino) const {
  MutexLock lock(&mu_);
  auto it = inodes_.find(ino);
  return it == inodes_.end() ? nullptr : it->second;
}

std::shared_ptr<Inode> InodeTable::Child(Inode& parent, size_t index) {
  MutexLock parent_lock(&parent.mu);
  InodeNumber& slot = parent.children.at(index);
  MutexLock lock(&mu_);
  if (slot != 0) return inodes_.at(slot);
  auto child = std::make_shared<Inode>();
  child->ino = next_++;
  child->parent = parent.ino;
  child->entry = parent.dir->entries[index];
  child->chunk_size = parent.dir->chunk_size;
  slot = child->ino;
  inodes_.emplace(child->ino, child);
  return child;
}

void InodeTable::SetDirectory(Inode& dir, std::shared_ptr<const index::Directory> decoded) {
  MutexLock lock(&dir.mu);
  if (dir.dir) return;
  dir.children.assign(decoded->entries.size(), 0);
  dir.dir = std::move(decoded);
}

size_t InodeTable::size() const {
  MutexLock lock(&mu_);
  return inodes_.size();
}

}  // namespace lcfs::fs
