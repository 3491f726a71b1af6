#include "lcfs/fec/combination.h"

#include <algorithm>

#include "lcfs/fec/symbol_ops.h"

namespace lcfs::fec {

// Gaussian elimination on rows [vector | unit row of its index]: each
// independent vector becomes a pivot row, reduced by the pivots before it, so
// a later pivot row is zero in every earlier pivot's column. Reducing the
// residual by the pivots in order then leaves in its tracking part the
// coefficients of the original vectors.
std::vector<std::optional<std::vector<uint8_t>>> SolveCombinations(
    std::span<const std::span<const uint8_t>> vectors,
    std::span<const std::span<const uint8_t>> residuals) {
  std::vector<std::optional<std::vector<uint8_t>>> out(residuals.size());
  if (residuals.empty()) return out;
  const size_t n = residuals[0].size();
  const size_t m = vectors.size();
  const size_t width = n + m;
  auto nonzero = [](uint8_t x) { return x != 0; };
  struct Pivot {
    size_t column;
    std::vector<uint8_t> row;
  };
  std::vector<Pivot> pivots;
  pivots.reserve(std::min(m, n));
  auto reduce = [&](std::vector<uint8_t>& row) {
    for (const Pivot& p : pivots) {
      if (uint8_t a = row[p.column]; a != 0) MulAddInto(row.data(), p.row.data(), a, width);
    }
  };
  for (size_t k = 0; k < m; ++k) {
    if (vectors[k].size() != n) return out;
    std::vector<uint8_t> row(width, 0);
    std::copy(vectors[k].begin(), vectors[k].end(), row.begin());
    row[n + k] = 1;
    reduce(row);
    auto lead = std::find_if(row.begin(), row.begin() + static_cast<ptrdiff_t>(n), nonzero);
    if (lead == row.begin() + static_cast<ptrdiff_t>(n)) continue;  // dependent: coefficient 0
    ScaleInPlace(row.data(), GfInv(*lead), width);
    pivots.push_back({static_cast<size_t>(lead - row.begin()), std::move(row)});
  }
  for (size_t i = 0; i < residuals.size(); ++i) {
    if (residuals[i].size() != n) continue;
    std::vector<uint8_t> r(width, 0);
    std::copy(residuals[i].begin(), residuals[i].end(), r.begin());
    reduce(r);
    if (std::any_of(r.begin(), r.begin() + static_cast<ptrdiff_t>(n), nonzero)) continue;
    out[i].emplace(r.begin() + static_cast<ptrdiff_t>(n), r.end());
  }
  return out;
}

size_t Span::Reduce(std::vector<uint8_t>& v) const {
  for (const auto& [column, row] : pivots_) {
    if (uint8_t a = v[column]; a != 0) MulAddInto(v.data(), row.data(), a, n_);
  }
  return static_cast<size_t>(std::find_if(v.begin(), v.end(), [](uint8_t x) { return x != 0; }) -
                             v.begin());
}

bool Span::Add(std::span<const uint8_t> v) {
  std::vector<uint8_t> row(v.begin(), v.end());
  row.resize(n_, 0);
  const size_t lead = Reduce(row);
  if (lead == n_) return false;
  ScaleInPlace(row.data(), GfInv(row[lead]), n_);
  pivots_.emplace_back(lead, std::move(row));
  return true;
}

bool Span::Contains(std::span<const uint8_t> v) const {
  std::vector<uint8_t> row(v.begin(), v.end());
  row.resize(n_, 0);
  return Reduce(row) == n_;
}

}  // namespace lcfs::fec
