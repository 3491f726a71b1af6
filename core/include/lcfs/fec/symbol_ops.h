// Whole-symbol arithmetic over GF(256) (RFC 6330 section 5.7): the kernels
// that carry nearly all of the encoder's and decoder's work. Each has an AVX2
// version chosen at run time when the CPU has it, and a portable one.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lcfs::fec {

// dst[i] ^= src[i]
void XorInto(uint8_t* dst, const uint8_t* src, size_t n);
// dst[i] ^= c * src[i] in GF(256)
void MulAddInto(uint8_t* dst, const uint8_t* src, uint8_t c, size_t n);
// dst[i] = c * dst[i]
void ScaleInPlace(uint8_t* dst, uint8_t c, size_t n);
// dst[i] = c * src[i]
void MulCopy(uint8_t* dst, const uint8_t* src, uint8_t c, size_t n);

// GF(256) with the RFC 6330 polynomial x^8 + x^4 + x^3 + x^2 + 1.
uint8_t GfMul(uint8_t a, uint8_t b);
uint8_t GfInv(uint8_t a);   // a != 0
uint8_t GfExp(uint32_t e);  // alpha^e, alpha = 2

// Which kernels run. kAuto picks AVX2 when the CPU supports it. Tests and
// benchmarks force one to compare them; not thread-safe against running kernels.
enum class KernelImpl { kAuto, kPortable, kAvx2 };
void SetKernelImpl(KernelImpl impl);
bool CpuHasAvx2();
const char* ActiveKernelName();

}  // namespace lcfs::fec
