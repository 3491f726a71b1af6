#include "fec/code_params.h"

#include <algorithm>
#include <array>

#include "fec/rfc6330_tables.h"

namespace lcfs::fec {
namespace {

bool IsPrime(uint32_t n) {
  if (n < 2) return false;
  for (uint32_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

const std::array<CodeParams, kSystematicRowCount>& AllParams() {
  static const std::array<CodeParams, kSystematicRowCount> all = [] {
    std::array<CodeParams, kSystematicRowCount> a{};
    for (size_t i = 0; i < kSystematicRowCount; ++i) {
      const SystematicRow& r = kSystematicRows[i];
      CodeParams& p = a[i];
      p.k_prime = r.k_prime;
      p.j = r.j;
      p.s = r.s;
      p.h = r.h;
      p.w = r.w;
      p.l = r.k_prime + r.s + r.h;
      p.p = p.l - r.w;
      p.p1 = p.p;
      while (!IsPrime(p.p1)) ++p.p1;
      p.b = r.w - r.s;
    }
    return a;
  }();
  return all;
}

// Section 5.3.5.2, Table 1 (cumulative, out of 2^20).
constexpr uint32_t kDegreeCdf[31] = {0,       5243,    529531,  704294,  791675,  844104,  879057,
                                     904023,  922747,  937311,  948962,  958494,  966438,  973160,
                                     978921,  983914,  988283,  992138,  995565,  998631,  1001391,
                                     1003887, 1006157, 1008229, 1010129, 1011876, 1013490, 1014983,
                                     1016370, 1017662, 1048576};

}  // namespace

const CodeParams* ParamsFor(uint32_t k) {
  if (k == 0) return nullptr;
  const auto& all = AllParams();
  auto it = std::lower_bound(all.begin(), all.end(), k,
                             [](const CodeParams& p, uint32_t v) { return p.k_prime < v; });
  return it == all.end() ? nullptr : &*it;
}

uint32_t LargestKPrimeAtMost(uint64_t limit) {
  uint32_t best = 0;
  for (const CodeParams& p : AllParams()) {
    if (p.k_prime <= limit) best = p.k_prime;
  }
  return best;
}

uint32_t Rand(uint32_t y, uint32_t i, uint32_t m) {
  uint32_t x0 = (y + i) & 0xff;
  uint32_t x1 = ((y >> 8) + i) & 0xff;
  uint32_t x2 = ((y >> 16) + i) & 0xff;
  uint32_t x3 = ((y >> 24) + i) & 0xff;
  uint32_t v = kRandTables[0][x0] ^ kRandTables[1][x1] ^ kRandTables[2][x2] ^ kRandTables[3][x3];
  return v % m;
}

uint32_t Deg(uint32_t v, uint32_t w) {
  uint32_t d = 1;
  while (d < 30 && v >= kDegreeCdf[d]) ++d;
  return std::min(d, w - 2);
}

void AppendLtColumns(const CodeParams& p, uint32_t isi, std::vector<uint32_t>& cols) {
  // Tuple[K', X] (section 5.3.5.4).
  uint32_t a_mult = 53591 + p.j * 997;
  if (a_mult % 2 == 0) ++a_mult;
  uint32_t b_add = 10267 * (p.j + 1);
  uint32_t y = b_add + isi * a_mult;  // mod 2^32 by unsigned wrap
  uint32_t v = Rand(y, 0, 1u << 20);
  uint32_t d = Deg(v, p.w);
  uint32_t a = 1 + Rand(y, 1, p.w - 1);
  uint32_t b = Rand(y, 2, p.w);
  uint32_t d1 = d < 4 ? 2 + Rand(isi, 3, 2) : 2;
  uint32_t a1 = 1 + Rand(isi, 4, p.p1 - 1);
  uint32_t b1 = Rand(isi, 5, p.p1);

  cols.push_back(b);
  for (uint32_t j = 1; j < d; ++j) {
    b = (b + a) % p.w;
    cols.push_back(b);
  }
  while (b1 >= p.p) b1 = (b1 + a1) % p.p1;
  cols.push_back(p.w + b1);
  for (uint32_t j = 1; j < d1; ++j) {
    b1 = (b1 + a1) % p.p1;
    while (b1 >= p.p) b1 = (b1 + a1) % p.p1;
    cols.push_back(p.w + b1);
  }
}

Partition PartitionOf(uint64_t i, uint32_t j) {
  Partition r{};
  r.large_size = static_cast<uint32_t>((i + j - 1) / j);
  r.small_size = static_cast<uint32_t>(i / j);
  r.large_count = static_cast<uint32_t>(i - uint64_t{r.small_size} * j);
  r.small_count = j - r.large_count;
  return r;
}

}  // namespace lcfs::fec
