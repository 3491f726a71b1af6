// The mdex: hash -> where the object's bytes live.
//
// Chunks of exported files are not copied: their entry says which file and
// which byte range (AddFile + Add). Tree nodes and directory objects, which
// exist only in memory, are owned by the mdex (Put). Alias gives an existing
// object a second name. Lookup is by full hash (Get) or by a truncated prefix
// (FindByPrefix), since a multicast group address carries only part of a hash.
//
// Layout: an open-addressing table (linear probing, load <= 3/4) of 48-byte
// slots, indexed by the top bits of the hash, so all hashes sharing a prefix
// sit in one contiguous run and a prefix lookup is a short scan. Memory: 48
// bytes / load factor = 64..128 bytes per entry (96 on average), plus one
// path string per exported file and the bytes of owned objects.
//
// Thread safety: const methods may run concurrently with each other (the
// share engine reads while serving); mutation needs exclusive access.
// Re-indexing builds a new Mdex and swaps a shared_ptr.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/object.h"
#include "lcfs/status.h"

namespace lcfs::index {

class Mdex {
 public:
  using FileId = uint32_t;

  // Where an object's bytes are.
  struct Location {
    ObjectKind kind = ObjectKind::kChunk;
    bool in_memory = false;
    // !in_memory: a byte range of a registered file.
    FileId file = 0;
    uint64_t offset = 0;
    uint32_t length = 0;
    // in_memory: the owned bytes; valid while the mdex lives and the entry
    // (and its aliases) are not deleted.
    std::span<const uint8_t> bytes;
  };

  Mdex();
  ~Mdex();
  Mdex(Mdex&&) noexcept;
  Mdex& operator=(Mdex&&) noexcept;

  // mdex_addfile: registers an exported file; its id is used by Add.
  FileId AddFile(std::string path);
  const std::string& file_path(FileId file) const { return files_[file]; }
  size_t file_count() const { return files_.size(); }

  // mdex_add: `hash` names `length` bytes at `offset` of `file`. Returns
  // false (and changes nothing) if `hash` is already present: the same hash
  // means the same bytes, wherever they are.
  bool Add(const Hash& hash, ObjectKind kind, FileId file, uint64_t offset, uint32_t length);
  // mdex_put: `hash` names `bytes`, owned by the mdex. False if present.
  bool Put(const Hash& hash, ObjectKind kind, std::vector<uint8_t> bytes);
  // mdex_alias: `alias` names the same bytes as `target`. ENOENT if `target`
  // is absent, EEXIST if `alias` is already present.
  Status Alias(const Hash& alias, const Hash& target);
  // mdex_del: removes `hash` (other aliases of the bytes stay). False if absent.
  bool Del(const Hash& hash);

  // mdex_get.
  std::optional<Location> Get(const Hash& hash) const;
  bool Contains(const Hash& hash) const { return Get(hash).has_value(); }

  // Hashes whose first `prefix_bits` bits equal those of `prefix` (bits past
  // prefix_bits are ignored; prefix_bits <= 8 * prefix.size(), <= 256), at
  // most `max_results` of them, in no particular order.
  std::vector<Hash> FindByPrefix(std::span<const uint8_t> prefix, size_t prefix_bits,
                                 size_t max_results = 64) const;
  std::vector<Hash> FindByPrefix(std::span<const uint8_t> prefix, size_t max_results = 64) const {
    return FindByPrefix(prefix, prefix.size() * 8, max_results);
  }

  // The object's bytes: copied for in-memory objects, read from the file
  // (O_NOFOLLOW) for file ranges. Verified against `hash`: EIO if a file
  // changed since it was indexed, ENOENT if `hash` is absent.
  Result<std::vector<uint8_t>> Read(const Hash& hash) const;
  // Read into `out`, which must be exactly the object's length (Get): for
  // callers that read many objects (the exporter, one per activation) and
  // need not pay for zero-filling a fresh buffer. EINVAL on another length.
  Status ReadInto(const Hash& hash, std::span<uint8_t> out) const;

  // Sizes the table for `entries` entries at once (no rehashing while adding).
  void Reserve(size_t entries);

  size_t size() const { return count_; }
  // Bytes of memory held: table, paths and owned objects.
  size_t MemoryUsage() const;

 private:
  struct Slot;
  struct Blob;
  size_t HomeSlot(const Hash& hash) const;
  std::optional<size_t> FindSlot(const Hash& hash) const;
  bool Insert(const Slot& slot);
  void Rehash(int bits);
  void ReleaseBlob(uint32_t blob);

  std::vector<Slot> slots_;  // capacity is a power of two (or 0)
  int slot_bits_ = 0;
  size_t count_ = 0;
  std::vector<std::string> files_;
  std::vector<Blob> blobs_;
  std::vector<uint32_t> free_blobs_;
};

// An ObjectSource over an mdex (a local export without the network): the FUSE
// frontend and the sync engine can be tested against it.
class MdexObjectSource : public ObjectSource {
 public:
  explicit MdexObjectSource(std::shared_ptr<const Mdex> mdex) : mdex_(std::move(mdex)) {}
  // ENOENT if unknown or of another kind, EIO if the bytes no longer verify
  // or have another length than the request expects.
  Result<std::vector<uint8_t>> Fetch(const FetchRequest& request) override;
  // Number of successful fetches so far (tests assert what was fetched).
  uint64_t fetch_count() const { return fetches_.load(); }

 private:
  std::shared_ptr<const Mdex> mdex_;
  std::atomic<uint64_t> fetches_{0};
};

}  // namespace lcfs::index
