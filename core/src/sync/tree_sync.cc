#include "lcfs/sync/tree_sync.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <vector>

#include "file_engine.h"
#include "lcfs/index/directory.h"
#include "lcfs/parallel.h"

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

Status SetLinkMtime(const std::string& path, const index::DirEntry& e) {
  timespec times[2] = {{0, UTIME_OMIT},
                       {static_cast<time_t>(e.mtime_sec), static_cast<long>(e.mtime_nsec)}};
  if (utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    return Status::FromErrno(errno, "set mtime of " + path);
  return Status::Ok();
}

// A directory of the remote tree with its local path.
struct DirWork {
  std::string path;
  index::Directory dir;
  const index::DirEntry* entry = nullptr;  // for mode and mtime; null for the root
};

class TreeSyncer {
 public:
  TreeSyncer(SyncContext& ctx) : ctx_(ctx) {}

  Status Run(const Hash& root, const std::string& dest) {
    auto root_dir = FetchDirectory(root, 0);
    if (!root_dir.ok()) return root_dir.status().WithContext("root directory");
    // Only now, with something to write, is DEST touched.
    struct stat st;
    if (lstat(dest.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode))
        return Status::Error(ENOTDIR, dest + " exists and is not a directory");
    } else if (errno != ENOENT || mkdir(dest.c_str(), 0755) != 0) {
      return Status::FromErrno(errno, "create " + dest);
    }
    // Keep every entry alive: DirWork points at entries of its parent.
    dirs_.push_back(std::make_unique<DirWork>(DirWork{dest, std::move(root_dir).value(), nullptr}));
    size_t level_begin = 0;
    while (level_begin < dirs_.size()) {
      const size_t level_end = dirs_.size();
      // Fetch the next level's directory objects all at once.
      std::vector<std::pair<DirWork*, const index::DirEntry*>> subdirs;
      for (size_t i = level_begin; i < level_end; ++i) {
        for (const auto& e : dirs_[i]->dir.entries)
          if (e.type == index::EntryType::kDirectory) subdirs.push_back({dirs_[i].get(), &e});
      }
      std::vector<index::Directory> fetched(subdirs.size());
      LCFS_RETURN_IF_ERROR(ParallelFor(
          subdirs.size(), ctx_.options().window,
          [&](size_t k) {
            auto d = FetchDirectory(subdirs[k].second->hash, subdirs[k].second->size);
            if (!d.ok())
              return d.status().WithContext(Join(subdirs[k].first->path, subdirs[k].second->name));
            fetched[k] = std::move(d).value();
            return Status::Ok();
          },
          ctx_.options().cancel));
      for (size_t i = level_begin; i < level_end; ++i) LCFS_RETURN_IF_ERROR(Reconcile(*dirs_[i]));
      for (size_t k = 0; k < subdirs.size(); ++k) {
        dirs_.push_back(
            std::make_unique<DirWork>(DirWork{Join(subdirs[k].first->path, subdirs[k].second->name),
                                              std::move(fetched[k]), subdirs[k].second}));
      }
      level_begin = level_end;
    }
    LCFS_RETURN_IF_ERROR(SyncFiles(ctx_, jobs_));
    // Directory attributes last, deepest first: writing into a directory
    // changes its mtime, and a read-only mode would stop us writing.
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      const DirWork& d = **it;
      if (d.entry == nullptr) continue;
      if (chmod(d.path.c_str(), d.entry->mode & 07777) != 0)
        return Status::FromErrno(errno, "chmod " + d.path);
      LCFS_RETURN_IF_ERROR(SetLinkMtime(d.path, *d.entry));
    }
    return Status::Ok();
  }

 private:
  Result<index::Directory> FetchDirectory(const Hash& hash, uint64_t size) {
    auto bytes = ctx_.Fetch(hash, ObjectKind::kDirectory, size);
    if (!bytes.ok()) return bytes.status();
    auto dir = index::DecodeDirectory(*bytes);
    if (!dir.ok()) return dir.status().WithContext("directory " + hash.ToHex());
    return dir;
  }

  // Makes the local directory `d.path` hold the entries of `d.dir` (files
  // are queued as jobs, the rest is done now).
  Status Reconcile(const DirWork& d) {
    ++ctx_.stats().directories;
    struct stat st;
    if (lstat(d.path.c_str(), &st) != 0) {
      if (errno != ENOENT || mkdir(d.path.c_str(), 0700) != 0)
        return Status::FromErrno(errno, "create directory " + d.path);
    } else if ((st.st_mode & 0700) != 0700 &&
               chmod(d.path.c_str(), (st.st_mode & 07777) | 0700) != 0) {
      return Status::FromErrno(errno, "make " + d.path + " writable");
    }
    LCFS_RETURN_IF_ERROR(RemoveUnwanted(d));
    for (const index::DirEntry& e : d.dir.entries) {
      const std::string path = Join(d.path, e.name);
      switch (e.type) {
        case index::EntryType::kDirectory:
          break;  // created when its level is reconciled
        case index::EntryType::kSymlink:
          LCFS_RETURN_IF_ERROR(SyncSymlink(path, e));
          break;
        case index::EntryType::kFile:
          if (e.is_inline) {
            LCFS_RETURN_IF_ERROR(SyncInlineFile(path, e));
          } else {
            auto job = std::make_unique<FileSyncJob>();
            job->path = path;
            job->remote = {e.hash, e.size, d.dir.chunk_size};
            job->set_attributes = true;
            job->mode = e.mode;
            job->mtime_sec = e.mtime_sec;
            job->mtime_nsec = e.mtime_nsec;
            jobs_.push_back(std::move(job));
          }
          break;
      }
    }
    return Status::Ok();
  }

  // Removes local entries that are in the way: of another type than the
  // remote entry of that name, stale temporary files of ours, and (with
  // delete_extra) anything the remote directory does not have.
  Status RemoveUnwanted(const DirWork& d) {
    DIR* dir = opendir(d.path.c_str());
    if (dir == nullptr) return Status::FromErrno(errno, "list " + d.path);
    std::vector<std::string> doomed;
    while (dirent* de = readdir(dir)) {
      const std::string name = de->d_name;
      if (name == "." || name == "..") continue;
      const index::DirEntry* remote = d.dir.Find(name);
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
      LCFS_RETURN_IF_ERROR(RemoveAll(Join(d.path, name)));
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
    return SetLinkMtime(path, e);
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
  std::vector<std::unique_ptr<DirWork>> dirs_;
  std::vector<std::unique_ptr<FileSyncJob>> jobs_;
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
