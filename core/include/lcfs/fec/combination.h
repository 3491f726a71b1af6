// Linear combinations of symbols over GF(256): which multiples of given
// difference vectors make up a residual, and whether a vector is in a span.
// A receiver uses them to tell which symbols a forger put into a decode
// (sync's ObjectAssembler): decoding and re-encoding is linear in the
// symbols, so the residual of a check symbol is a combination of the forged
// symbols' errors.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace lcfs::fec {

// For each residual, coefficients c with residual = sum over k of
// c[k] * vectors[k] (every vector and residual of one length n), or nullopt
// when the residual is not in the span of `vectors`. Unknowns left free
// because a vector depends on earlier ones are 0. Cost: about m^2 (n + m)
// byte operations for m vectors, once, plus m (n + m) per residual.
std::vector<std::optional<std::vector<uint8_t>>> SolveCombinations(
    std::span<const std::span<const uint8_t>> vectors,
    std::span<const std::span<const uint8_t>> residuals);

// The span of vectors of n bytes, grown one at a time (row echelon form).
class Span {
 public:
  explicit Span(size_t n) : n_(n) {}
  // Adds `v` (n bytes); true if it was not in the span already.
  bool Add(std::span<const uint8_t> v);
  // Whether `v` (n bytes) is a combination of the vectors added.
  bool Contains(std::span<const uint8_t> v) const;
  size_t rank() const { return pivots_.size(); }

 private:
  // Reduces `v` by the pivots; returns the column of its first nonzero byte,
  // or n_ if it became zero.
  size_t Reduce(std::vector<uint8_t>& v) const;

  size_t n_;
  std::vector<std::pair<size_t, std::vector<uint8_t>>> pivots_;  // (column, row)
};

}  // namespace lcfs::fec
