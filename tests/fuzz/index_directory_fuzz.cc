// Fuzzes the directory object decoder: any input must be rejected cleanly or
// decode to entries that re-encode to exactly the same bytes (the encoding
// is canonical, so a decoder accepting anything else is a bug).
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "lcfs/index/directory.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto dir = lcfs::index::DecodeDirectory(std::span(data, size));
  if (!dir.ok()) {
    if (dir.status().message().empty()) std::abort();
    return 0;
  }
  auto again = lcfs::index::EncodeDirectory(*dir);
  if (!again.ok() || again->size() != size || std::memcmp(again->data(), data, size) != 0) {
    std::abort();
  }
  for (const lcfs::index::DirEntry& e : dir->entries) {
    if (dir->Find(e.name) != &e) std::abort();
  }
  return 0;
}
