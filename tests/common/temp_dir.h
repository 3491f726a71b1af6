// A scratch directory for a test, removed with everything in it when the
// test's TempDir goes out of scope (also when the test fails).
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace lcfs::testing {

class TempDir {
 public:
  // `prefix` names the directory under $TMPDIR, to tell leftovers apart.
  explicit TempDir(std::string_view prefix = "lcfs-test") {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    if (!::mkdtemp(tmpl.data())) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // `rel` below the directory.
  std::string Path(std::string_view rel) const { return path_ + "/" + std::string(rel); }

 private:
  std::string path_;
};

}  // namespace lcfs::testing
