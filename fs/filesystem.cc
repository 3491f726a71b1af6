#include "filesystem.h"

#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <vector>

#include "lcfs/index/chunking.h"
#include "lcfs/index/file_tree.h"

namespace lcfs::fs {
namespace {

constexpr const char* kXattrHash = "user.lcfs.hash";
constexpr const char* kXattrRoot = "user.lcfs.root";
constexpr const char* kXattrCached = "user.lcfs.cached";
constexpr const char* kXattrChannel = "user.lcfs.channel";
constexpr const char* kXattrRevision = "user.lcfs.revision";

Filesystem& Self(fuse_req_t req) { return *static_cast<Filesystem*>(fuse_req_userdata(req)); }

mode_t TypeBits(index::EntryType type) {
  switch (type) {
    case index::EntryType::kDirectory:
      return S_IFDIR;
    case index::EntryType::kSymlink:
      return S_IFLNK;
    case index::EntryType::kFile:
      break;
  }
  return S_IFREG;
}

// Replies with a value the size of `value`, following the xattr protocol:
// size 0 asks for the length, a too-small buffer is ERANGE.
void ReplyXattrValue(fuse_req_t req, const std::string& value, size_t size) {
  if (size == 0) {
    fuse_reply_xattr(req, value.size());
  } else if (size < value.size()) {
    fuse_reply_err(req, ERANGE);
  } else {
    fuse_reply_buf(req, value.data(), value.size());
  }
}

// The errno a FUSE reply carries for `st`: its own code, so a caller sees
// ENOTDIR, ENOENT, ENOMEM, ETIMEDOUT... as such. Codes the kernel would not
// pass on (out of range) become EIO.
int ErrnoOf(const Status& st) {
  const int code = st.code();
  // A fetch abandoned because the kernel interrupted the request: the
  // signalled caller gets EINTR, as for any interrupted system call.
  if (code == ECANCELED) return EINTR;
  return code > 0 && code < 4096 ? code : EIO;
}

// Logs why a request failed and answers it with the status's errno.
void ReplyError(fuse_req_t req, const char* what, const Status& st) {
  fuse_log(FUSE_LOG_ERR, "lcfs: %s: %s\n", what, st.ToString().c_str());
  fuse_reply_err(req, ErrnoOf(st));
}

// Set when the kernel interrupts the request (its caller got a signal), so
// the request's fetches are abandoned instead of waiting out their timeout.
// libfuse runs the callback under the request's lock, and unregistering
// takes that lock too: once the destructor returned the callback cannot run,
// so the object must die before the request is answered (which frees it).
class InterruptFlag {
 public:
  explicit InterruptFlag(fuse_req_t req) : req_(req) { fuse_req_interrupt_func(req, &Set, &flag_); }
  ~InterruptFlag() { fuse_req_interrupt_func(req_, nullptr, nullptr); }
  InterruptFlag(const InterruptFlag&) = delete;
  InterruptFlag& operator=(const InterruptFlag&) = delete;
  const std::atomic<bool>* flag() const { return &flag_; }

