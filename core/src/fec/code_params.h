// The per-K' code of RFC 6330 section 5.3: parameters, Rand, Deg, Tuple, and
// the columns each constraint row touches.
#pragma once

#include <cstdint>
#include <vector>

namespace lcfs::fec {

struct CodeParams {
  uint32_t k_prime = 0;  // K', extended source block size
  uint32_t j = 0;        // J(K'), systematic index
  uint32_t s = 0;        // LDPC symbols
  uint32_t h = 0;        // HDPC symbols
  uint32_t w = 0;        // LT symbols
  uint32_t l = 0;        // intermediate symbols: K' + S + H
  uint32_t p = 0;        // permanently inactive symbols: L - W
  uint32_t p1 = 0;       // smallest prime >= P
  uint32_t b = 0;        // W - S
};

// Parameters for the smallest K' >= k; nullptr if k is 0 or > K'max.
const CodeParams* ParamsFor(uint32_t k);
// The largest table K' that is <= limit, or 0 if none.
uint32_t LargestKPrimeAtMost(uint64_t limit);

uint32_t Rand(uint32_t y, uint32_t i, uint32_t m);
uint32_t Deg(uint32_t v, uint32_t w);

// Columns (intermediate symbol indices) combined into the LT symbol with
// internal symbol index `isi` (section 5.3.5.3, Enc[]), appended to `cols`.
void AppendLtColumns(const CodeParams& p, uint32_t isi, std::vector<uint32_t>& cols);

// Partition[I, J] of section 4.4.1.2.
struct Partition {
  uint32_t large_size, small_size, large_count, small_count;
};
Partition PartitionOf(uint64_t i, uint32_t j);

}  // namespace lcfs::fec
