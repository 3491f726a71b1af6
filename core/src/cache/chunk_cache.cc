#include "lcfs/cache/chunk_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <utility>

#include "lcfs/full_io.h"

namespace lcfs::cache {
namespace {

constexpr const char* kLayout = "/v1";
// Objects waiting for their racy window to pass: at most this many are
// remembered (the others are hashed again by the next process that opens
// them), and this many are settled per call that finds some due.
constexpr size_t kMaxUnsettled = 1 << 16;
constexpr size_t kSettleBatch = 8;

// Creates `path` and any missing parents as 0700: a cache holds the bytes of
// files whatever their modes, so no other user may look inside. Existing
// parents (/var/cache, ~/.cache) are left as they are.
Status MakePrivateDirs(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path p(path);
  if (std::filesystem::is_directory(p, ec)) return Status::Ok();
  if (p.has_parent_path() && p.parent_path() != p)
    LCFS_RETURN_IF_ERROR(MakePrivateDirs(p.parent_path().string()));
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
    return Status::FromErrno(errno, "create directory " + path);
  return Status::Ok();
}

// A directory of the cache must be ours and closed to others: one open to
// group or others is tightened to 0700 (counted in `tightened`); one owned
// by another user is refused, as we could neither trust nor tighten it.
Status SecurePrivateDir(const std::string& path, uint64_t* tightened) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
  if (!S_ISDIR(st.st_mode)) return Status::Error(ENOTDIR, path + " is not a directory");
  if (st.st_uid != ::geteuid())
    return Status::Error(
        EPERM, "cache directory " + path + " belongs to uid " + std::to_string(st.st_uid) +
                   ", not to this user (uid " + std::to_string(::geteuid()) +
                   "): refusing to share it; give this user its own with cache=DIR");
  if ((st.st_mode & 077) != 0) {
    if (::chmod(path.c_str(), 0700) != 0)
      return Status::FromErrno(errno, "tighten " + path + " to mode 0700");
    ++*tightened;
  }
  return Status::Ok();
}

}  // namespace

// --- Layout and cross-process pins -------------------------------------------

bool ParseObjectFileName(const std::string& name, Hash* hash, ObjectKind* kind) {
  if (name.size() != 66 || name[64] != '.') return false;
  auto h = Hash::FromHex(std::string_view(name).substr(0, 64));
  if (!h.ok()) return false;
  const char k = name[65];
  if (k < '0' || k > '2') return false;
  *hash = *h;
  *kind = static_cast<ObjectKind>(k - '0');
  return true;
}

bool VerifyObjectFile(int fd, uint64_t size, const Hash& hash, ObjectKind kind) {
  std::vector<uint8_t> bytes(size);
  if (!PreadExact(fd, bytes, 0).ok()) return false;
  return ObjectHash(kind, bytes) == hash;
}

std::string ObjectsDir(const std::string& dir) { return dir + kLayout + "/objects"; }
std::string TmpDir(const std::string& dir) { return dir + kLayout + "/tmp"; }

std::string ObjectFilePath(const std::string& dir, const Hash& hash, ObjectKind kind) {
  const std::string hex = hash.ToHex();
  return ObjectsDir(dir) + "/" + hex.substr(0, 2) + "/" + hex + "." +
         std::to_string(static_cast<int>(kind));
}

void RemoveAbandonedTempFiles(const std::string& dir) {
  // A temporary file is named after its writer's PID.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(TmpDir(dir), ec)) {
    const long pid = std::strtol(e.path().filename().c_str(), nullptr, 10);
    if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH))
      std::filesystem::remove(e.path(), ec);
  }
}

Status PinObjectFile(int fd) {
  while (::flock(fd, LOCK_SH) != 0) {
    if (errno != EINTR) return Status::FromErrno(errno, "flock");
  }
  return Status::Ok();
}

Result<bool> RemoveUnlessPinned(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    if (errno == ENOENT) return true;
    return Status::FromErrno(errno, "open " + path);
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return false;
    return Status::FromErrno(errno, "flock " + path);
  }
  // Holding the exclusive lock: no mount can pin it until it is unlinked, and
  // a mount that opened it meanwhile sees st_nlink == 0 once it has its lock.
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return Status::FromErrno(errno, "remove " + path);
  return true;
}

// --- CachedObject -----------------------------------------------------------

CachedObject::CachedObject(CachedObject&& o) noexcept
    : cache_(std::exchange(o.cache_, nullptr)),
      hash_(o.hash_),
      size_(o.size_),
      fd_(std::move(o.fd_)) {}

CachedObject& CachedObject::operator=(CachedObject&& o) noexcept {
  if (this != &o) {
    Release();
    cache_ = std::exchange(o.cache_, nullptr);
    hash_ = o.hash_;
    size_ = o.size_;
    fd_ = std::move(o.fd_);
  }
  return *this;
}

