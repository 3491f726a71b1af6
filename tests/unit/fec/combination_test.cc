// SolveCombinations: which multiples of given vectors make up a residual.
#include "lcfs/fec/combination.h"

#include <gtest/gtest.h>

#include <random>

#include "lcfs/fec/symbol_ops.h"

namespace lcfs::fec {
namespace {

std::optional<std::vector<uint8_t>> SolveCombination(
    std::span<const std::span<const uint8_t>> vectors, std::span<const uint8_t> residual) {
  std::span<const uint8_t> one[] = {residual};
  return SolveCombinations(vectors, one)[0];
}

std::vector<uint8_t> Random(size_t n, std::mt19937& rng) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

std::vector<uint8_t> Combine(const std::vector<std::vector<uint8_t>>& vectors,
                             const std::vector<uint8_t>& c, size_t n) {
  std::vector<uint8_t> r(n, 0);
  for (size_t k = 0; k < vectors.size(); ++k) MulAddInto(r.data(), vectors[k].data(), c[k], n);
  return r;
}

TEST(SolveCombinations, FindsTheCoefficientsOfIndependentVectors) {
  std::mt19937 rng(1);
  const size_t n = 300, m = 40;
  std::vector<std::vector<uint8_t>> vectors;
  for (size_t k = 0; k < m; ++k) vectors.push_back(Random(n, rng));
  std::vector<uint8_t> c(m, 0);
  c[3] = 1;
  c[17] = 0x9c;
  c[39] = 7;
  std::vector<std::span<const uint8_t>> spans(vectors.begin(), vectors.end());
  auto got = SolveCombination(spans, Combine(vectors, c, n));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, c);
}

TEST(SolveCombinations, RefusesAResidualOutsideTheSpan) {
  std::mt19937 rng(2);
  const size_t n = 200;
  std::vector<std::vector<uint8_t>> vectors;
  for (size_t k = 0; k < 20; ++k) vectors.push_back(Random(n, rng));
  std::vector<std::span<const uint8_t>> spans(vectors.begin(), vectors.end());
  EXPECT_FALSE(SolveCombination(spans, Random(n, rng)).has_value());
}

// Many vectors that differ only in their last bytes (copies altered in the
// same place) are dependent: their coefficients are left at 0 while an
// independent vector's is still found.
TEST(SolveCombinations, DependentVectorsGetZeroAndTheOthersAreStillFound) {
  std::mt19937 rng(3);
  const size_t n = 100;
  std::vector<std::vector<uint8_t>> vectors;
  for (size_t k = 0; k < 30; ++k) {
    std::vector<uint8_t> v(n, 0);
    for (size_t i = n - 4; i < n; ++i) v[i] = static_cast<uint8_t>(rng());
    vectors.push_back(std::move(v));
  }
  vectors.push_back(Random(n, rng));
  std::vector<uint8_t> c(vectors.size(), 0);
  c.back() = 0x42;
  std::vector<std::span<const uint8_t>> spans(vectors.begin(), vectors.end());
  auto got = SolveCombination(spans, Combine(vectors, c, n));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, c);
  EXPECT_FALSE(SolveCombination({}, vectors[0]).has_value());
  EXPECT_EQ(SolveCombination({}, std::vector<uint8_t>(n, 0)), std::vector<uint8_t>{});
}

// Several residuals share one elimination; each is answered on its own.
TEST(SolveCombinations, AnswersEachResidualOnItsOwn) {
  std::mt19937 rng(4);
  const size_t n = 64;
  std::vector<std::vector<uint8_t>> vectors;
  for (size_t k = 0; k < 10; ++k) vectors.push_back(Random(n, rng));
  std::vector<uint8_t> c1(10, 0), c2(10, 0);
  c1[0] = 5;
  c2[9] = 1;
  c2[4] = 0xff;
  const auto r1 = Combine(vectors, c1, n), r2 = Combine(vectors, c2, n), r3 = Random(n, rng);
  std::vector<std::span<const uint8_t>> spans(vectors.begin(), vectors.end());
  std::span<const uint8_t> residuals[] = {r1, r3, r2};
  auto got = SolveCombinations(spans, residuals);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], c1);
  EXPECT_FALSE(got[1].has_value());
  EXPECT_EQ(got[2], c2);
}

TEST(Span, HoldsExactlyTheCombinationsOfWhatWasAdded) {
  std::mt19937 rng(5);
  const size_t n = 32;
  Span span(n);
  std::vector<std::vector<uint8_t>> vectors;
  for (size_t k = 0; k < 6; ++k) {
    vectors.push_back(Random(n, rng));
    EXPECT_TRUE(span.Add(vectors.back()));
  }
  std::vector<uint8_t> c = {3, 0, 0x80, 1, 0, 9};
  const auto inside = Combine(vectors, c, n);
  EXPECT_FALSE(span.Add(inside));  // already in it
  EXPECT_EQ(span.rank(), 6u);
  EXPECT_TRUE(span.Contains(inside));
  EXPECT_TRUE(span.Contains(std::vector<uint8_t>(n, 0)));
  EXPECT_FALSE(span.Contains(Random(n, rng)));
}

}  // namespace
}  // namespace lcfs::fec