 private:
  static void Set(fuse_req_t, void* data) { static_cast<std::atomic<bool>*>(data)->store(true); }
  fuse_req_t req_;
  std::atomic<bool> flag_{false};
};

}  // namespace

// Per-open state of a regular file: its shape and the sequential-read
// detector that drives prefetch.
//
// Several request threads may serve reads of one open file at once: `inode`
// and `shape` are set before the handle is published and then only read;
// the rest is guarded by `mu`.
struct Filesystem::OpenFile {
  std::shared_ptr<Inode> inode;
  index::FileShape shape;
  Mutex mu;
  uint64_t next_offset GUARDED_BY(mu) = 0;     // where a sequential reader reads next
  uint64_t last_chunk GUARDED_BY(mu) = 0;      // chunk the reader was last in
  uint32_t window GUARDED_BY(mu) = 0;          // prefetch window in chunks; 0 = not sequential
  uint64_t prefetched_end GUARDED_BY(mu) = 0;  // chunks below this were already queued
  // The chunks this reader used last, kept open and pinned: consecutive
  // requests mostly hit the same one or two chunks, and this spares them
  // the cache lookup (and its open/close) each time.
  static constexpr size_t kRecentChunks = 4;
  std::array<std::pair<uint64_t, ObjectRef>, kRecentChunks> recent GUARDED_BY(mu);
  size_t recent_next GUARDED_BY(mu) = 0;
};

Filesystem::Filesystem(const Hash& root, ObjectFetcher& fetcher, FilesystemOptions options)
    : fetcher_(fetcher),
      options_(options),
      inodes_(root, 0),
      directories_(options.directory_cache_bytes),
      locator_(fetcher),
      uid_(::getuid()),
      gid_(::getgid()) {
  if (options_.prefetch != PrefetchMode::kNone)
    warmer_ = std::make_unique<DirectoryWarmer>([this](const ObjectId& id) { WarmDirectory(id); });
}

Filesystem::~Filesystem() {
  warmer_.reset();
  fetcher_.Shutdown();
}

Status Filesystem::LoadRoot() {
  auto root = inodes_.Get(kRootInode);
  // Decoding the root starts the breadth-first metadata crawl.
  Result<std::shared_ptr<const index::Directory>> dir = LoadDirectory(*root);
  if (!dir.ok()) return dir.status().WithContext("root directory");
  return Status::Ok();
}

Status Filesystem::SwitchRoot(const Hash& root, fuse_session* session) {
  std::shared_ptr<Inode> old_root = inodes_.Get(kRootInode);
  if (old_root->entry.hash == root) return Status::Ok();
  // Fetch and verify the new root before anything changes (a root's length
  // is not known: 0).
  Inode probe;
  probe.entry = old_root->entry;
  probe.entry.hash = root;
  Result<std::shared_ptr<const index::Directory>> fresh = LoadDirectory(probe);
  if (!fresh.ok()) return fresh.status().WithContext("new root directory " + root.ToHex());
  // The old listing names what the kernel may hold under the root (entries
  // it looked up, pages of its cached listing); decoded again if evicted.
  Result<std::shared_ptr<const index::Directory>> old_dir = LoadDirectory(*old_root);
  inodes_.ReplaceRoot(root, 0);
  if (session == nullptr) return Status::Ok();
  if (old_dir.ok()) {
    for (const index::DirEntry& e : (*old_dir)->entries) {
      // ENOENT: the kernel did not have it; anything else changes nothing.
      (void)fuse_lowlevel_notify_inval_entry(session, kRootInode, e.name.data(), e.name.size());
    }
  }
  // The root's attributes and its cached listing (cache_readdir): length
  // 0 drops every cached page; -1 would keep them.
  (void)fuse_lowlevel_notify_inval_inode(session, kRootInode, 0, 0);
  return Status::Ok();
}

void Filesystem::SetVersion(const std::string& channel, std::optional<uint64_t> revision) {
  MutexLock lock(&version_mu_);
  channel_ = channel;
  revision_ = revision;
  channel_mount_ = !channel.empty();
}

namespace {

// Reads and decodes a cached directory object.
Result<index::Directory> DecodeDirectoryObject(const Hash& hash,
                                               const cache::CachedObject& object) {
  if (object.size() > index::kMaxDirectoryObjectSize)
    return Status::Error(EIO, "directory object " + hash.ToHex() + " too large");
  Result<std::vector<uint8_t>> bytes = object.ReadAll();
  if (!bytes.ok()) return bytes.status();
  Result<index::Directory> decoded = index::DecodeDirectory(*bytes);
  if (!decoded.ok())
    return Status::Error(EIO,
                         "directory object " + hash.ToHex() + ": " + decoded.status().message());
  return decoded;
}

ObjectId DirectoryId(const index::DirEntry& e) {
  // The root's entry is synthetic with size 0: the only object of unknown length.
  return {.hash = e.hash, .kind = ObjectKind::kDirectory, .size = e.size};
}

}  // namespace

Result<std::shared_ptr<const index::Directory>> Filesystem::LoadDirectory(
    const Inode& dir, const std::atomic<bool>* cancel) {
  if (auto hit = directories_.Get(dir.entry.hash)) return hit;
  if (dir.entry.type != index::EntryType::kDirectory)
    return Status::Error(ENOTDIR, "not a directory");
  Result<ObjectRef> object = fetcher_.Get(DirectoryId(dir.entry), cancel);
  if (!object.ok()) return object.status();
  Result<index::Directory> decoded = DecodeDirectoryObject(dir.entry.hash, **object);
  if (!decoded.ok()) return decoded.status();
  auto shared = directories_.Insert(dir.entry.hash, std::move(*decoded));
  PrefetchBelow(*shared, /*urgent=*/true);
  return shared;
}

void Filesystem::PrefetchBelow(const index::Directory& dir, bool urgent) {
  if (options_.prefetch == PrefetchMode::kNone) return;
  // Subdirectories first, in listing order, then the tree nodes: a listing
  // needs the former, only a read the latter. Urgent ones go to the front
  // of the queue one by one, hence in reverse.
  std::vector<ObjectId> ids, cached;
  for (const index::DirEntry& e : dir.entries) {
    if (e.type != index::EntryType::kDirectory) continue;
    // Nothing to fetch: decoded ahead instead, before a listing waits for it.
    (fetcher_.cache().Contains(e.hash) ? cached : ids).push_back(DirectoryId(e));
  }
  if (warmer_ && !cached.empty()) warmer_->Queue(cached, urgent);
  const size_t directories = ids.size();
  for (const index::DirEntry& e : dir.entries) {
    if (e.type != index::EntryType::kFile || e.is_inline) continue;
    auto shape = index::FileShape::Make(e.size, dir.chunk_size);
    if (!shape.ok()) continue;  // refused with EIO when opened
    if (auto node = ChunkLocator::RootNode(e.hash, *shape)) ids.push_back(*node);
  }
  for (size_t n = 0; n < ids.size(); ++n) {
    const size_t i = urgent ? ids.size() - 1 - n : n;
    const ObjectId& id = ids[i];
    std::function<void()> then;
    if (i < directories) then = [this, id] { ExpandDirectory(id); };
    fetcher_.Prefetch(id, FetchPriority::kMetadata, std::move(then), urgent);
  }
}

void Filesystem::ExpandDirectory(const ObjectId& id) {
  ObjectRef object = fetcher_.GetCached(id);
  if (!object) return;  // evicted meanwhile: a lookup will fetch it
  Result<index::Directory> decoded = DecodeDirectoryObject(id.hash, *object);
  // A bad object is refused with EIO (and logged) when a request needs it.
  if (!decoded.ok()) return;
  // Kept decoded: the listing that follows the crawl then costs no read of
  // the object file and no second decode (the cache's byte bound holds).
  PrefetchBelow(*directories_.Insert(id.hash, std::move(*decoded)), /*urgent=*/false);
}

void Filesystem::WarmDirectory(const ObjectId& id) {
  // The first half only: the warmer never evicts what requests decoded.
  if (directories_.stats().bytes > options_.directory_cache_bytes / 2) return;
  if (directories_.Get(id.hash)) return;  // decoded, its children queued then
  ExpandDirectory(id);
}

void Filesystem::PrefetchChunks(const Hash& file, const index::FileShape& shape, uint64_t begin,
                                uint64_t end) {
  for (uint64_t c = begin; c < end; ++c) {
    ObjectId missing;
    Result<Hash> hash = locator_.ChunkHash(file, shape, c, /*fetch=*/false, nullptr, &missing);
    if (hash.ok()) {
      fetcher_.Prefetch({.hash = *hash,
                         .kind = ObjectKind::kChunk,
                         .size = index::ChunkLength(shape.file_size(), shape.chunk_size(), c)},
                        FetchPriority::kPrefetch);
      continue;
    }
    // The tree node on the way is not cached: fetch it, then carry on.
    if (hash.status().code() == ENOENT && missing.size != 0)
      fetcher_.Prefetch(missing, FetchPriority::kMetadata,
                        [this, file, shape, c, end] { PrefetchChunks(file, shape, c, end); });
    return;
  }
}

void Filesystem::PrefetchSiblings(const Inode& file) {
  auto parent = inodes_.Get(file.parent);
  if (!parent) return;
  // Only a listing already decoded: an open never waits for this.
  auto dir = directories_.Get(parent->entry.hash);
  if (!dir) return;
  const auto& entries = (*dir).entries;
  const index::DirEntry* self = dir->Find(file.entry.name);
  if (!self) return;
  uint32_t files = 0;
  uint64_t bytes = 0;
  // Tools read a directory in the order they list it (name order): the files
  // after this one are the likely next.
  for (size_t i = static_cast<size_t>(self - entries.data()) + 1;
       i < entries.size() && files < options_.prefetch_files; ++i) {
    const index::DirEntry& e = entries[i];
    // Small: one chunk, so the file hash is the chunk's hash.
    if (e.type != index::EntryType::kFile || e.is_inline || e.size == 0 || e.size > dir->chunk_size)
      continue;
    if (bytes + e.size > options_.prefetch_bytes) break;
    bytes += e.size;
    files++;
    fetcher_.Prefetch({.hash = e.hash, .kind = ObjectKind::kChunk, .size = e.size},
                      FetchPriority::kPrefetch);
  }
}

void Filesystem::FillAttr(InodeNumber ino, const index::DirEntry& e, uint32_t chunk_size,
                          struct stat* st) const {
  std::memset(st, 0, sizeof *st);
  st->st_ino = ino;
  st->st_mode = TypeBits(e.type) | (e.mode & 07777);
  st->st_nlink = e.type == index::EntryType::kDirectory ? 2 : 1;
  st->st_uid = uid_;
  st->st_gid = gid_;
  st->st_size = static_cast<off_t>(e.size);
  st->st_blocks = static_cast<blkcnt_t>((e.size + 511) / 512);
  // Tools size their reads by st_blksize: one chunk per read suits us best.
  st->st_blksize = chunk_size ? static_cast<blksize_t>(chunk_size) : 65536;
  st->st_mtim.tv_sec = e.mtime_sec;
  st->st_mtim.tv_nsec = e.mtime_nsec;
  st->st_atim = st->st_mtim;
  st->st_ctim = st->st_mtim;
}

uint64_t Filesystem::CachedBytes(const Inode& file) {
  const index::DirEntry& e = file.entry;
  if (e.type != index::EntryType::kFile) return 0;
  if (e.is_inline) return e.size;
  auto shape = index::FileShape::Make(e.size, file.chunk_size);
  if (!shape.ok()) return 0;
  return locator_.CachedBytes(e.hash, *shape);
}

void Filesystem::SchedulePrefetch(OpenFile& file, uint64_t offset, uint64_t size) {
  const uint64_t chunk_size = file.shape.chunk_size();
  const uint64_t first = offset / chunk_size;
  const uint64_t last = (offset + size - 1) / chunk_size;
  uint64_t begin = 0, end = 0;
  {
    MutexLock lock(&file.mu);
    // Requests of one reader are served by several threads, so they may
    // arrive slightly out of order: a read starting within a chunk of the
    // furthest one seen, and not far past where the reader got to, still
    // counts as forward. Progress is measured by where reads start, so a
    // request that merely straddles into the next chunk does not count.
    const bool sequential = offset <= file.next_offset + chunk_size &&
                            first + 1 >= file.last_chunk &&
                            (file.window > 0 || offset == file.next_offset || offset == 0);
    if (!sequential) {
      file.window = 0;
      file.prefetched_end = 0;
      file.last_chunk = first;
      file.next_offset = offset + size;
    } else {
      if (file.window == 0) {
        file.window = 1;
      } else if (first > file.last_chunk) {
        // The reader moved on to a new chunk: widen the window.
        file.window = std::min(file.window * 2, options_.max_prefetch_chunks);
      }
      file.last_chunk = std::max(file.last_chunk, first);
      file.next_offset = std::max(file.next_offset, offset + size);
    }
    if (file.window == 0 || options_.prefetch == PrefetchMode::kNone ||
        options_.max_prefetch_chunks == 0)
      return;
    begin = std::max(last + 1, file.prefetched_end);
    end = std::min(last + 1 + file.window, file.shape.chunk_count());
    if (begin >= end) return;
    file.prefetched_end = end;
  }
  PrefetchChunks(file.inode->entry.hash, file.shape, begin, end);
}

Result<std::vector<ObjectRef>> Filesystem::GetChunks(OpenFile& file, uint64_t offset, uint64_t size,
                                                     const std::atomic<bool>* cancel) {
  const index::DirEntry& e = file.inode->entry;
  const uint64_t chunk_size = file.shape.chunk_size();
  const uint64_t first = offset / chunk_size;
  const uint64_t last = (offset + size - 1) / chunk_size;

  std::vector<ObjectRef> chunks;  // pinned until the reply is sent
  chunks.reserve(static_cast<size_t>(last - first + 1));
  for (uint64_t c = first; c <= last; ++c) {
    // A reader that gave up (a signal) is not kept waiting for more chunks.
    if (cancel->load()) return Status::Error(EINTR, "read interrupted");
    {
      MutexLock lock(&file.mu);
      auto hit = std::find_if(file.recent.begin(), file.recent.end(),
                              [c](const auto& r) { return r.second && r.first == c; });
      if (hit != file.recent.end()) {
        chunks.push_back(hit->second);
        continue;
      }
    }
    Result<Hash> hash = locator_.ChunkHash(e.hash, file.shape, c, /*fetch=*/true, cancel);
    if (!hash.ok()) return hash.status().WithContext("chunk " + std::to_string(c));
    // The length comes from the file's shape: a chunk of another length is
    // refused by the fetcher (and by the network source before decoding).
    Result<ObjectRef> chunk = fetcher_.Get({.hash = *hash,
                                            .kind = ObjectKind::kChunk,
                                            .size = index::ChunkLength(e.size, chunk_size, c)},
                                           cancel);
    if (!chunk.ok()) return chunk.status().WithContext("chunk " + std::to_string(c));
    {
      MutexLock lock(&file.mu);
      file.recent[file.recent_next] = {c, *chunk};
      file.recent_next = (file.recent_next + 1) % OpenFile::kRecentChunks;
    }
    chunks.push_back(std::move(*chunk));
  }
  return chunks;
}

void Filesystem::ReplyChunks(OpenFile& file, uint64_t offset, uint64_t size,
                             const std::vector<ObjectRef>& chunks, void* request) {
  auto req = static_cast<fuse_req_t>(request);
  const uint64_t chunk_size = file.shape.chunk_size();
  const uint64_t first = offset / chunk_size;
  const size_t count = chunks.size();
  // A fuse_bufvec with `count` fd-backed buffers (the struct ends in a
  // one-element array, so it is allocated with room for the rest).
  std::vector<std::max_align_t> storage(
      (sizeof(fuse_bufvec) + count * sizeof(fuse_buf) + sizeof(std::max_align_t) - 1) /
      sizeof(std::max_align_t));
  auto* bufv = reinterpret_cast<fuse_bufvec*>(storage.data());
  bufv->count = count;
  bufv->idx = 0;
  bufv->off = 0;
  uint64_t pos = offset;
  const uint64_t end = offset + size;
  for (size_t i = 0; i < count; ++i) {
    const uint64_t chunk_start = (first + i) * chunk_size;
    const uint64_t in_chunk = pos - chunk_start;
    const uint64_t len = std::min(end, chunk_start + chunks[i]->size()) - pos;
    fuse_buf& b = bufv->buf[i];
    std::memset(&b, 0, sizeof b);
    b.size = len;
    b.flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
    b.fd = chunks[i]->fd();
    b.pos = static_cast<off_t>(in_chunk);
    pos += len;
  }
  // No SPLICE_MOVE: stealing the pages would drop them from the chunk file's
  // page cache, which is what makes the next read warm.
  fuse_reply_data(req, bufv, static_cast<fuse_buf_copy_flags>(0));
}

// --- the operations ----------------------------------------------------------

struct Filesystem::Ops {
  static void Init(void* userdata, fuse_conn_info* conn) {
    // Large requests and generous readahead: FUSE's own per-request cost is
    // what bounds warm throughput.
    conn->max_readahead = UINT_MAX;
    conn->max_read = kMaxReadBytes;
    conn->max_background = 64;
    conn->congestion_threshold = 48;
    const unsigned wanted = FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE | FUSE_CAP_ASYNC_READ |
                            FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO |
                            FUSE_CAP_CACHE_SYMLINKS | FUSE_CAP_PARALLEL_DIROPS |
                            FUSE_CAP_EXPORT_SUPPORT;
    conn->want |= wanted & conn->capable;
    conn->want &= ~static_cast<unsigned>(FUSE_CAP_ATOMIC_O_TRUNC);
    // Without async DIO an O_DIRECT read is a request its caller waits for
    // interruptibly: a signal reaches us as FUSE_INTERRUPT and the read's
    // fetch is abandoned. With it (libfuse's default) the kernel sends
    // direct reads in the background and waits for them uninterruptibly, so
    // a reader stuck on an object that never comes could not be killed.
    conn->want &= ~static_cast<unsigned>(FUSE_CAP_ASYNC_DIO);
    // A channel mount's open directories keep the version they began in
    // (OpenDirectory): only a mount of one root can do without OPENDIR.
    Filesystem& fs = *static_cast<Filesystem*>(userdata);
    if ((conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) && !fs.channel_mount_.load()) {
      conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
      fs.no_opendir_ = true;
    }
  }