CachedObject::~CachedObject() { Release(); }

void CachedObject::Release() {
  // Close first: our own shared lock would make the eviction Unpin() may run
  // take the object for pinned by someone else.
  fd_.reset();
  if (cache_) cache_->Unpin(hash_);
  cache_ = nullptr;
}

Status CachedObject::ReadAt(uint64_t offset, std::span<uint8_t> out) const {
  if (!fd_) return Status::Error(EBADF, "read of an empty cached object handle");
  if (offset > size_ || out.size() > size_ - offset)
    return Status::Error(EINVAL, "read past the end of cached object " + hash_.ToHex());
  return PreadExact(fd_->get(), out, offset);
}

Result<std::vector<uint8_t>> CachedObject::ReadAll() const {
  std::vector<uint8_t> bytes(size_);
  LCFS_RETURN_IF_ERROR(ReadAt(0, bytes));
  return bytes;
}

// --- ChunkCache -------------------------------------------------------------

ChunkCache::ChunkCache(std::string dir, uint64_t size_limit)
    : dir_(std::move(dir)), limit_(size_limit) {}

ChunkCache::~ChunkCache() { SettleStamps(kMaxUnsettled); }

Result<std::unique_ptr<ChunkCache>> ChunkCache::Open(const std::string& dir, uint64_t size_limit,
                                                     StampOptions stamps) {
  if (dir.empty()) return Status::Error(EINVAL, "chunk cache: empty directory name");
  auto cache = std::make_unique<ChunkCache>(dir, size_limit);
  uint64_t tightened = 0;
  for (const std::string& d :
       {dir, dir + kLayout, dir + kLayout + "/objects", dir + kLayout + "/tmp"}) {
    LCFS_RETURN_IF_ERROR(MakePrivateDirs(d).WithContext("chunk cache"));
    LCFS_RETURN_IF_ERROR(SecurePrivateDir(d, &tightened).WithContext("chunk cache"));
  }
  cache->stats_.tightened = tightened;
  cache->stamps_ = std::make_unique<VerifiedStamps>(dir + kLayout + "/verified", std::move(stamps));
  LCFS_RETURN_IF_ERROR(cache->Scan().WithContext("chunk cache " + dir));
  {
    // A previous run may have left more than this run's limit allows.
    std::lock_guard lock(cache->mu_);
    cache->EvictLocked(0, false);
  }
  return cache;
}

std::string ChunkCache::ObjectPath(const Hash& hash, ObjectKind kind) const {
  return ObjectFilePath(dir_, hash, kind);
}

Status ChunkCache::Scan() {
  RemoveAbandonedTempFiles(dir_);

  struct Found {
    Hash hash;
    ObjectKind kind;
    uint64_t size;
    timespec used;
  };
  std::vector<Found> found;
  const std::string objects = ObjectsDir(dir_);
  std::error_code ec;
  uint64_t tightened = 0;
  for (const auto& sub : std::filesystem::directory_iterator(objects, ec)) {
    if (!sub.is_directory(ec)) continue;
    // Older caches were 0755/0644: the top directory is already closed, and
    // what is inside follows so no copy of the tree keeps an open mode.
    struct stat dst;
    if (::stat(sub.path().c_str(), &dst) == 0 && (dst.st_mode & 077) != 0 &&
        ::chmod(sub.path().c_str(), 0700) == 0)
      ++tightened;
    for (const auto& f : std::filesystem::directory_iterator(sub.path(), ec)) {
      Found item;
      if (!ParseObjectFileName(f.path().filename().string(), &item.hash, &item.kind)) continue;
      struct stat st;
      if (::stat(f.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      if ((st.st_mode & 077) != 0 && ::chmod(f.path().c_str(), 0600) == 0) ++tightened;
      item.size = static_cast<uint64_t>(st.st_size);
      item.used = st.st_atim;
      found.push_back(item);
    }
  }
  if (ec) return Status::Error(ec.value(), "scan " + objects + ": " + ec.message());
  // Oldest use first, so the restored LRU order approximates the last run's.
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return std::pair(a.used.tv_sec, a.used.tv_nsec) < std::pair(b.used.tv_sec, b.used.tv_nsec);
  });
  std::lock_guard lock(mu_);
  stats_.tightened += tightened;
  for (const Found& f : found) {
    Entry e;
    e.kind = f.kind;
    e.size = f.size;
    e.lru = lru_.insert(lru_.end(), f.hash);
    entries_.emplace(f.hash, e);
    bytes_ += f.size;
  }
  return Status::Ok();
}

