// GF(256) symbol kernels: portable versions and AVX2 versions built with a
// target attribute, picked once at run time.
#include "lcfs/fec/symbol_ops.h"

#include <immintrin.h>

#include <array>
#include <cstring>

namespace lcfs::fec {
namespace {

struct GfTables {
  std::array<uint8_t, 512> exp{};
  std::array<uint8_t, 256> log{};
  // mul[c][x] = c * x; lo/hi nibble tables for the shuffle kernels.
  std::array<std::array<uint8_t, 256>, 256> mul{};
  std::array<std::array<uint8_t, 16>, 256> lo{};
  std::array<std::array<uint8_t, 16>, 256> hi{};
};

const GfTables& Tables() {
  static const GfTables tables = [] {
    GfTables t;
    uint32_t x = 1;
    for (int i = 0; i < 255; ++i) {
      t.exp[i] = static_cast<uint8_t>(x);
      t.log[x] = static_cast<uint8_t>(i);
      x <<= 1;
      if (x & 0x100) x ^= 0x11d;
    }
    for (int i = 255; i < 512; ++i) t.exp[i] = t.exp[i - 255];
    for (int c = 0; c < 256; ++c) {
      for (int v = 0; v < 256; ++v) {
        t.mul[c][v] = (c == 0 || v == 0) ? 0 : t.exp[t.log[c] + t.log[v]];
      }
      for (int v = 0; v < 16; ++v) {
        t.lo[c][v] = t.mul[c][v];
        t.hi[c][v] = t.mul[c][v << 4];
      }
    }
    return t;
  }();
  return tables;
}

void XorPortable(uint8_t* dst, const uint8_t* src, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t a, b;
    std::memcpy(&a, dst + i, 8);
    std::memcpy(&b, src + i, 8);
    a ^= b;
    std::memcpy(dst + i, &a, 8);
  }
  for (; i < n; ++i) dst[i] ^= src[i];
}

void MulAddPortable(uint8_t* dst, const uint8_t* src, uint8_t c, size_t n) {
  const uint8_t* m = Tables().mul[c].data();
  for (size_t i = 0; i < n; ++i) dst[i] ^= m[src[i]];
}

void ScalePortable(uint8_t* dst, uint8_t c, size_t n) {
  const uint8_t* m = Tables().mul[c].data();
  for (size_t i = 0; i < n; ++i) dst[i] = m[dst[i]];
}

void MulCopyPortable(uint8_t* dst, const uint8_t* src, uint8_t c, size_t n) {
  const uint8_t* m = Tables().mul[c].data();
  for (size_t i = 0; i < n; ++i) dst[i] = m[src[i]];
}

__attribute__((target("avx2"))) void XorAvx2(uint8_t* dst, const uint8_t* src, size_t n) {
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dst + i));
    __m256i a1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dst + i + 32));
    __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 32));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_xor_si256(a0, b0));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 32), _mm256_xor_si256(a1, b1));
  }
  for (; i + 32 <= n; i += 32) {
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dst + i));
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_xor_si256(a, b));
  }
  XorPortable(dst + i, src + i, n - i);
}

// c * x via two 16-entry lookups (low and high nibble) with vpshufb.
__attribute__((target("avx2"))) inline __m256i MulVec(__m256i x, __m256i lo, __m256i hi,
                                                      __m256i mask) {
  __m256i l = _mm256_and_si256(x, mask);
  __m256i h = _mm256_and_si256(_mm256_srli_epi64(x, 4), mask);
  return _mm256_xor_si256(_mm256_shuffle_epi8(lo, l), _mm256_shuffle_epi8(hi, h));
}