  static void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    Filesystem& fs = Self(req);
    fs.AfterInit();
    auto dir = fs.inodes_.Get(parent);
    if (!dir) return (void)fuse_reply_err(req, ENOENT);
    if (dir->entry.type != index::EntryType::kDirectory) return (void)fuse_reply_err(req, ENOTDIR);
    Result<std::shared_ptr<const index::Directory>> decoded = Status::Error(EIO, "not loaded");
    {
      InterruptFlag interrupted(req);
      decoded = fs.LoadDirectory(*dir, interrupted.flag());
    }
    if (!decoded.ok())
      return ReplyError(req, ("lookup " + std::string(name)).c_str(), decoded.status());
    const index::DirEntry* found = (*decoded)->Find(name);
    if (!found) {
      // Negative entries are as immutable as positive ones.
      fuse_entry_param e{};
      e.ino = 0;
      e.entry_timeout = fs.options_.entry_timeout;
      return (void)fuse_reply_entry(req, &e);
    }
    auto child = fs.inodes_.LookupChild(*dir, **decoded,
                                        static_cast<size_t>(found - (*decoded)->entries.data()));
    fuse_entry_param e{};
    e.ino = child->ino;
    e.attr_timeout = fs.options_.attr_timeout;
    e.entry_timeout = fs.options_.entry_timeout;
    fs.FillAttr(*child, &e.attr);
    // The kernel counts the lookup only if it got the reply.
    if (fuse_reply_entry(req, &e) != 0) fs.inodes_.Forget(child->ino, 1);
  }

