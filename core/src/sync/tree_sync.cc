#include "lcfs/sync/tree_sync.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <unordered_set>
#include <vector>

#include "file_engine.h"
#include "lcfs/index/directory.h"
#include "lcfs/parallel.h"
#include "lcfs/sync/directory_cache.h"

namespace lcfs::sync {
namespace {

std::string Join(const std::string& dir, const std::string& name) { return dir + "/" + name; }

Status RemoveAll(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0)
    return errno == ENOENT ? Status::Ok() : Status::FromErrno(errno, "stat " + path);
  if (!S_ISDIR(st.st_mode)) {
    if (unlink(path.c_str()) != 0) return Status::FromErrno(errno, "remove " + path);
    return Status::Ok();
  }
  // Depth first, never following symlinks, staying on this filesystem.
  int rc = nftw(
      path.c_str(),
      [](const char* p, const struct stat* s, int, FTW*) {
        return (S_ISDIR(s->st_mode) ? rmdir(p) : unlink(p)) == 0 ? 0 : -1;
      },
      16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  if (rc != 0) return Status::FromErrno(errno, "remove " + path);
  return Status::Ok();
}

index::EntryType LocalType(mode_t mode, bool* known) {
  *known = true;
  if (S_ISREG(mode)) return index::EntryType::kFile;
  if (S_ISDIR(mode)) return index::EntryType::kDirectory;
  if (S_ISLNK(mode)) return index::EntryType::kSymlink;
  *known = false;
  return index::EntryType::kFile;
}

Status SetMtime(const std::string& path, int64_t sec, uint32_t nsec) {
  timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(sec), static_cast<long>(nsec)}};
  if (utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    return Status::FromErrno(errno, "set mtime of " + path);
  return Status::Ok();
}

// A directory being walked: its local path, its decoded object (shared with
// every other path naming the same hash) and the next entry to look at.
struct Frame {
  std::string path;
  std::shared_ptr<const index::Directory> dir;
  const index::DirEntry* entry = nullptr;  // in the parent's object; null for the root
  size_t next = 0;
};

// Mode and mtime of a directory whose subtree is complete, set once its
// files are written (a read-only mode would stop us writing).
struct DirAttributes {
  std::string path;
  uint16_t mode;
  int64_t mtime_sec;
  uint32_t mtime_nsec;
};

// Walks the remote tree depth first. Memory is bounded whatever the
// publisher names: decoded directories are shared by hash in a byte-bounded
// cache, the walk holds one frame per level, and files are written in
// batches of at most max_pending_files (with the attributes of the
// directories completed meanwhile), so a tree whose paths multiply one
// directory costs memory per distinct object, not per path.
class TreeSyncer {
 public:
  TreeSyncer(SyncContext& ctx) : ctx_(ctx), cache_(ctx.options().directory_cache_bytes) {}

  Status Run(const Hash& root, const std::string& dest) {
    auto root_dir = GetDirectory(root, 0);
    if (!root_dir.ok()) return root_dir.status().WithContext("root directory");
    // Only now, with something to write, is DEST touched.
    struct stat st;
    if (lstat(dest.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode))
        return Status::Error(ENOTDIR, dest + " exists and is not a directory");
    } else if (errno != ENOENT || mkdir(dest.c_str(), 0755) != 0) {
      return Status::FromErrno(errno, "create " + dest);
    }
    std::vector<Frame> stack;
    stack.push_back(Frame{dest, std::move(root_dir).value(), nullptr, 0});
    LCFS_RETURN_IF_ERROR(Enter(stack.back()));
    while (!stack.empty()) {
      if (ctx_.cancelled()) return Status::Error(ECANCELED, "sync interrupted");
      Frame& f = stack.back();
      const auto& entries = f.dir->entries;
      while (f.next < entries.size() && entries[f.next].type != index::EntryType::kDirectory)
        ++f.next;
      if (f.next == entries.size()) {
        if (f.entry != nullptr) {
          attributes_.push_back({f.path, f.entry->mode, f.entry->mtime_sec, f.entry->mtime_nsec});
        }
        stack.pop_back();
        if (attributes_.size() >= ctx_.options().max_pending_files) LCFS_RETURN_IF_ERROR(Flush());
        continue;
      }
      const index::DirEntry& e = entries[f.next++];
      std::string path = Join(f.path, e.name);
      auto dir = GetDirectory(e.hash, e.size);
      if (!dir.ok()) return dir.status().WithContext(path);
      stack.push_back(Frame{std::move(path), std::move(dir).value(), &e, 0});
      LCFS_RETURN_IF_ERROR(Enter(stack.back()));
    }
    return Flush();
  }