template <bool kAccumulate>
__attribute__((target("avx2"))) void MulAvx2(uint8_t* dst, const uint8_t* src, uint8_t c,
                                             size_t n) {
  const GfTables& t = Tables();
  __m128i lo128 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t.lo[c].data()));
  __m128i hi128 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t.hi[c].data()));
  __m256i lo = _mm256_broadcastsi128_si256(lo128);
  __m256i hi = _mm256_broadcastsi128_si256(hi128);
  __m256i mask = _mm256_set1_epi8(0x0f);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    __m256i p = MulVec(x, lo, hi, mask);
    if constexpr (kAccumulate) {
      p = _mm256_xor_si256(p, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dst + i)));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), p);
  }
  const uint8_t* m = t.mul[c].data();
  for (; i < n; ++i) {
    if constexpr (kAccumulate) {
      dst[i] ^= m[src[i]];
    } else {
      dst[i] = m[src[i]];
    }
  }
}

__attribute__((target("avx2"))) void MulAddAvx2(uint8_t* dst, const uint8_t* src, uint8_t c,
                                                size_t n) {
  MulAvx2<true>(dst, src, c, n);
}
__attribute__((target("avx2"))) void MulCopyAvx2(uint8_t* dst, const uint8_t* src, uint8_t c,
                                                 size_t n) {
  MulAvx2<false>(dst, src, c, n);
}
__attribute__((target("avx2"))) void ScaleAvx2(uint8_t* dst, uint8_t c, size_t n) {
  MulAvx2<false>(dst, dst, c, n);
}

struct Kernels {
  void (*xor_into)(uint8_t*, const uint8_t*, size_t);
  void (*mul_add)(uint8_t*, const uint8_t*, uint8_t, size_t);
  void (*scale)(uint8_t*, uint8_t, size_t);
  void (*mul_copy)(uint8_t*, const uint8_t*, uint8_t, size_t);
  const char* name;
};

constexpr Kernels kPortable{XorPortable, MulAddPortable, ScalePortable, MulCopyPortable,
                            "portable"};
constexpr Kernels kAvx2{XorAvx2, MulAddAvx2, ScaleAvx2, MulCopyAvx2, "avx2"};

const Kernels* AutoKernels() { return CpuHasAvx2() ? &kAvx2 : &kPortable; }

const Kernels* g_kernels = AutoKernels();

}  // namespace

bool CpuHasAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}

void SetKernelImpl(KernelImpl impl) {
  switch (impl) {
    case KernelImpl::kAuto:
      g_kernels = AutoKernels();
      break;
    case KernelImpl::kPortable:
      g_kernels = &kPortable;
      break;
    case KernelImpl::kAvx2:
      g_kernels = CpuHasAvx2() ? &kAvx2 : &kPortable;
      break;
  }
}

const char* ActiveKernelName() { return g_kernels->name; }

void XorInto(uint8_t* dst, const uint8_t* src, size_t n) { g_kernels->xor_into(dst, src, n); }

void MulAddInto(uint8_t* dst, const uint8_t* src, uint8_t c, size_t n) {
  if (c == 0) return;
  if (c == 1) return g_kernels->xor_into(dst, src, n);
  g_kernels->mul_add(dst, src, c, n);
}

void ScaleInPlace(uint8_t* dst, uint8_t c, size_t n) {
  if (c == 1 || n == 0) return;
  if (c == 0) {
    std::memset(dst, 0, n);
    return;
  }
  g_kernels->scale(dst, c, n);
}

void MulCopy(uint8_t* dst, const uint8_t* src, uint8_t c, size_t n) {
  if (n == 0) return;
  if (c == 1) {
    std::memmove(dst, src, n);
    return;
  }
  if (c == 0) {
    std::memset(dst, 0, n);
    return;
  }
  g_kernels->mul_copy(dst, src, c, n);
}

uint8_t GfMul(uint8_t a, uint8_t b) { return Tables().mul[a][b]; }

uint8_t GfInv(uint8_t a) {
  const GfTables& t = Tables();
  return a == 0 ? 0 : t.exp[(255 - t.log[a]) % 255];
}

uint8_t GfExp(uint32_t e) { return Tables().exp[e % 255]; }

}  // namespace lcfs::fec
