// Shared by the channel unit tests: a scratch directory, fresh keys, and
// records signed with them.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>

#include "common/temp_dir.h"
#include "lcfs/channel/record.h"
#include "lcfs/channel/signing_key.h"
#include "lcfs/hash.h"

namespace lcfs::channel::testing {

using lcfs::testing::TempDir;

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
