// Fuzzes the index cache parser (docs/protocol.md section 13). The input is
// parsed as it is, and again with a correct checksum appended so that the
// fuzzer reaches the structure checks behind it. Anything accepted must
// re-encode to exactly the same bytes (the format is canonical), and every
// file in it must be found by its own stamp.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "index/index_cache.h"

namespace {

void Check(std::span<const uint8_t> bytes) {
  auto cache = lcfs::index::DecodeIndexCache(bytes);
  if (!cache.ok()) {
    if (cache.status().message().empty()) std::abort();
    return;
  }
  auto again = lcfs::index::EncodeIndexCache(*cache);
  if (!again.ok() || again->size() != bytes.size() ||
      std::memcmp(again->data(), bytes.data(), bytes.size()) != 0)
    std::abort();
  for (const lcfs::index::CachedFile& f : cache->files)
    if (cache->Find(f.stamp) != &f) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Check(std::span(data, size));
  std::vector<uint8_t> sealed(data, data + size);
  const lcfs::Hash sum = lcfs::Sha256Of(sealed);
  sealed.insert(sealed.end(), sum.bytes.begin(), sum.bytes.end());
  Check(sealed);
  return 0;
}
