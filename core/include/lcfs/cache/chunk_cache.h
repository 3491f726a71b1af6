// ChunkCache: the on-disk, content-addressed object cache (the mount, lcfs-cache
// and a caching relay share its format and may share its directory).
//
// Every object lcfs fetches (chunks, tree nodes, directories) can be kept
// here, named by its object hash, so reads of cached content never touch the
// network and a mount keeps working once its exporter is gone. The cache is a
// plain directory shared by every mount on the machine:
//
//     DIR/v1/objects/ab/<64 hex>.<kind>   one file per object (kind: decimal tag)
//     DIR/v1/tmp/<pid>.<n>                objects being written
//
// The cache is private to the user who opens it: directories are 0700 and
// objects 0600, since it holds the bytes of every file read whatever its
// mode (the mount, not the cache, enforces file modes). Open() tightens an
// existing cache with looser modes and refuses one owned by another user.
//
// Objects enter only after they verify against their hash, and through a
// temporary file renamed into place, so a reader (in this process or another)
// never sees a partial object. Nothing is fsync'ed: an object torn by a crash
// is caught instead by the check every process makes the first time it opens
// an object file (a bad file is removed and counts as a miss), unless the
// file is unchanged since it was verified or written (VerifiedStamps, log in
// DIR/v1/verified): then a new mount over a warm cache does not hash it again.
// A directory or tree node written or hashed within VerifiedStamps' racy
// window (a cold listing writes thousands) cannot be stamped at once: it is
// hashed again once the window has passed, a few at a time at later calls
// (and the rest when the cache is closed), and stamped then, so the next
// mount skips it too. Chunks are not: a chunk is hashed when it is read.
//
// The size limit is enforced by evicting the least recently used objects that
// no reader holds (a CachedObject pins its object). Pins are visible to other
// processes: each pinned object's open file carries a shared flock(2), and
// whoever removes an object (another mount's eviction, `lcfs-cache`) first
// takes a non-blocking exclusive one, so it skips what any mount is using. A write that finds the
// disk full evicts and retries once, then fails with EIO: never a corrupt
// cache. Each process keeps its own view of the directory; an object another
// process evicted is simply a miss.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "lcfs/cache/verified_stamps.h"
#include "lcfs/hash.h"
#include "lcfs/object.h"
#include "lcfs/status.h"
#include "lcfs/unique_fd.h"

namespace lcfs::cache {

class ChunkCache;

// A cached object, pinned against eviction while this handle lives. Reads go
// straight to the object's file (pread, or splice by FUSE).
class CachedObject {
 public:
  CachedObject() = default;
  CachedObject(CachedObject&& o) noexcept;
  CachedObject& operator=(CachedObject&& o) noexcept;
  CachedObject(const CachedObject&) = delete;
  CachedObject& operator=(const CachedObject&) = delete;
  ~CachedObject();

  bool valid() const { return cache_ != nullptr; }
  const Hash& hash() const { return hash_; }
  uint64_t size() const { return size_; }
  int fd() const { return fd_ ? fd_->get() : -1; }
  // Copies bytes [offset, offset + out.size()) of the object into `out`.
  Status ReadAt(uint64_t offset, std::span<uint8_t> out) const;
  // The whole object (for small objects: directories, tree nodes).
  Result<std::vector<uint8_t>> ReadAll() const;

 private:
  friend class ChunkCache;
  CachedObject(ChunkCache* cache, const Hash& hash, uint64_t size, std::shared_ptr<UniqueFd> fd)
      : cache_(cache), hash_(hash), size_(size), fd_(std::move(fd)) {}
  void Release();

  ChunkCache* cache_ = nullptr;
  Hash hash_;
  uint64_t size_ = 0;
  std::shared_ptr<UniqueFd> fd_;
};

struct ChunkCacheStats {
  uint64_t objects = 0;
  uint64_t bytes = 0;
  uint64_t limit = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t inserts = 0;
  uint64_t evictions = 0;
  uint64_t rejected = 0;   // objects that failed verification (on insert or first open)
  uint64_t tightened = 0;  // paths whose group/other bits Open() removed
  uint64_t unchanged = 0;  // first opens not re-hashed: unchanged since verified
  uint64_t settled = 0;    // stamps recorded by a second hash after the racy window
};

class ChunkCache {
 public:
  // Opens (creating if needed) the cache in `dir`, indexing what a previous
  // run left there. `size_limit` is in bytes; 0 means unlimited.
  static Result<std::unique_ptr<ChunkCache>> Open(const std::string& dir, uint64_t size_limit,
                                                  StampOptions stamps = {});
  // Use Open(); the constructor only records its arguments.
  ChunkCache(std::string dir, uint64_t size_limit);
  // Stamps the unsettled objects whose racy window has passed.
  ~ChunkCache();
  ChunkCache(const ChunkCache&) = delete;
  ChunkCache& operator=(const ChunkCache&) = delete;

