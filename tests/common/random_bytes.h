// Deterministic test data: the same bytes for the same seed on every
// platform and run (xorshift32, unlike std's distributions), fast enough for
// files of hundreds of MiB. Not for anything that needs real randomness.
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace lcfs::testing {

namespace internal {
template <typename Bytes>
Bytes Xorshift(size_t n, uint64_t seed) {
  Bytes out(n, 0);
  uint32_t x = static_cast<uint32_t>(seed * 2654435761u + (seed >> 32) + 1);
  if (x == 0) x = 1;  // the one state xorshift never leaves
  for (size_t i = 0; i < n; i += 4) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    for (size_t j = 0; j < 4 && i + j < n; ++j)
      out[i + j] = static_cast<typename Bytes::value_type>(x >> (8 * j));
  }
  return out;
}
}  // namespace internal

// `n` pseudo-random bytes determined by `seed`.
inline std::vector<uint8_t> RandomBytes(size_t n, uint64_t seed) {
  return internal::Xorshift<std::vector<uint8_t>>(n, seed);
}

// The same bytes as RandomBytes, as a string (for file contents).
inline std::string RandomString(size_t n, uint64_t seed) {
  return internal::Xorshift<std::string>(n, seed);
}

// Writes RandomBytes(size, seed) to `path` (replacing it).
inline void WriteRandomFile(const std::string& path, size_t size, uint64_t seed) {
  const std::string bytes = RandomString(size, seed);
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace lcfs::testing
