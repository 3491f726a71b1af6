// A scratch directory for indexer tests, removed with everything in it.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/random_bytes.h"
#include "common/temp_dir.h"

namespace lcfs::testing {

class TempTree {
 public:
  TempTree() : dir_("lcfs-index") { ::chmod(root().c_str(), 0755); }

  const std::string& root() const { return dir_.path(); }
  std::string Path(std::string_view rel) const { return dir_.Path(rel); }

  // Writes `content` to `rel` (parents created) with a fixed mtime so that
  // trees built at different times compare equal.
  void Write(std::string_view rel, std::string_view content, mode_t mode = 0644) const {
    const std::string p = Path(rel);
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) std::abort();
    for (size_t done = 0; done < content.size();) {
      ssize_t n = ::write(fd, content.data() + done, content.size() - done);
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    ::fchmod(fd, mode);
    ::close(fd);
    SetMtime(rel, 1700000000);
  }
  void Mkdir(std::string_view rel, mode_t mode = 0755) const {
    std::filesystem::create_directories(Path(rel));
    ::chmod(Path(rel).c_str(), mode);
  }
  void Symlink(std::string_view target, std::string_view rel) const {
    if (::symlink(std::string(target).c_str(), Path(rel).c_str()) != 0) std::abort();
    SetMtime(rel, 1700000000);
  }
  void SetMtime(std::string_view rel, time_t sec, long nsec = 0) const {
    struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
    ::utimensat(AT_FDCWD, Path(rel).c_str(), ts, AT_SYMLINK_NOFOLLOW);
  }
  // Directory mtimes change whenever entries do; pin them all for comparisons.
  void PinDirMtimes() const {
    for (const auto& e : std::filesystem::recursive_directory_iterator(root())) {
      if (e.is_directory() && !e.is_symlink()) {
        struct timespec ts[2] = {{1700000000, 0}, {1700000000, 0}};
        ::utimensat(AT_FDCWD, e.path().c_str(), ts, AT_SYMLINK_NOFOLLOW);
      }
    }
  }

 private:
  TempDir dir_;
};

}  // namespace lcfs::testing