 private:
  // Decoded directory `hash` from the cache, or fetched, decoded and cached.
  Result<std::shared_ptr<const index::Directory>> GetDirectory(const Hash& hash, uint64_t size) {
    if (auto hit = cache_.Get(hash)) return hit;
    auto bytes = ctx_.Fetch(hash, ObjectKind::kDirectory, size);
    if (!bytes.ok()) return bytes.status();
    auto dir = index::DecodeDirectory(*bytes);
    if (!dir.ok()) return dir.status().WithContext("directory " + hash.ToHex());
    return cache_.Insert(hash, std::move(dir).value());
  }

  // Reconciles a directory just reached, then fetches its subdirectories'
  // objects in parallel (each distinct hash once, at most a few windows'
  // worth: the rest are fetched when the walk reaches them).
  Status Enter(const Frame& f) {
    LCFS_RETURN_IF_ERROR(Reconcile(f.path, *f.dir));
    std::vector<const index::DirEntry*> wanted;
    std::unordered_set<Hash> seen;
    const size_t limit = 4 * size_t{ctx_.options().window};
    for (const auto& e : f.dir->entries) {
      if (wanted.size() >= limit) break;
      if (e.type == index::EntryType::kDirectory && seen.insert(e.hash).second &&
          cache_.Get(e.hash) == nullptr)
        wanted.push_back(&e);
    }
    return ParallelFor(
        wanted.size(), ctx_.options().window,
        [&](size_t k) {
          auto d = GetDirectory(wanted[k]->hash, wanted[k]->size);
          if (!d.ok()) return d.status().WithContext(Join(f.path, wanted[k]->name));
          return Status::Ok();
        },
        ctx_.options().cancel);
  }

  // Writes the files queued so far, then the attributes of the directories
  // completed so far (deepest first: the order they completed in).
  Status Flush() {
    LCFS_RETURN_IF_ERROR(SyncFiles(ctx_, jobs_));
    jobs_.clear();
    for (const DirAttributes& a : attributes_) {
      if (chmod(a.path.c_str(), a.mode & 07777) != 0)
        return Status::FromErrno(errno, "chmod " + a.path);
      LCFS_RETURN_IF_ERROR(SetMtime(a.path, a.mtime_sec, a.mtime_nsec));
    }
    attributes_.clear();
    return Status::Ok();
  }