bool ChunkCache::Contains(const Hash& hash) const {
  std::lock_guard lock(mu_);
  return entries_.count(hash) != 0;
}

std::optional<CachedObject> ChunkCache::Lookup(const Hash& hash, ObjectKind kind) {
  // First, so that an object it finds changed is not served below.
  SettleStamps(kSettleBatch);
  const std::string path = ObjectPath(hash, kind);
  bool need_verify = true;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(hash);
    if (it != entries_.end()) {
      // Pin before touching the file so no one evicts it meanwhile.
      it->second.pins++;
      need_verify = !it->second.verified;
      lru_.splice(lru_.end(), lru_, it->second.lru);
    }
  }
  // Open outside the lock. The file may also have been added by another
  // process sharing the directory; then it is new to us and gets verified.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  bool good = fd.valid() && PinObjectFile(fd.get()).ok() && ::fstat(fd.get(), &st) == 0;
  if (good && st.st_nlink == 0) {
    // `lcfs-cache` removed it between our open and our pin: a miss, and the
    // file is not ours to judge.
    good = false;
    fd.reset();
  }
  bool unchanged = false;
  if (good && need_verify) {
    // Unchanged since some process verified or wrote it: not hashed again
    // (verified_stamps.h says why that is safe).
    unchanged = stamps_ && stamps_->Unchanged(hash, st);
    if (!unchanged) {
      good = VerifyObjectFile(fd.get(), static_cast<uint64_t>(st.st_size), hash, kind);
      if (good) RecordStamp(hash, kind, st);
    }
  }

  std::lock_guard lock(mu_);
  auto it = entries_.find(hash);
  if (!good) {
    if (fd.valid()) {
      // Present but corrupt (torn by a crash, or tampered with): drop it.
      ::unlink(path.c_str());
      stats_.rejected++;
    }
    if (it != entries_.end()) {
      it->second.pins--;
      if (it->second.pins == 0) RemoveLocked(it);
    }
    stats_.misses++;
    return std::nullopt;
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (it == entries_.end()) {
    Entry e;
    e.kind = kind;
    e.size = size;
    e.pins = 1;
    e.lru = lru_.insert(lru_.end(), hash);
    it = entries_.emplace(hash, e).first;
    bytes_ += size;
  }
  it->second.verified = true;
  stats_.hits++;
  if (unchanged) stats_.unchanged++;
  return CachedObject(this, hash, size, std::make_shared<UniqueFd>(std::move(fd)));
}

Result<UniqueFd> ChunkCache::WriteObjectFile(const Hash& hash, ObjectKind kind,
                                             std::span<const uint8_t> bytes) {
  std::string tmp;
  {
    std::lock_guard lock(mu_);
    tmp = dir_ + kLayout + "/tmp/" + std::to_string(::getpid()) + "." +
          std::to_string(tmp_counter_++);
  }
  UniqueFd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return Status::FromErrno(errno, "create " + tmp);
  // Pinned before it is visible under its name, so `lcfs-cache gc` never
  // takes an object this process is about to hand out.
  Status written = PinObjectFile(fd.get());
  if (written.ok()) written = WriteFull(fd.get(), bytes);
  if (!written.ok()) {
    ::unlink(tmp.c_str());
    return written.WithContext(tmp);
  }
  const std::string path = ObjectPath(hash, kind);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    if (err == ENOENT) {  // the fan-out directory does not exist yet
      (void)MakePrivateDirs(path.substr(0, path.rfind('/')));
      if (::rename(tmp.c_str(), path.c_str()) == 0) return fd;
      err = errno;
    }
    ::unlink(tmp.c_str());
    return Status::FromErrno(err, "rename into " + path);
  }
  return fd;
}

Result<CachedObject> ChunkCache::Insert(const Hash& hash, ObjectKind kind,
                                        std::span<const uint8_t> bytes) {
  if (ObjectHash(kind, bytes) != hash) {
    std::lock_guard lock(mu_);
    stats_.rejected++;
    return Status::Error(EIO, "object " + hash.ToHex() + " failed verification");
  }
  return InsertVerified(hash, kind, bytes);
}