  static void Forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
    Self(req).inodes_.Forget(ino, nlookup);
    fuse_reply_none(req);
  }

  static void ForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
    Filesystem& fs = Self(req);
    for (size_t i = 0; i < count; ++i) fs.inodes_.Forget(forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
  }

  static void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    Filesystem& fs = Self(req);
    fs.AfterInit();
    auto inode = fs.inodes_.Get(ino);
    if (!inode) return (void)fuse_reply_err(req, ENOENT);
    struct stat st;
    fs.FillAttr(*inode, &st);
    fuse_reply_attr(req, &st, fs.options_.attr_timeout);
  }

  static void ReadLink(fuse_req_t req, fuse_ino_t ino) {
    auto inode = Self(req).inodes_.Get(ino);
    if (!inode) return (void)fuse_reply_err(req, ENOENT);
    if (inode->entry.type != index::EntryType::kSymlink) return (void)fuse_reply_err(req, EINVAL);
    fuse_reply_readlink(req, inode->entry.symlink_target.c_str());
  }

  static void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Filesystem& fs = Self(req);
    auto inode = fs.inodes_.Get(ino);
    if (!inode) return (void)fuse_reply_err(req, ENOENT);
    if (inode->entry.type == index::EntryType::kDirectory) return (void)fuse_reply_err(req, EISDIR);
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
      return (void)fuse_reply_err(req, EROFS);
    auto file = std::make_unique<OpenFile>();
    file->inode = inode;
    if (!inode->entry.is_inline) {
      auto shape = index::FileShape::Make(inode->entry.size, inode->chunk_size);
      if (!shape.ok())  // the publisher's entry is bad: an I/O error to the reader
        return ReplyError(req, ("open inode " + std::to_string(ino)).c_str(),
                          Status::Error(EIO, shape.status().message()));
      file->shape = *shape;
    }
    fi->keep_cache = 1;  // immutable content: the page cache stays valid
    if (fs.options_.prefetch == PrefetchMode::kAll) fs.PrefetchSiblings(*inode);
    fi->fh = fs.open_files_.Add(std::move(file));
    // The opener is gone: no Release will come.
    if (fuse_reply_open(req, fi) != 0) fs.open_files_.Take(fi->fh);
  }

  static void Release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    std::unique_ptr<OpenFile> file = Self(req).open_files_.Take(fi->fh);
    fuse_reply_err(req, 0);
  }

  static void Read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
    Filesystem& fs = Self(req);
    auto& file = *reinterpret_cast<OpenFile*>(fi->fh);
    const index::DirEntry& e = file.inode->entry;
    const uint64_t offset = static_cast<uint64_t>(off);
    if (off < 0 || offset >= e.size || size == 0) return (void)fuse_reply_buf(req, nullptr, 0);
    const uint64_t length = std::min<uint64_t>(size, e.size - offset);
    if (e.is_inline) {
      return (void)fuse_reply_buf(req, reinterpret_cast<const char*>(e.inline_data.data()) + offset,
                                  length);
    }
    fs.SchedulePrefetch(file, offset, length);
    Result<std::vector<ObjectRef>> chunks = Status::Error(EIO, "not read");
    {
      InterruptFlag interrupted(req);
      chunks = fs.GetChunks(file, offset, length, interrupted.flag());
    }
    if (!chunks.ok())
      return ReplyError(req, ("read " + e.name + " at " + std::to_string(offset)).c_str(),
                        chunks.status());
    fs.ReplyChunks(file, offset, length, *chunks, req);
  }

  static void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Filesystem& fs = Self(req);
    // A mount whose root never changes keeps no state per open directory:
    // ENOSYS tells the kernel (FUSE_CAP_NO_OPENDIR_SUPPORT) to stop sending
    // OPENDIR and RELEASEDIR for good, and to keep every listing cached (its
    // default then: keep_cache and cache_readdir). That halves the requests
    // of a listing of many small directories on a new mount.
    if (fs.no_opendir_) return (void)fuse_reply_err(req, ENOSYS);
    auto inode = fs.inodes_.Get(ino);
    if (!inode) return (void)fuse_reply_err(req, ENOENT);
    if (inode->entry.type != index::EntryType::kDirectory)
      return (void)fuse_reply_err(req, ENOTDIR);
    // Immutable listings: the kernel keeps them (cache_readdir) across
    // opens (keep_cache). Not the root of a channel mount, whose listing
    // changes with the version: a listing begun before a switch is finished
    // from the old version and must not stay in the kernel's cache for
    // later opens.
    const bool versioned = ino == kRootInode && fs.channel_mount_.load();
    fi->cache_readdir = !versioned;
    fi->keep_cache = !versioned;
    auto dir = std::make_unique<OpenDirectory>();
    dir->inode = std::move(inode);
    fi->fh = fs.open_dirs_.Add(std::move(dir));
    // The opener is gone: no ReleaseDir will come.
    if (fuse_reply_open(req, fi) != 0) fs.open_dirs_.Take(fi->fh);
  }

  static void ReleaseDir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    std::unique_ptr<OpenDirectory> dir = Self(req).open_dirs_.Take(fi->fh);
    fuse_reply_err(req, 0);
  }

  static void ReadDirCommon(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                            fuse_file_info* fi, bool plus) {
    Filesystem& fs = Self(req);
    // The inode the directory was opened on (for the root: the version the
    // listing began in); without OPENDIR (fh 0), the inode itself.
    const std::shared_ptr<Inode> dir =
        fi->fh != 0 ? reinterpret_cast<OpenDirectory*>(fi->fh)->inode : fs.inodes_.Get(ino);
    if (!dir) return (void)fuse_reply_err(req, ENOENT);
    if (dir->entry.type != index::EntryType::kDirectory) return (void)fuse_reply_err(req, ENOTDIR);
    Result<std::shared_ptr<const index::Directory>> decoded = Status::Error(EIO, "not loaded");
    {
      InterruptFlag interrupted(req);
      decoded = fs.LoadDirectory(*dir, interrupted.flag());
    }
    if (!decoded.ok()) return ReplyError(req, "readdir", decoded.status());
    const auto& entries = (*decoded)->entries;
    // Offsets: 0 ".", 1 "..", 2 + i entry i; each entry carries the next one.
    const uint64_t start = static_cast<uint64_t>(std::max<off_t>(off, 0));
    // Newer kernels ask for up to max_pages (1 MiB) per request, whatever
    // the directory holds. A buffer of that size is an mmap and a munmap
    // (with its TLB shootdown) per request, which made a listing of many
    // small directories cost more here than in the kernel: size it to what
    // this reply can hold instead.
    size_t want = 0;
    for (uint64_t i = start; i < 2 + entries.size() && want < size; ++i) {
      const char* name = i < 2 ? (i == 0 ? "." : "..") : entries[i - 2].name.c_str();
      want += plus ? fuse_add_direntry_plus(req, nullptr, 0, name, nullptr, 0)
                   : fuse_add_direntry(req, nullptr, 0, name, nullptr, 0);
    }
    size = std::min(size, want);
    // Not zeroed: only the `used` bytes the direntry helpers wrote are sent.
    auto buf = std::make_unique_for_overwrite<char[]>(std::max<size_t>(size, 1));
    size_t used = 0;
    // Inodes handed to the kernel by this READDIRPLUS reply (each counts a
    // lookup), given back if the reply does not reach it.
    std::vector<InodeNumber> counted;
    for (uint64_t i = start; i < 2 + entries.size(); ++i) {
      fuse_entry_param e{};
      const char* name;
      if (i < 2) {
        name = i == 0 ? "." : "..";
        e.attr.st_ino = i == 0 ? dir->ino : dir->parent;
        e.attr.st_mode = S_IFDIR;
        // e.ino stays 0: libfuse must not count a lookup for the dot entries.
      } else {
        const size_t index = static_cast<size_t>(i - 2);
        name = entries[index].name.c_str();
        if (plus) {
          // Only an entry that fits is handed over (and counted).
          if (fuse_add_direntry_plus(req, nullptr, 0, name, nullptr, 0) > size - used) break;
          auto child = fs.inodes_.LookupChild(*dir, **decoded, index);
          counted.push_back(child->ino);
          fs.FillAttr(*child, &e.attr);
          e.ino = child->ino;
          e.attr_timeout = fs.options_.attr_timeout;
          e.entry_timeout = fs.options_.entry_timeout;
        } else {
          // Plain READDIR creates nothing: the number is the one a LOOKUP
          // of this entry will give.
          const InodeNumber ino = fs.inodes_.ChildNumber(*dir, **decoded, index);
          fs.FillAttr(ino, entries[index], (*decoded)->chunk_size, &e.attr);
        }
      }
      const size_t room = size - used;
      const off_t next = static_cast<off_t>(i + 1);
      const size_t need = plus
                              ? fuse_add_direntry_plus(req, buf.get() + used, room, name, &e, next)
                              : fuse_add_direntry(req, buf.get() + used, room, name, &e.attr, next);
      if (need > room) break;
      used += need;
    }
    if (fuse_reply_buf(req, buf.get(), used) != 0)
      for (InodeNumber ino : counted) fs.inodes_.Forget(ino, 1);
  }

  static void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    ReadDirCommon(req, ino, size, off, fi, false);
  }
  static void ReadDirPlus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                          fuse_file_info* fi) {
    ReadDirCommon(req, ino, size, off, fi, true);
  }

  static void StatFs(fuse_req_t req, fuse_ino_t) {
    Filesystem& fs = Self(req);
    const cache::ChunkCacheStats cache = fs.fetcher_.cache().stats();
    struct statvfs st {};
    st.f_bsize = 4096;
    st.f_frsize = 4096;
    // The size of the cache stands in for the (unknown) size of the export.
    st.f_blocks = std::max(cache.limit, cache.bytes) / st.f_frsize;
    st.f_bfree = 0;
    st.f_bavail = 0;
    st.f_files = fs.inodes_.size();
    st.f_ffree = 0;
    st.f_namemax = index::kMaxNameLength;
    st.f_flag = ST_RDONLY;
    fuse_reply_statfs(req, &st);
  }

  static void GetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
    Filesystem& fs = Self(req);
    auto inode = fs.inodes_.Get(ino);
    if (!inode) return (void)fuse_reply_err(req, ENOENT);
    const std::string key = name;
    if (key == kXattrHash) {
      const Hash h = ino == kRootInode ? inode->entry.hash : inode->entry.ContentHash();
      return ReplyXattrValue(req, h.ToHex(), size);
    }
    if (key == kXattrRoot && ino == kRootInode)
      return ReplyXattrValue(req, inode->entry.hash.ToHex(), size);
    if (ino == kRootInode && (key == kXattrChannel || key == kXattrRevision)) {
      std::string value;
      {
        MutexLock lock(&fs.version_mu_);
        if (key == kXattrChannel) value = fs.channel_;
        if (key == kXattrRevision && fs.revision_) value = std::to_string(*fs.revision_);
      }
      if (!value.empty()) return ReplyXattrValue(req, value, size);
    }
    if (key == kXattrCached && inode->entry.type == index::EntryType::kFile)
      return ReplyXattrValue(req, std::to_string(fs.CachedBytes(*inode)), size);
    // Only the user namespace exists here. Saying so (rather than "no such
    // attribute") lets tools stop asking: `ls -l` remembers a device whose
    // security.selinux and ACL lookups are unsupported, where ENODATA would
    // cost it two or three requests per file, each a round trip to us that
    // the kernel never caches.
    fuse_reply_err(req, key.rfind("user.", 0) == 0 ? ENODATA : EOPNOTSUPP);
  }

  static void ListXattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
    Filesystem& fs = Self(req);
    auto inode = fs.inodes_.Get(ino);
    if (!inode) return (void)fuse_reply_err(req, ENOENT);
    std::string names = std::string(kXattrHash) + '\0';
    if (ino == kRootInode) {
      names += std::string(kXattrRoot) + '\0';
      MutexLock lock(&fs.version_mu_);
      if (!fs.channel_.empty()) names += std::string(kXattrChannel) + '\0';
      if (fs.revision_) names += std::string(kXattrRevision) + '\0';
    }
    if (inode->entry.type == index::EntryType::kFile) names += std::string(kXattrCached) + '\0';
    ReplyXattrValue(req, names, size);
  }

  // Every operation that would change something.
  static void SetAttr(fuse_req_t req, fuse_ino_t, struct stat*, int, fuse_file_info*) {
    fuse_reply_err(req, EROFS);
  }
  static void MkNod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) {
    fuse_reply_err(req, EROFS);
  }
  static void MkDir(fuse_req_t req, fuse_ino_t, const char*, mode_t) { fuse_reply_err(req, EROFS); }
  static void Unlink(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, EROFS); }
  static void SymLink(fuse_req_t req, const char*, fuse_ino_t, const char*) {
    fuse_reply_err(req, EROFS);
  }
  static void Rename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*,
                     unsigned int) {
    fuse_reply_err(req, EROFS);
  }
  static void Link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) {
    fuse_reply_err(req, EROFS);
  }
  static void Write(fuse_req_t req, fuse_ino_t, const char*, size_t, off_t, fuse_file_info*) {
    fuse_reply_err(req, EROFS);
  }
  static void Create(fuse_req_t req, fuse_ino_t, const char*, mode_t, fuse_file_info*) {
    fuse_reply_err(req, EROFS);
  }
  static void SetXattr(fuse_req_t req, fuse_ino_t, const char*, const char*, size_t, int) {
    fuse_reply_err(req, EROFS);
  }
  static void RemoveXattr(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, EROFS); }
  static void Fallocate(fuse_req_t req, fuse_ino_t, int, off_t, off_t, fuse_file_info*) {
    fuse_reply_err(req, EROFS);
  }
};

