// Filesystem: the read-only lcfs tree behind libfuse's low-level API.
//
// Everything is lazy: a directory object is fetched on the first lookup or
// readdir inside it, a file's tree nodes and chunks on read. All fetches go
// through the ObjectFetcher (chunk cache first, then the source). Content is
// immutable, so attributes and entries are cached by the kernel for a long
// time, page-cache contents are kept across opens, and inode numbers never
// change for the life of the mount.
//
// Reads map offsets to chunks and reply straight from the cached chunk files
// (libfuse splices them into /dev/fuse where it can). A reader moving forward
// through a file grows a per-open prefetch window, doubling each time it
// enters a new chunk, so a sequential cold read keeps several chunk fetches
// in flight while a random or short read fetches only what it touches.
//
// Thread safety: libfuse calls the operations from its pool of request
// threads, any number at once, and the fetcher's prefetch workers call back
// into the ChunkLocator; every member is safe for that. LoadRoot runs once,
// before the mount serves requests.
//
// Lock order (a thread holding one may take only those listed after it):
//   1. OpenFile::mu          (per open file: sequential detector, recent chunks)
//   2. Inode::mu             (per directory: its block of child numbers)
//   3. InodeTable::mu_
// and the leaves, never held while taking another lock or while fetching:
// open_files_mu_, DirectoryCache::mu_, ChunkLocator::mu_, the
// ObjectFetcher's mutexes, ChunkCache::mu_. In practice no path holds two
// locks but InodeTable::ChildNumber (2 then 3).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "chunk_locator.h"
#include "directory_cache.h"
#include "inode_table.h"
#include "lcfs/hash.h"
#include "lcfs/index/directory.h"
#include "lcfs/mutex.h"
#include "lcfs/status.h"
#include "object_fetcher.h"

struct fuse_lowlevel_ops;

namespace lcfs::fs {

// Largest read request: one page under 1 MiB, so that a whole read reply
// (plus its header) fits the default maximum pipe size (fs.pipe-max-size,
// 1 MiB) and libfuse can splice it from the chunk file instead of copying
// it twice through a freshly allocated buffer.
inline constexpr unsigned kMaxReadBytes = (1u << 20) - 4096;

struct FilesystemOptions {
  // Memory for decoded directory objects (DirectoryCache), in bytes.
  size_t directory_cache_bytes = 64u << 20;
  // Seconds the kernel may cache attributes and entries (content is immutable).
  double attr_timeout = 86400;
  double entry_timeout = 86400;
  // Largest prefetch window, in chunks.
  uint32_t max_prefetch_chunks = 32;
};

class Filesystem {
 public:
  Filesystem(const Hash& root, ObjectFetcher& fetcher, FilesystemOptions options = {});
  // Stops the fetcher's prefetch workers (their tasks refer to this object).
  ~Filesystem();
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // Fetches and decodes the root directory object. A mount completes only
  // once this succeeded; the error says why it could not (e.g. timeout).
  Status LoadRoot();

  // The libfuse operation table; the session's userdata must be this object.
  static const fuse_lowlevel_ops& Operations();

  const Hash& root() const { return root_; }
  ObjectFetcher& fetcher() { return fetcher_; }
  // Bytes of the file's content present in the chunk cache. The work is
  // bounded by what is cached (ChunkLocator::CachedBytes), never by the
  // size the publisher claims.
  uint64_t CachedBytes(const Inode& file);
  // Inodes the kernel holds now.
  size_t inode_count() const { return inodes_.size(); }
  DirectoryCacheStats directory_stats() const { return directories_.stats(); }

  // Runs `hook` once, at the first request after the kernel accepted the
  // session's INIT reply (when per-mount kernel settings can be tuned).
  void SetAfterInitHook(std::function<void()> hook) { after_init_ = std::move(hook); }

  // Implementation of the FUSE operations (public for the C trampolines).
  struct Ops;

 private:
  friend struct Ops;
  struct OpenFile;

  // The decoded directory object of `dir`, from the DirectoryCache or
  // fetched and decoded.
  Result<std::shared_ptr<const index::Directory>> LoadDirectory(const Inode& dir);
  void FillAttr(InodeNumber ino, const index::DirEntry& e, uint32_t chunk_size,
                struct stat* st) const;
  void FillAttr(const Inode& inode, struct stat* st) const {
    FillAttr(inode.ino, inode.entry, inode.chunk_size, st);
  }
  void SchedulePrefetch(OpenFile& file, uint64_t offset, uint64_t size);
  Status ReadChunks(OpenFile& file, uint64_t offset, uint64_t size, void* req);
  void AfterInit() {
    if (after_init_) std::call_once(after_init_once_, after_init_);
  }

  const Hash root_;
  ObjectFetcher& fetcher_;
  const FilesystemOptions options_;
  InodeTable inodes_;
  DirectoryCache directories_;
  ChunkLocator locator_;
  uid_t uid_;
  gid_t gid_;
  // Open files, owned here so that those the kernel never releases (the
  // connection aborted) are freed with the filesystem.
  Mutex open_files_mu_;
  std::unordered_map<const OpenFile*, std::unique_ptr<OpenFile>> open_files_
      GUARDED_BY(open_files_mu_);
  std::function<void()> after_init_;
  std::once_flag after_init_once_;
};

}  // namespace lcfs::fs
