// Test helpers for sync tests: a canonical listing of a directory tree (type,
// mode, mtime, size and content hash of every entry), so two trees compare
// with one EXPECT_EQ that prints what differs; and small file utilities.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/random_bytes.h"
#include "common/temp_dir.h"
#include "lcfs/hash.h"

namespace lcfs::sync::testing {

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void WriteAll(const std::string& path, const std::string& data, mode_t mode = 0644,
                     time_t mtime = 1700000000) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
  chmod(path.c_str(), mode);
  timespec t[2] = {{mtime, 0}, {mtime, 0}};
  utimensat(AT_FDCWD, path.c_str(), t, AT_SYMLINK_NOFOLLOW);
}

// One line per entry below `root` (not root itself), sorted by path.
inline std::string TreeListing(const std::string& root) {
  std::map<std::string, std::string> lines;
  for (auto it = std::filesystem::recursive_directory_iterator(root);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    const std::string path = it->path().string();
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) continue;
    std::ostringstream line;
    line << std::oct << (st.st_mode & 07777) << std::dec << " " << st.st_mtim.tv_sec << "."
         << st.st_mtim.tv_nsec << " ";
    if (S_ISREG(st.st_mode)) {
      line << "file " << st.st_size << " " << Sha256Of(ReadAll(path)).ToHex().substr(0, 16);
    } else if (S_ISDIR(st.st_mode)) {
      line << "dir";
    } else if (S_ISLNK(st.st_mode)) {
      line << "link -> " << std::filesystem::read_symlink(path).string();
    } else {
      line << "other";
    }
    lines[path.substr(root.size())] = line.str();
  }
  std::string out;
  for (const auto& [p, l] : lines) out += p + ": " + l + "\n";
  return out;
}

// A scratch directory removed at scope exit (common/temp_dir.h), with
// `dir / "rel"` for the paths below it.
class ScratchDir : public lcfs::testing::TempDir {
 public:
  ScratchDir() : TempDir("lcfs-sync") {}
  std::string operator/(const std::string& rel) const { return Path(rel); }
};

}  // namespace lcfs::sync::testing
