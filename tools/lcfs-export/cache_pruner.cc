#include "cache_pruner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace lcfs::exporter {
namespace {

namespace stdfs = std::filesystem;

std::string PathFile(const stdfs::path& cache) {
  stdfs::path p = cache;
  p.replace_extension(".path");
  return p.string();
}

}  // namespace

Status RecordIndexCacheOwner(const std::string& cache, const std::string& dir) {
  std::error_code ec;
  const stdfs::path real = stdfs::weakly_canonical(dir, ec);
  if (ec) return Status::Error(ec.value(), dir + ": " + ec.message());
  const std::string target = PathFile(cache);
  const std::string tmp = target + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << real.string() << '\n';
    if (!out.flush()) return Status::Error(EIO, tmp + ": cannot write");
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    Status s = Status::FromErrno(errno, "rename " + tmp);
    ::unlink(tmp.c_str());
    return s;
  }
  // Used now: a long-running exporter that never re-indexes keeps its cache.
  if (::utimensat(AT_FDCWD, cache.c_str(), nullptr, 0) != 0 && errno != ENOENT)
    return Status::FromErrno(errno, "touch " + cache);
  return Status::Ok();
}

Result<PruneResult> PruneIndexCaches(const std::string& own, std::chrono::hours max_age) {
  PruneResult result;
  const stdfs::path own_path(own);
  std::error_code ec;
  stdfs::directory_iterator it(own_path.parent_path(), ec);
  if (ec) return Status::Error(ec.value(), own_path.parent_path().string() + ": " + ec.message());
  const auto now = stdfs::file_time_type::clock::now();
  for (const stdfs::directory_entry& entry : it) {
    const stdfs::path cache = entry.path();
    if (cache.extension() == ".path") {  // one whose cache is gone
      stdfs::path index = cache;
      index.replace_extension(".index");
      if (!stdfs::exists(index, ec) && !ec && index != own_path) stdfs::remove(cache, ec);
      continue;
    }
    if (cache.extension() != ".index" || cache.filename() == own_path.filename()) continue;
    if (!entry.is_regular_file(ec)) continue;
    bool stale = false;
    // The DIR it was made for, if recorded: gone means the cache is useless.
    std::ifstream in(PathFile(cache));
    std::string dir;
    if (in && std::getline(in, dir) && !dir.empty() && dir[0] == '/') {
      struct stat st;
      stale = ::lstat(dir.c_str(), &st) != 0 && errno == ENOENT;
    }
    const auto written = entry.last_write_time(ec);
    if (!ec && now - written > max_age) stale = true;
    if (!stale) {
      ++result.kept;
      continue;
    }
    stdfs::remove(cache, ec);
    stdfs::remove(PathFile(cache), ec);
    ++result.removed;
  }
  return result;
}

}  // namespace lcfs::exporter
