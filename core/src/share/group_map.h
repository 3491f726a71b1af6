// GroupMap: multicast group -> published object, for one published index.
//
// An MLD join names only a group address, GroupAddress(hash), which is a hash
// of the object's hash and cannot be inverted. The map therefore holds every
// object hash of the index sorted by its group address, and a lookup binary
// searches the first 64 bits of each group, kept beside it, and computes the
// full group of the matching entry only (one SHA-256 of 45 bytes per hit, no
// hashing at all for groups that name nothing: a flood of reports for random
// groups costs a binary search each). Memory: 44 bytes per object (the hash,
// the 64-bit key and its place in the walk); building it needs about 84 bytes per object for the
// walk and the sort, released at the end.
//
// Objects are found by walking the index from its root: directory objects,
// then each file's Merkle tree nodes and chunks (the mdex has no iteration,
// and the walk also proves the published tree is complete).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/index/indexer.h"
#include "lcfs/index/mdex.h"
#include "lcfs/net/address.h"
#include "lcfs/net/group.h"
#include "lcfs/status.h"

namespace lcfs::share {

class GroupMap {
 public:
  GroupMap() = default;

  // Every object reachable from `root` (a directory object, or a file hash
  // when `root_is_directory` is false, of `root_size` bytes) in `mdex`.
  // Objects the mdex lacks are skipped and counted in missing(); a directory
  // or tree node that does not decode is an error (EINVAL).
  static Result<GroupMap> Build(const index::Mdex& mdex, const Hash& root, bool root_is_directory,
                                uint64_t root_size, uint32_t chunk_size,
                                const net::GroupScheme& scheme);
  static Result<GroupMap> Build(const index::IndexResult& index, const net::GroupScheme& scheme) {
    return Build(*index.mdex, index.root, index.root_is_directory, index.root_size,
                 index.chunk_size, scheme);
  }
  // From a list of hashes in walk order (duplicates are removed, keeping
  // the first place).
  static GroupMap FromHashes(const std::vector<Hash>& hashes, const net::GroupScheme& scheme);

  struct Entry {
    Hash hash;
    // Its place in the walk from the root: a file's chunks in file order.
    // The share engine sends a host's groups asked for in one report in
    // this order.
    uint32_t walk = 0;
  };
  // The object sent on `group`, if any. With several (a 112-bit collision,
  // never seen in practice) the first in hash order.
  std::optional<Entry> Lookup(const net::Ipv6Address& group) const;
  std::optional<Hash> Find(const net::Ipv6Address& group) const {
    auto e = Lookup(group);
    if (!e) return std::nullopt;
    return e->hash;
  }
  // False if `group` certainly names no object of the map (no hashing);
  // true if it may (its first 64 bits match one).
  bool MayContain(const net::Ipv6Address& group) const;

  size_t size() const { return hashes_.size(); }
  uint64_t missing() const { return missing_; }
  size_t MemoryUsage() const {
    return hashes_.capacity() * sizeof(Hash) + keys_.capacity() * sizeof(uint64_t) +
           walk_.capacity() * sizeof(uint32_t);
  }
  const std::vector<Hash>& hashes() const { return hashes_; }  // in group order

 private:
  net::GroupScheme scheme_;
  static uint64_t KeyOf(const net::Ipv6Address& group);

  std::vector<Hash> hashes_;    // sorted by GroupAddress(hash, scheme_)
  std::vector<uint64_t> keys_;  // KeyOf(GroupAddress(hashes_[i])), in the same order
  std::vector<uint32_t> walk_;  // Entry::walk of hashes_[i]
  uint64_t missing_ = 0;
};

}  // namespace lcfs::share