  // Makes the local directory `path` hold the entries of `dir` (files are
  // queued as jobs, written at the next flush; the rest is done now).
  Status Reconcile(const std::string& path, const index::Directory& dir) {
    ++ctx_.stats().directories;
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) {
      if (errno != ENOENT || mkdir(path.c_str(), 0700) != 0)
        return Status::FromErrno(errno, "create directory " + path);
    } else if ((st.st_mode & 0700) != 0700 &&
               chmod(path.c_str(), (st.st_mode & 07777) | 0700) != 0) {
      return Status::FromErrno(errno, "make " + path + " writable");
    }
    LCFS_RETURN_IF_ERROR(RemoveUnwanted(path, dir));
    for (const index::DirEntry& e : dir.entries) {
      if (ctx_.cancelled()) return Status::Error(ECANCELED, "sync interrupted");
      const std::string entry_path = Join(path, e.name);
      switch (e.type) {
        case index::EntryType::kDirectory:
          break;  // created when its level is reconciled
        case index::EntryType::kSymlink:
          LCFS_RETURN_IF_ERROR(SyncSymlink(entry_path, e));
          break;
        case index::EntryType::kFile:
          if (e.is_inline) {
            LCFS_RETURN_IF_ERROR(SyncInlineFile(entry_path, e));
          } else {
            auto job = std::make_unique<FileSyncJob>();
            job->path = entry_path;
            job->remote = {e.hash, e.size, dir.chunk_size};
            job->set_attributes = true;
            job->mode = e.mode;
            job->mtime_sec = e.mtime_sec;
            job->mtime_nsec = e.mtime_nsec;
            jobs_.push_back(std::move(job));
            if (jobs_.size() >= ctx_.options().max_pending_files) LCFS_RETURN_IF_ERROR(Flush());
          }
          break;
      }
    }
    return Status::Ok();
  }

  // Removes local entries that are in the way: of another type than the
  // remote entry of that name, stale temporary files of ours, and (with
  // delete_extra) anything the remote directory does not have.
  Status RemoveUnwanted(const std::string& path, const index::Directory& remote_dir) {
    DIR* dir = opendir(path.c_str());
    if (dir == nullptr) return Status::FromErrno(errno, "list " + path);
    std::vector<std::string> doomed;
    while (dirent* de = readdir(dir)) {
      const std::string name = de->d_name;
      if (name == "." || name == "..") continue;
      const index::DirEntry* remote = remote_dir.Find(name);
      if (remote == nullptr) {
        if (ctx_.options().delete_extra || name.rfind(kTempPrefix, 0) == 0) doomed.push_back(name);
        continue;
      }
      struct stat st;
      if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      bool known;
      const index::EntryType type = LocalType(st.st_mode, &known);
      if (!known || type != remote->type) doomed.push_back(name);
    }
    closedir(dir);
    for (const auto& name : doomed) {
      LCFS_RETURN_IF_ERROR(RemoveAll(Join(path, name)));
      if (name.rfind(kTempPrefix, 0) != 0) ++ctx_.stats().deleted;
    }
    return Status::Ok();
  }

  Status SyncSymlink(const std::string& path, const index::DirEntry& e) {
    ++ctx_.stats().symlinks;
    std::vector<char> buf(index::kMaxSymlinkTargetLength + 2);
    ssize_t n = readlink(path.c_str(), buf.data(), buf.size());
    if (n < 0 || std::string(buf.data(), static_cast<size_t>(n)) != e.symlink_target) {
      // Create under a temporary name and rename, so the link is replaced atomically.
      std::string temp;
      for (int attempt = 0;; ++attempt) {
        temp = path.substr(0, path.rfind('/') + 1) + kTempPrefix + "link." +
               std::to_string(getpid()) + "." + std::to_string(attempt);
        if (symlink(e.symlink_target.c_str(), temp.c_str()) == 0) break;
        if (errno != EEXIST || attempt > 100)
          return Status::FromErrno(errno, "create symlink " + path);
      }
      if (rename(temp.c_str(), path.c_str()) != 0) {
        Status s = Status::FromErrno(errno, "rename symlink into " + path);
        unlink(temp.c_str());
        return s;
      }
    }
    return SetMtime(path, e.mtime_sec, e.mtime_nsec);
  }

  Status SyncInlineFile(const std::string& path, const index::DirEntry& e) {
    int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      UniqueFd local(fd);
      struct stat st;
      if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
          static_cast<uint64_t>(st.st_size) == e.size) {
        std::vector<uint8_t> have(e.size);
        ssize_t n = e.size == 0 ? 0 : pread(fd, have.data(), have.size(), 0);
        if (n == static_cast<ssize_t>(e.size) && have == e.inline_data) {
          ++ctx_.stats().files_unchanged;
          ctx_.AddReused(e.size);
          return SetFileAttributes(fd, e.mode, e.mtime_sec, e.mtime_nsec, path);
        }
      }
    }
    ++ctx_.stats().files_written;
    std::string temp;
    auto out = CreateTempNextTo(path, &temp);
    if (!out.ok()) return out.status();
    Status s = Status::Ok();
    if (!e.inline_data.empty() && write(out->get(), e.inline_data.data(), e.inline_data.size()) !=
                                      static_cast<ssize_t>(e.inline_data.size())) {
      s = Status::FromErrno(errno, "write " + temp);
    }
    if (s.ok()) s = SetFileAttributes(out->get(), e.mode, e.mtime_sec, e.mtime_nsec, path);
    if (s.ok() && rename(temp.c_str(), path.c_str()) != 0)
      s = Status::FromErrno(errno, "rename " + temp + " to " + path);
    if (!s.ok()) unlink(temp.c_str());
    return s;
  }

  SyncContext& ctx_;
  DirectoryCache cache_;
  std::vector<std::unique_ptr<FileSyncJob>> jobs_;  // written at the next Flush
  std::vector<DirAttributes> attributes_;           // set at the next Flush
};

}  // namespace

Result<uint64_t> SyncTree(ObjectSource& source, const Hash& root, const std::string& dest,
                          const SyncOptions& options, SyncStats* stats) {
  SyncContext ctx(source, options);
  Status s = TreeSyncer(ctx).Run(root, dest);
  if (stats != nullptr) *stats = ctx.Snapshot();
  if (!s.ok()) return s.WithContext("sync " + root.ToHex() + " into " + dest);
  return ctx.Snapshot().bytes_received;
}

}  // namespace lcfs::sync
