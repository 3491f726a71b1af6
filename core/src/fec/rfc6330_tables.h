// The constant tables of RFC 6330 (data only; see rfc6330_tables.cc).
#pragma once

#include <cstddef>
#include <cstdint>

namespace lcfs::fec {

// V0, V1, V2, V3 of section 5.5, used by Rand[].
extern const uint32_t kRandTables[4][256];

// One row of section 5.6, Table 2: K', J(K'), S(K'), H(K'), W(K').
struct SystematicRow {
  uint32_t k_prime;
  uint32_t j;
  uint32_t s;
  uint32_t h;
  uint32_t w;
};
inline constexpr size_t kSystematicRowCount = 477;
extern const SystematicRow kSystematicRows[kSystematicRowCount];

}  // namespace lcfs::fec
