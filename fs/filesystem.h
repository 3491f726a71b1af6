// Filesystem: the read-only lcfs tree behind libfuse's low-level API.
//
// A request waits only for what it needs: a directory object on the first
// lookup or readdir inside it, a file's tree nodes and chunks on read. All
// fetches go through the ObjectFetcher (chunk cache first, then the source),
// blocking ones at kBlocking. Content is immutable, so attributes and entries
// are cached by the kernel for a long time, page-cache contents and directory
// listings are kept across opens, and inode numbers never change for the
// life of the mount.
//
// Prefetch (FilesystemOptions::prefetch, mount option prefetch=) guesses what
// is asked next, in the background and bounded by the fetcher's queues:
//   meta: decoding a directory object (first lookup/readdir in it, and the
//         root at mount) queues kMetadata fetches of its subdirectories'
//         objects and of its large files' root tree nodes; each directory
//         object so fetched is decoded (and kept in the DirectoryCache for
//         the listing that follows) and does the same, so after mounting
//         the tree follows breadth-first. Directory objects already cached
//         are not fetched but decoded ahead, on the DirectoryWarmer's thread
//         (directory_warmer.h), into the DirectoryCache's first half; one
//         decoded already is not expanded again, so a tree that names one
//         directory many times costs one fetch and one decode.
//   all:  meta, plus opening a file queues kPrefetch fetches of the small
//         (one-chunk) files after it in its directory, up to
//         `prefetch_files` files and `prefetch_bytes` bytes.
// Sequential read-ahead (meta and all) is as before; none fetches only what
// requests need.
//
// Reads map offsets to chunks and reply straight from the cached chunk files
// (libfuse splices them into /dev/fuse where it can). A reader moving forward
// through a file grows a per-open prefetch window, doubling each time it
// enters a new chunk, so a sequential cold read keeps several chunk fetches
// in flight while a random or short read fetches only what it touches.
//
// Thread safety: libfuse calls the operations from its pool of request
// threads, any number at once, and the fetcher's pipeline thread runs the
// prefetch continuations (ExpandDirectory, PrefetchChunks); every member is
// safe for that. LoadRoot runs once,
// before the mount serves requests.
//
// Lock order (a thread holding one may take only those listed after it):
//   1. OpenFile::mu          (per open file: sequential detector, recent chunks)
//   2. Inode::mu             (per directory: its block of child numbers)
//   3. InodeTable::mu_
// and the leaves, never held while taking another lock or while fetching:
// OpenHandles::mu_ (open files, open directories), version_mu_, DirectoryCache::mu_,
// ChunkLocator::mu_, the ObjectFetcher's mutexes, ChunkCache::mu_. In practice no path holds two
// locks but InodeTable::ChildNumber (2 then 3).
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "chunk_locator.h"
#include "directory_warmer.h"
#include "inode_table.h"
#include "lcfs/hash.h"
#include "lcfs/index/directory.h"
#include "lcfs/mutex.h"
#include "lcfs/status.h"
#include "lcfs/sync/directory_cache.h"
#include "mount_options.h"
#include "object_fetcher.h"
#include "open_handles.h"

struct fuse_lowlevel_ops;
struct fuse_session;

namespace lcfs::fs {

// Largest read request: eight pages under 1 MiB, so that libfuse can splice
// a whole read reply from the chunk files instead of copying it twice
// through a freshly allocated buffer. libfuse sizes its pipe as the reply
// plus one page per piece (header, each chunk, one more) and falls back to
// copying, for good (libfuse 3.14 never retries growing the pipe), when
// that exceeds the maximum pipe size (fs.pipe-max-size, 1 MiB; only
// CAP_SYS_RESOURCE may go beyond). One page under 1 MiB did exceed it:
// every large read was copied. Eight pages leave room for a reply spanning
// up to five chunks, i.e. any chunk size of 256 KiB or more.
inline constexpr unsigned kMaxReadBytes = (1u << 20) - 8 * 4096;

struct FilesystemOptions {
  // Memory for decoded directory objects (DirectoryCache), in bytes.
  size_t directory_cache_bytes = 64u << 20;
  // Seconds the kernel may cache attributes and entries (content is immutable).
  double attr_timeout = 86400;
  double entry_timeout = 86400;
  // Largest prefetch window, in chunks.
  uint32_t max_prefetch_chunks = 32;
  PrefetchMode prefetch = PrefetchMode::kAll;
  // Small-file prefetch on open (prefetch=all): at most this many files,
  // and bytes, of the opened file's directory.
  uint32_t prefetch_files = 64;
  uint64_t prefetch_bytes = 8u << 20;
};

class Filesystem {
 public:
  Filesystem(const Hash& root, ObjectFetcher& fetcher, FilesystemOptions options = {});
  // Stops the fetcher's pipeline (its continuations refer to this object).
  ~Filesystem();
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // Fetches and decodes the root directory object. A mount completes only
  // once this succeeded; the error says why it could not (e.g. timeout).
  Status LoadRoot();

  // The libfuse operation table; the session's userdata must be this object.
  static const fuse_lowlevel_ops& Operations();

  // The root directory object served now (it changes only by SwitchRoot).
  Hash root() const { return inodes_.Get(kRootInode)->entry.hash; }

