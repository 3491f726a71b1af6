#include "share/group_map.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>
#include <utility>

#include "lcfs/index/directory.h"
#include "lcfs/index/file_tree.h"

namespace lcfs::share {
namespace {

// Collects the hashes of every object reachable from a root.
class IndexWalker {
 public:
  IndexWalker(const index::Mdex& mdex, uint32_t chunk_size)
      : mdex_(mdex), chunk_size_(chunk_size) {}

  Status WalkDirectory(const Hash& root) {
    std::vector<Hash> pending{root};
    while (!pending.empty()) {
      const Hash dir_hash = pending.back();
      pending.pop_back();
      // A directory named from many paths is walked once: the map keeps each
      // object at its first place anyway, and a tree whose paths multiply
      // one directory (a "path bomb") must cost what it holds, not what it names.
      if (!walked_.insert(dir_hash).second) continue;
      auto bytes = OwnedBytes(dir_hash, ObjectKind::kDirectory);
      if (!bytes) continue;
      auto dir = index::DecodeDirectory(*bytes);
      if (!dir.ok()) return dir.status().WithContext("directory " + dir_hash.ToHex());
      for (const index::DirEntry& e : dir->entries) {
        if (e.type == index::EntryType::kDirectory) {
          pending.push_back(e.hash);
        } else if (e.type == index::EntryType::kFile && !e.is_inline && e.size > 0) {
          LCFS_RETURN_IF_ERROR(WalkFile(e.hash, e.size));
        }
      }
    }
    return Status::Ok();
  }

  Status WalkFile(const Hash& file_hash, uint64_t size) {
    if (!walked_.insert(file_hash).second) return Status::Ok();  // the same content elsewhere
    auto shape = index::FileShape::Make(size, chunk_size_);
    if (!shape.ok()) return shape.status().WithContext("file " + file_hash.ToHex());
    if (shape->depth() == 0) {
      AddIfPresent(file_hash);
      return Status::Ok();
    }
    struct Node {
      Hash hash;
      int level;
      uint64_t index;
    };
    std::vector<Node> pending{{file_hash, shape->depth(), 0}};
    while (!pending.empty()) {
      const Node node = pending.back();
      pending.pop_back();
      auto bytes = OwnedBytes(node.hash, ObjectKind::kTreeNode);
      if (!bytes) continue;
      auto children = index::DecodeTreeNode(*bytes, shape->ChildCount(node.level, node.index));
      if (!children.ok()) return children.status().WithContext("tree node " + node.hash.ToHex());
      if (node.level == 1) {
        for (const Hash& chunk : *children) AddIfPresent(chunk);
        continue;
      }
      // Pushed last to first, so they are walked first to last: chunks
      // come out in file order (GroupMap::Entry::walk).
      for (size_t i = children->size(); i-- > 0;)
        pending.push_back({(*children)[i], node.level - 1, node.index * shape->fanout() + i});
    }
    return Status::Ok();
  }

  std::vector<Hash> TakeHashes() { return std::move(hashes_); }
  uint64_t missing() const { return missing_; }

 private:
  // The in-memory bytes of a tree node or directory (added to the set), or
  // nullopt if the mdex lacks it.
  std::optional<std::span<const uint8_t>> OwnedBytes(const Hash& hash, ObjectKind kind) {
    auto loc = mdex_.Get(hash);
    if (!loc || loc->kind != kind || !loc->in_memory) {
      ++missing_;
      return std::nullopt;
    }
    hashes_.push_back(hash);
    return loc->bytes;
  }
  void AddIfPresent(const Hash& hash) {
    if (mdex_.Contains(hash)) {
      hashes_.push_back(hash);
    } else {
      ++missing_;
    }
  }

  const index::Mdex& mdex_;
  uint32_t chunk_size_;
  std::vector<Hash> hashes_;
  std::unordered_set<Hash> walked_;  // directories and files
  uint64_t missing_ = 0;
};

// Group order: compare the group addresses (the fixed scheme prefix aside,
// the 14 bytes derived from the hash).
bool GroupLess(const net::Ipv6Address& a, const net::Ipv6Address& b) { return a.bytes < b.bytes; }

}  // namespace

GroupMap GroupMap::FromHashes(const std::vector<Hash>& hashes, const net::GroupScheme& scheme) {
  // Each object once, at its first place in the walk.
  std::vector<uint32_t> first(hashes.size());
  for (size_t i = 0; i < hashes.size(); ++i) first[i] = static_cast<uint32_t>(i);
  std::stable_sort(first.begin(), first.end(),
                   [&](uint32_t a, uint32_t b) { return hashes[a] < hashes[b]; });
  first.erase(std::unique(first.begin(), first.end(),
                          [&](uint32_t a, uint32_t b) { return hashes[a] == hashes[b]; }),
              first.end());
  std::vector<std::pair<net::Ipv6Address, uint32_t>> order;
  order.reserve(first.size());
  for (uint32_t i : first) order.emplace_back(net::GroupAddress(hashes[i], scheme), i);
  // Hash order breaks ties, so colliding groups keep a stable order.
  std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return GroupLess(a.first, b.first);
    return hashes[a.second] < hashes[b.second];
  });
  GroupMap map;
  map.scheme_ = scheme;
  map.hashes_.reserve(order.size());
  map.keys_.reserve(order.size());
  map.walk_.reserve(order.size());
  for (const auto& [group, index] : order) {
    map.hashes_.push_back(hashes[index]);
    map.keys_.push_back(KeyOf(group));
    map.walk_.push_back(index);
  }
  return map;
}

uint64_t GroupMap::KeyOf(const net::Ipv6Address& group) {
  // Bytes 2..9: the first 64 hash-derived bits, big-endian so that key
  // order is group order.
  uint64_t k = 0;
  for (int i = 2; i < 10; ++i) k = k << 8 | group.bytes[i];
  return k;
}

bool GroupMap::MayContain(const net::Ipv6Address& group) const {
  if (!net::HasGroupPrefix(group, scheme_)) return false;
  return std::binary_search(keys_.begin(), keys_.end(), KeyOf(group));
}

Result<GroupMap> GroupMap::Build(const index::Mdex& mdex, const Hash& root, bool root_is_directory,
                                 uint64_t root_size, uint32_t chunk_size,
                                 const net::GroupScheme& scheme) {
  IndexWalker walker(mdex, chunk_size);
  if (root_is_directory) {
    LCFS_RETURN_IF_ERROR(walker.WalkDirectory(root));
  } else if (root_size > 0) {
    LCFS_RETURN_IF_ERROR(walker.WalkFile(root, root_size));
  }
  const uint64_t missing = walker.missing();
  GroupMap map = FromHashes(walker.TakeHashes(), scheme);
  map.missing_ = missing;
  return map;
}

std::optional<GroupMap::Entry> GroupMap::Lookup(const net::Ipv6Address& group) const {
  if (!net::HasGroupPrefix(group, scheme_)) return std::nullopt;
  // The keys narrow it to the entries sharing the first 64 bits (almost
  // always one); only those get their group computed.
  const uint64_t key = KeyOf(group);
  auto it = std::lower_bound(keys_.begin(), keys_.end(), key);
  for (; it != keys_.end() && *it == key; ++it) {
    const size_t i = static_cast<size_t>(it - keys_.begin());
    if (net::GroupAddress(hashes_[i], scheme_) == group) return Entry{hashes_[i], walk_[i]};
  }
  return std::nullopt;
}

}  // namespace lcfs::share