const fuse_lowlevel_ops& Filesystem::Operations() {
  static const fuse_lowlevel_ops ops = [] {
    fuse_lowlevel_ops o{};
    o.init = Ops::Init;
    o.lookup = Ops::Lookup;
    o.forget = Ops::Forget;
    o.forget_multi = Ops::ForgetMulti;
    o.getattr = Ops::GetAttr;
    o.readlink = Ops::ReadLink;
    o.open = Ops::Open;
    o.release = Ops::Release;
    o.read = Ops::Read;
    o.opendir = Ops::OpenDir;
    o.releasedir = Ops::ReleaseDir;
    o.readdir = Ops::ReadDir;
    o.readdirplus = Ops::ReadDirPlus;
    o.statfs = Ops::StatFs;
    o.getxattr = Ops::GetXattr;
    o.listxattr = Ops::ListXattr;
    o.setattr = Ops::SetAttr;
    o.mknod = Ops::MkNod;
    o.mkdir = Ops::MkDir;
    o.unlink = Ops::Unlink;
    o.rmdir = Ops::Unlink;
    o.symlink = Ops::SymLink;
    o.rename = Ops::Rename;
    o.link = Ops::Link;
    o.write = Ops::Write;
    o.create = Ops::Create;
    o.setxattr = Ops::SetXattr;
    o.removexattr = Ops::RemoveXattr;
    o.fallocate = Ops::Fallocate;
    return o;
  }();
  return ops;
}

}  // namespace lcfs::fs
