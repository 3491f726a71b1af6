#include "cache_admin.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "lcfs/cache/chunk_cache.h"
#include "lcfs/unique_fd.h"

namespace lcfs::cache_tool {
namespace {

namespace stdfs = std::filesystem;

// Whether a mount holds the object pinned: a shared lock blocks our
// exclusive one. The probe's exclusive lock lasts only until we close it.
bool IsPinned(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return false;
  return ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

// Calls visit(object) for each object file of the cache at `dir`; the first
// error (of the listing or of a visit) stops and is returned.
template <typename Visit>
Status ForEachObject(const std::string& dir, Visit visit) {
  auto objects = ListObjects(dir);
  if (!objects.ok()) return objects.status();
  for (const ObjectFile& o : *objects) LCFS_RETURN_IF_ERROR(visit(o));
  return Status::Ok();
}

// Removes `objects` in order, skipping pinned ones, while `keep_going` says so.
template <typename Pred>
Result<EvictReport> RemoveWhile(std::vector<ObjectFile> objects, uint64_t total, Pred keep_going) {
  EvictReport report;
  report.remaining_bytes = total;
  for (const ObjectFile& o : objects) {
    if (!keep_going(report)) break;
    auto removed = cache::RemoveUnlessPinned(o.path);
    if (!removed.ok()) return removed.status();
    if (!*removed) {
      report.pinned_kept++;
      continue;
    }
    report.removed++;
    report.removed_bytes += o.size;
    report.remaining_bytes -= o.size;
  }
  return report;
}

}  // namespace

Result<std::vector<ObjectFile>> ListObjects(const std::string& dir) {
  const std::string objects = cache::ObjectsDir(dir);
  std::error_code ec;
  if (!stdfs::is_directory(objects, ec))
    return Status::Error(ENOENT, dir + " is not an lcfs cache (no " + objects + ")");
  std::vector<ObjectFile> found;
  for (const auto& sub : stdfs::directory_iterator(objects, ec)) {
    if (!sub.is_directory(ec)) continue;
    for (const auto& f : stdfs::directory_iterator(sub.path(), ec)) {
      ObjectFile o;
      if (!cache::ParseObjectFileName(f.path().filename().string(), &o.hash, &o.kind)) continue;
      struct stat st;
      if (::lstat(f.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      o.path = f.path().string();
      o.size = static_cast<uint64_t>(st.st_size);
      o.used = st.st_atim;
      found.push_back(std::move(o));
    }
    if (ec) break;
  }
  if (ec) return Status::Error(ec.value(), "list " + objects + ": " + ec.message());
  return found;
}

Result<CheckReport> Check(const std::string& dir) {
  CheckReport report;
  LCFS_RETURN_IF_ERROR(ForEachObject(dir, [&report](const ObjectFile& o) -> Status {
    UniqueFd fd(::open(o.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
      if (errno == ENOENT) return Status::Ok();  // evicted meanwhile
      return Status::FromErrno(errno, "open " + o.path);
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat " + o.path);
    report.objects++;
    report.bytes += static_cast<uint64_t>(st.st_size);
    if (cache::VerifyObjectFile(fd.get(), static_cast<uint64_t>(st.st_size), o.hash, o.kind))
      return Status::Ok();
    if (::unlink(o.path.c_str()) != 0 && errno != ENOENT)
      return Status::FromErrno(errno, "remove corrupt " + o.path);
    report.corrupt.push_back(o);
    return Status::Ok();
  }));
  return report;
}

Result<Usage> DiskUsage(const std::string& dir) {
  Usage usage;
  LCFS_RETURN_IF_ERROR(ForEachObject(dir, [&usage](const ObjectFile& o) {
    auto add = [&](Usage::Count& c) {
      c.objects++;
      c.bytes += o.size;
    };
    add(usage.total);
    add(usage.by_kind.at(static_cast<size_t>(o.kind)));
    if (IsPinned(o.path)) add(usage.pinned);
    return Status::Ok();
  }));
  std::error_code ec;
  for (const auto& e : stdfs::directory_iterator(cache::TmpDir(dir), ec)) {
    (void)e;
    usage.temporary_files++;
  }
  return usage;
}

Result<EvictReport> CollectGarbage(const std::string& dir, uint64_t target_bytes) {
  auto objects = ListObjects(dir);
  if (!objects.ok()) return objects.status();
  uint64_t total = 0;
  for (const ObjectFile& o : *objects) total += o.size;
  std::sort(objects->begin(), objects->end(), [](const ObjectFile& a, const ObjectFile& b) {
    return std::pair(a.used.tv_sec, a.used.tv_nsec) < std::pair(b.used.tv_sec, b.used.tv_nsec);
  });
  return RemoveWhile(std::move(*objects), total, [target_bytes](const EvictReport& r) {
    return r.remaining_bytes > target_bytes;
  });
}

Result<EvictReport> EvictHash(const std::string& dir, const Hash& hash) {
  std::vector<ObjectFile> named;
  uint64_t total = 0;
  for (int k = 0; k < 3; ++k) {
    ObjectFile o;
    o.hash = hash;
    o.kind = static_cast<ObjectKind>(k);
    o.path = cache::ObjectFilePath(dir, hash, o.kind);
    struct stat st;
    if (::lstat(o.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    o.size = static_cast<uint64_t>(st.st_size);
    total += o.size;
    named.push_back(std::move(o));
  }
  if (named.empty()) {
    std::error_code ec;
    if (!stdfs::is_directory(cache::ObjectsDir(dir), ec))
      return Status::Error(ENOENT, dir + " is not an lcfs cache");
    return Status::Error(ENOENT, hash.ToHex() + " is not cached in " + dir);
  }
  return RemoveWhile(std::move(named), total, [](const EvictReport&) { return true; });
}

Result<EvictReport> Wipe(const std::string& dir) {
  auto report = CollectGarbage(dir, 0);
  if (!report.ok()) return report;
  cache::RemoveAbandonedTempFiles(dir);
  return report;
}

}  // namespace lcfs::cache_tool