  // The object if cached (and verified), pinned; nullopt on a miss.
  std::optional<CachedObject> Lookup(const Hash& hash, ObjectKind kind);
  // Whether the object is cached, without pinning or verifying it.
  bool Contains(const Hash& hash) const;
  // Verifies `bytes` against `hash` under `kind`, stores them and returns the
  // pinned object. EIO when verification fails or the disk stays full.
  Result<CachedObject> Insert(const Hash& hash, ObjectKind kind, std::span<const uint8_t> bytes);
  // Insert without the hash: only for bytes the caller has itself verified
  // against `hash` under `kind` (an ObjectSource's answer, whose contract is
  // exactly that), so that an object is hashed once on its way in. Unverified
  // bytes passed here would be served as `hash`, and stamped as verified for
  // every process sharing the cache, until `lcfs-cache check` removes them.
  Result<CachedObject> InsertVerified(const Hash& hash, ObjectKind kind,
                                      std::span<const uint8_t> bytes);

  ChunkCacheStats stats() const;
  const std::string& dir() const { return dir_; }
  // Where the object's file lives (whether or not it exists).
  std::string ObjectPath(const Hash& hash, ObjectKind kind) const;

 private:
  struct Entry {
    ObjectKind kind;
    uint64_t size = 0;
    int pins = 0;
    bool verified = false;  // checked against its hash by this process
    std::list<Hash>::iterator lru;
  };

  Status Scan();
  void Unpin(const Hash& hash);
  // Evicts unpinned objects, least recently used first, until `bytes` more
  // fit under the limit (or until at least `bytes` were freed when
  // `free_at_least`). Returns the number of bytes freed. Caller holds mu_.
  uint64_t EvictLocked(uint64_t bytes, bool free_at_least);
  // Forgets the entry (the caller has dealt with its file).
  void RemoveLocked(std::unordered_map<Hash, Entry>::iterator it);
  Result<UniqueFd> WriteObjectFile(const Hash& hash, ObjectKind kind,
                                   std::span<const uint8_t> bytes);
  // Records that the file `st` describes was verified to be (hash, kind);
  // a metadata object within the racy window is queued for SettleStamps.
  void RecordStamp(const Hash& hash, ObjectKind kind, const struct stat& st);
  // Hashes again up to `max` queued objects whose racy window has passed,
  // and stamps those that still verify. Takes no lock but its own briefly.
  void SettleStamps(size_t max);

  friend class CachedObject;

  const std::string dir_;
  const uint64_t limit_;
  std::unique_ptr<VerifiedStamps> stamps_;  // set by Open()
  // Metadata objects verified inside the racy window, oldest first.
  struct Unsettled {
    Hash hash;
    ObjectKind kind;
    timespec ctime;
  };
  std::mutex unsettled_mu_;  // a leaf: no other lock is taken under it
  std::deque<Unsettled> unsettled_;
  std::atomic<size_t> unsettled_count_{0};  // unsettled_.size(), read without the lock
  mutable std::mutex mu_;
  std::unordered_map<Hash, Entry> entries_;
  std::list<Hash> lru_;  // front: least recently used
  uint64_t bytes_ = 0;
  uint64_t tmp_counter_ = 0;
  mutable ChunkCacheStats stats_;
};

// The on-disk layout and the pin protocol, shared with `lcfs-cache`.
std::string ObjectsDir(const std::string& dir);  // DIR/v1/objects
std::string TmpDir(const std::string& dir);      // DIR/v1/tmp
std::string ObjectFilePath(const std::string& dir, const Hash& hash, ObjectKind kind);
// "<64 hex>.<kind>" -> hash and kind; false for any other name.
bool ParseObjectFileName(const std::string& name, Hash* hash, ObjectKind* kind);
// Whether the `size` bytes of `fd` are the object `hash` of `kind`.
bool VerifyObjectFile(int fd, uint64_t size, const Hash& hash, ObjectKind kind);
// Removes the temporary files in TmpDir(dir) whose writer has died.
void RemoveAbandonedTempFiles(const std::string& dir);
// Pins the open object file `fd` for as long as it stays open (shared flock;
// blocks only while a remover holds its brief exclusive lock).
Status PinObjectFile(int fd);
// Unlinks the object file at `path` unless some process has it pinned.
// True if it is gone (or was already), false if pinned.
Result<bool> RemoveUnlessPinned(const std::string& path);

// The default cache directory: /var/cache/lcfs for root, else
// $XDG_CACHE_HOME/lcfs (or ~/.cache/lcfs).
std::string DefaultCacheDir();

}  // namespace lcfs::cache