Result<CachedObject> ChunkCache::InsertVerified(const Hash& hash, ObjectKind kind,
                                                std::span<const uint8_t> bytes) {
  if (auto hit = Lookup(hash, kind)) return std::move(*hit);

  {
    std::lock_guard lock(mu_);
    EvictLocked(bytes.size(), false);
  }
  Result<UniqueFd> fd = WriteObjectFile(hash, kind, bytes);
  if (!fd.ok() && (fd.status().code() == ENOSPC || fd.status().code() == EDQUOT)) {
    // The disk is fuller than our limit assumed: make room, try once more.
    {
      std::lock_guard lock(mu_);
      EvictLocked(std::max<uint64_t>(4 * bytes.size(), bytes_ / 8), true);
    }
    fd = WriteObjectFile(hash, kind, bytes);
  }
  if (!fd.ok())
    return Status::Error(
        EIO, "chunk cache: cannot store " + hash.ToHex() + ": " + fd.status().message());
  // Written from verified bytes: as good as verified.
  if (struct stat st; ::fstat(fd->get(), &st) == 0) RecordStamp(hash, kind, st);

  std::lock_guard lock(mu_);
  auto it = entries_.find(hash);
  if (it == entries_.end()) {
    Entry e;
    e.kind = kind;
    e.size = bytes.size();
    e.lru = lru_.insert(lru_.end(), hash);
    it = entries_.emplace(hash, e).first;
    bytes_ += bytes.size();
  }
  it->second.pins++;
  it->second.verified = true;
  stats_.inserts++;
  return CachedObject(this, hash, bytes.size(), std::make_shared<UniqueFd>(std::move(*fd)));
}

void ChunkCache::RecordStamp(const Hash& hash, ObjectKind kind, const struct stat& st) {
  if (!stamps_ || stamps_->Record(hash, st) || kind == ObjectKind::kChunk) return;
  std::lock_guard lock(unsettled_mu_);
  if (unsettled_.size() >= kMaxUnsettled) return;
  unsettled_.push_back({hash, kind, st.st_ctim});
  unsettled_count_ = unsettled_.size();
}

void ChunkCache::SettleStamps(size_t max) {
  if (unsettled_count_.load(std::memory_order_relaxed) == 0) return;
  std::vector<Unsettled> due;
  {
    std::lock_guard lock(unsettled_mu_);
    while (!unsettled_.empty() && due.size() < max && stamps_->Settled(unsettled_.front().ctime)) {
      due.push_back(unsettled_.front());
      unsettled_.pop_front();
    }
    unsettled_count_ = unsettled_.size();
  }
  for (const Unsettled& u : due) {
    // The first hash may have read the bytes before a change that kept the
    // stamp: only a hash of the file as it is now, out of the window, may
    // be recorded (verified_stamps.h).
    UniqueFd fd(::open(ObjectPath(u.hash, u.kind).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    struct stat st;
    if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink == 0 ||
        !stamps_->Settled(st.st_ctim))
      continue;  // gone, or changed since: whoever opens it next hashes it
    const bool good = VerifyObjectFile(fd.get(), static_cast<uint64_t>(st.st_size), u.hash, u.kind);
    const bool recorded = good && stamps_->Record(u.hash, st);
    std::lock_guard lock(mu_);
    if (recorded) stats_.settled++;
    // Changed behind our back: the next Lookup hashes it again and drops it.
    if (auto it = entries_.find(u.hash); !good && it != entries_.end()) it->second.verified = false;
  }
}

void ChunkCache::Unpin(const Hash& hash) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(hash);
  if (it == entries_.end()) return;
  if (it->second.pins > 0) it->second.pins--;
  // An object may have been inserted while the cache was over its limit
  // because everything was pinned: catch up now that a pin is gone.
  if (limit_ != 0 && bytes_ > limit_) EvictLocked(0, false);
}

void ChunkCache::RemoveLocked(std::unordered_map<Hash, Entry>::iterator it) {
  bytes_ -= it->second.size;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

uint64_t ChunkCache::EvictLocked(uint64_t bytes, bool free_at_least) {
  if (!free_at_least && (limit_ == 0 || bytes_ + bytes <= limit_)) return 0;
  uint64_t freed = 0;
  for (auto l = lru_.begin(); l != lru_.end();) {
    const bool done = free_at_least ? freed >= bytes : bytes_ + bytes <= limit_;
    if (done) break;
    auto it = entries_.find(*l);
    ++l;
    if (it == entries_.end() || it->second.pins > 0) continue;  // in use: never evicted
    // Nor one another mount sharing the directory has pinned.
    auto removed = RemoveUnlessPinned(ObjectPath(it->first, it->second.kind));
    if (removed.ok() && !*removed) continue;
    freed += it->second.size;
    RemoveLocked(it);
    stats_.evictions++;
  }
  return freed;
}

ChunkCacheStats ChunkCache::stats() const {
  std::lock_guard lock(mu_);
  ChunkCacheStats s = stats_;
  s.objects = entries_.size();
  s.bytes = bytes_;
  s.limit = limit_;
  return s;
}

std::string DefaultCacheDir() {
  if (::geteuid() == 0) return "/var/cache/lcfs";
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg == '/')
    return std::string(xdg) + "/lcfs";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/lcfs";
  return "/tmp/lcfs-cache-" + std::to_string(::getuid());
}

}  // namespace lcfs::cache
