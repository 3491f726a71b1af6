// Shared by the channel unit tests: a scratch directory, fresh keys, and
// records signed with them.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "lcfs/channel/record.h"
#include "lcfs/channel/signing_key.h"
#include "lcfs/hash.h"

namespace lcfs::channel::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "lcfs-channel-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline SigningKey NewKey() {
  auto key = SigningKey::Generate();
  if (!key.ok()) std::abort();
  return std::move(*key);
}

inline Record Signed(const SigningKey& key, const Hash& root, uint64_t sequence, uint64_t time,
                     uint32_t validity = 3600) {
  Record r;
  r.root = root;
  r.sequence = sequence;
  r.time = time;
  r.validity = validity;
  SignRecord(key, &r);
  return r;
}

inline Hash RootOf(const char* text) { return Sha256Of(text); }

}  // namespace lcfs::channel::testing
