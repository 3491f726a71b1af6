// The GF(256) kernels: AVX2 and portable versions agree with byte-wise
// field arithmetic, for every coefficient and awkward lengths.
#include "lcfs/fec/symbol_ops.h"

#include <gtest/gtest.h>

#include <vector>

#include "fec_test_util.h"

namespace lcfs::fec {
namespace {

// Carry-less multiply reduced by x^8 + x^4 + x^3 + x^2 + 1.
uint8_t SlowMul(uint8_t a, uint8_t b) {
  unsigned r = 0, x = a;
  for (int i = 0; i < 8; ++i) {
    if (b & (1 << i)) r ^= x;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  return static_cast<uint8_t>(r);
}

TEST(SymbolOpsTest, FieldArithmetic) {
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      ASSERT_EQ(GfMul(static_cast<uint8_t>(a), static_cast<uint8_t>(b)),
                SlowMul(static_cast<uint8_t>(a), static_cast<uint8_t>(b)));
    }
    if (a) {
      EXPECT_EQ(GfMul(static_cast<uint8_t>(a), GfInv(static_cast<uint8_t>(a))), 1);
    }
  }
  EXPECT_EQ(GfExp(0), 1);
  EXPECT_EQ(GfExp(8), 0x1d);
}

class KernelTest : public ::testing::TestWithParam<KernelImpl> {
 protected:
  void SetUp() override {
    if (GetParam() == KernelImpl::kAvx2 && !CpuHasAvx2()) GTEST_SKIP() << "no AVX2 here";
    SetKernelImpl(GetParam());
  }
  void TearDown() override { SetKernelImpl(KernelImpl::kAuto); }
};

TEST_P(KernelTest, MatchesByteWiseArithmetic) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{31}, size_t{32}, size_t{33}, size_t{100},
                   size_t{1280}, size_t{1283}}) {
    auto src = testing::RandomBytes(n, n + 1);
    auto dst0 = testing::RandomBytes(n, n + 2);
    for (int c : {0, 1, 2, 3, 0x1d, 0x80, 0xff}) {
      auto coef = static_cast<uint8_t>(c);
      std::vector<uint8_t> want(n), got = dst0;
      for (size_t i = 0; i < n; ++i) want[i] = dst0[i] ^ SlowMul(coef, src[i]);
      MulAddInto(got.data(), src.data(), coef, n);
      EXPECT_EQ(got, want) << "muladd n=" << n << " c=" << c;

      got = dst0;
      ScaleInPlace(got.data(), coef, n);
      for (size_t i = 0; i < n; ++i) want[i] = SlowMul(coef, dst0[i]);
      EXPECT_EQ(got, want) << "scale n=" << n << " c=" << c;

      MulCopy(got.data(), src.data(), coef, n);
      for (size_t i = 0; i < n; ++i) want[i] = SlowMul(coef, src[i]);
      EXPECT_EQ(got, want) << "mulcopy n=" << n << " c=" << c;
    }
    std::vector<uint8_t> got = dst0, want(n);
    for (size_t i = 0; i < n; ++i) want[i] = dst0[i] ^ src[i];
    XorInto(got.data(), src.data(), n);
    EXPECT_EQ(got, want) << "xor n=" << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Impls, KernelTest,
                         ::testing::Values(KernelImpl::kPortable, KernelImpl::kAvx2),
                         [](const auto& info) {
                           return info.param == KernelImpl::kAvx2 ? "avx2" : "portable";
                         });

}  // namespace
}  // namespace lcfs::fec