  // Channel mounts: serve the tree of the root directory object `root`
  // from now on. The object is fetched and verified first; on error nothing
  // changes. New lookups see the new tree; what is already open (files,
  // directory handles, inodes the kernel holds) keeps the old one to the
  // end, since every object is immutable; a listing that began before the
  // switch finishes in the old version. The kernel's cached entries under
  // the root and its cached listing are invalidated through `session`
  // (null: no kernel to tell, as in tests that call the operations
  // directly). Called from one thread at a time (the channel follower),
  // never from a FUSE request thread: the kernel waits for
  // invalidations to be answered.
  Status SwitchRoot(const Hash& root, fuse_session* session) EXCLUDES(version_mu_);
  // What user.lcfs.channel and user.lcfs.revision report on the root (an
  // empty channel: not a channel mount, no such attributes). Call before
  // mounting a channel: a channel mount's root listing is never kept in the
  // kernel's cache.
  void SetVersion(const std::string& channel, std::optional<uint64_t> revision)
      EXCLUDES(version_mu_);
  ObjectFetcher& fetcher() { return fetcher_; }
  // Bytes of the file's content present in the chunk cache. The work is
  // bounded by what is cached (ChunkLocator::CachedBytes), never by the
  // size the publisher claims.
  uint64_t CachedBytes(const Inode& file);
  // Inodes the kernel holds now.
  size_t inode_count() const { return inodes_.size(); }
  sync::DirectoryCacheStats directory_stats() const { return directories_.stats(); }

  // Runs `hook` once, at the first request after the kernel accepted the
  // session's INIT reply (when per-mount kernel settings can be tuned).
  void SetAfterInitHook(std::function<void()> hook) { after_init_ = std::move(hook); }

  // Implementation of the FUSE operations (public for the C trampolines).
  struct Ops;

 private:
  friend struct Ops;
  struct OpenFile;
  // An open directory: the inode it was opened on, so that a listing of the
  // root that began before SwitchRoot finishes in the version it began in.
  struct OpenDirectory {
    std::shared_ptr<Inode> inode;
  };

  // The decoded directory object of `dir`, from the DirectoryCache or
  // fetched and decoded (which starts metadata prefetch below it).
  Result<std::shared_ptr<const index::Directory>> LoadDirectory(
      const Inode& dir, const std::atomic<bool>* cancel = nullptr);
  // Queues kMetadata fetches of the subdirectory objects and large files'
  // root tree nodes of `dir`; each directory object fetched is expanded in
  // turn. `urgent`: ahead of the breadth-first crawl (a lookup or readdir).
  void PrefetchBelow(const index::Directory& dir, bool urgent);
  // Pipeline thread (a directory object just fetched) or warmer thread:
  // decodes the cached directory object, keeps it in the DirectoryCache
  // and prefetches below it.
  void ExpandDirectory(const ObjectId& id);
  // Warmer thread: the same for a directory object found in the chunk
  // cache, unless it is decoded already or the DirectoryCache is half full.
  void WarmDirectory(const ObjectId& id);
  // Queues kPrefetch fetches of chunks [begin, end) of a file, fetching a
  // missing tree node first (kMetadata) and continuing once it is stored.
  void PrefetchChunks(const Hash& file, const index::FileShape& shape, uint64_t begin,
                      uint64_t end);
  // prefetch=all: the small files after `file` in its directory.
  void PrefetchSiblings(const Inode& file);
  void FillAttr(InodeNumber ino, const index::DirEntry& e, uint32_t chunk_size,
                struct stat* st) const;
  void FillAttr(const Inode& inode, struct stat* st) const {
    FillAttr(inode.ino, inode.entry, inode.chunk_size, st);
  }
  void SchedulePrefetch(OpenFile& file, uint64_t offset, uint64_t size);
  // The chunks covering [offset, offset + size), pinned, fetched if needed.
  Result<std::vector<ObjectRef>> GetChunks(OpenFile& file, uint64_t offset, uint64_t size,
                                           const std::atomic<bool>* cancel);
  // Replies to a read with the bytes of `chunks` (spliced from their files).
  void ReplyChunks(OpenFile& file, uint64_t offset, uint64_t size,
                   const std::vector<ObjectRef>& chunks, void* req);
  void AfterInit() {
    if (after_init_) std::call_once(after_init_once_, after_init_);
  }

  ObjectFetcher& fetcher_;
  const FilesystemOptions options_;
  InodeTable inodes_;
  sync::DirectoryCache directories_;
  ChunkLocator locator_;
  uid_t uid_;
  gid_t gid_;
  // Open files, owned here so that those the kernel never releases (the
  // connection aborted) are freed with the filesystem.
  OpenHandles<OpenFile> open_files_;
  OpenHandles<OpenDirectory> open_dirs_;
  Mutex version_mu_;
  std::string channel_ GUARDED_BY(version_mu_);
  std::optional<uint64_t> revision_ GUARDED_BY(version_mu_);
  std::atomic<bool> channel_mount_{false};  // SetVersion with a channel: the root may change
  // The kernel sends no OPENDIR/RELEASEDIR (set at INIT, not for a channel
  // mount): directory requests carry fh 0 and name their inode.
  std::atomic<bool> no_opendir_{false};
  std::function<void()> after_init_;
  std::once_flag after_init_once_;
  // Set unless prefetch=none; stopped first by the destructor (its thread
  // uses the members above).
  std::unique_ptr<DirectoryWarmer> warmer_;
};

}  // namespace lcfs::fs
