#include "fec/plan.h"

#include <algorithm>
#include <cstring>

#include "lcfs/fec/symbol_ops.h"

namespace lcfs::fec {
namespace {

enum ColumnState : uint8_t { kActive, kInactive, kPivot };

// Records symbol operations, skipping those on slots known to hold zero and
// turning the first write to a zero slot into a copy.
class OpRecorder {
 public:
  OpRecorder(uint32_t slots, uint32_t zero_prefix, size_t expected_ops) : zero_(slots, 0) {
    std::fill(zero_.begin(), zero_.begin() + zero_prefix, 1);
    ops_.reserve(expected_ops);
  }
  void MarkZero(uint32_t slot) { zero_[slot] = 1; }
  bool IsZero(uint32_t slot) const { return zero_[slot] != 0; }

  void Xor(uint32_t dst, uint32_t src) {
    if (zero_[src]) return;
    if (zero_[dst]) {
      ops_.push_back({SymbolOp::kCopy, 1, dst, src});
      zero_[dst] = 0;
    } else {
      ops_.push_back({SymbolOp::kXor, 1, dst, src});
    }
  }
  void MulAdd(uint32_t dst, uint32_t src, uint8_t c) {
    if (c == 0 || zero_[src]) return;
    if (c == 1) return Xor(dst, src);
    if (zero_[dst]) {
      ops_.push_back({SymbolOp::kMulCopy, c, dst, src});
      zero_[dst] = 0;
    } else {
      ops_.push_back({SymbolOp::kMulAdd, c, dst, src});
    }
  }
  void Scale(uint32_t dst, uint8_t c) {
    if (c == 1 || zero_[dst]) return;
    ops_.push_back({SymbolOp::kScale, c, dst, dst});
  }
  std::vector<SymbolOp> Take() { return std::move(ops_); }

 private:
  std::vector<uint8_t> zero_;
  std::vector<SymbolOp> ops_;
};

// Compressed sparse rows: row i's entries are items[start[i] .. start[i+1]).
struct Csr {
  std::vector<uint32_t> start;
  std::vector<uint32_t> items;
  std::span<const uint32_t> Row(uint32_t i) const {
    return {items.data() + start[i], items.data() + start[i + 1]};
  }
};

// Binary rows: LDPC rows 0..S-1 (section 5.3.3.3), then one LT row per ISI.
Csr BuildBinaryRows(const CodeParams& p, std::span<const uint32_t> isis) {
  std::vector<std::vector<uint32_t>> ldpc(p.s);
  for (uint32_t i = 0; i < p.b; ++i) {
    uint32_t a = 1 + i / p.s;
    uint32_t b = i % p.s;
    ldpc[b].push_back(i);
    b = (b + a) % p.s;
    ldpc[b].push_back(i);
    b = (b + a) % p.s;
    ldpc[b].push_back(i);
  }
  for (uint32_t i = 0; i < p.s; ++i) {
    ldpc[i].push_back(p.b + i);
    ldpc[i].push_back(p.w + i % p.p);
    ldpc[i].push_back(p.w + (i + 1) % p.p);
  }
  Csr rows;
  rows.start.reserve(p.s + isis.size() + 1);
  rows.start.push_back(0);
  for (auto& r : ldpc) {
    // Entries are sums over GF(2): a column listed twice cancels.
    std::sort(r.begin(), r.end());
    for (size_t i = 0; i < r.size();) {
      size_t j = i;
      while (j < r.size() && r[j] == r[i]) ++j;
      if ((j - i) % 2 == 1) rows.items.push_back(r[i]);
      i = j;
    }
    rows.start.push_back(static_cast<uint32_t>(rows.items.size()));
  }
  for (uint32_t isi : isis) {
    AppendLtColumns(p, isi, rows.items);
    rows.start.push_back(static_cast<uint32_t>(rows.items.size()));
  }
  return rows;
}

Csr Transpose(const Csr& rows, uint32_t columns) {
  Csr cols;
  cols.start.assign(columns + 1, 0);
  for (uint32_t c : rows.items) ++cols.start[c + 1];
  for (uint32_t c = 0; c < columns; ++c) cols.start[c + 1] += cols.start[c];
  cols.items.resize(rows.items.size());
  std::vector<uint32_t> fill(cols.start.begin(), cols.start.end() - 1);
  uint32_t n = static_cast<uint32_t>(rows.start.size() - 1);
  for (uint32_t r = 0; r < n; ++r) {
    for (uint32_t c : rows.Row(r)) cols.items[fill[c]++] = r;
  }
  return cols;
}

}  // namespace

std::optional<Plan> BuildPlan(const CodeParams& p, std::span<const uint32_t> isis) {
  const uint32_t S = p.s, H = p.h, L = p.l, W = p.w;
  const uint32_t n_lt = static_cast<uint32_t>(isis.size());
  if (n_lt < p.k_prime) return std::nullopt;
  const uint32_t n_bin = S + n_lt;
  auto slot_of_row = [&](uint32_t br) { return br < S ? br : br + H; };

  Csr rows = BuildBinaryRows(p, isis);
  Csr col_rows = Transpose(rows, L);

  // Phase 1: peel. Pick the unused row with the fewest active columns, make
  // one of them its pivot and inactivate the rest. Permanently inactive
  // (PI) columns start inactive (section 5.4.2.1).
  std::vector<uint8_t> state(L, kActive);
  std::vector<uint32_t> inactive;
  for (uint32_t c = W; c < L; ++c) {
    state[c] = kInactive;
    inactive.push_back(c);
  }
  std::vector<uint32_t> degree(n_bin, 0);
  uint32_t max_degree = 0;
  for (uint32_t r = 0; r < n_bin; ++r) {
    for (uint32_t c : rows.Row(r)) degree[r] += c < W ? 1 : 0;
    max_degree = std::max(max_degree, degree[r]);
  }
  std::vector<std::vector<uint32_t>> buckets(max_degree + 1);
  for (uint32_t r = n_bin; r-- > 0;) buckets[degree[r]].push_back(r);
  std::vector<uint8_t> used(n_bin, 0);
  std::vector<uint32_t> pivot_row, pivot_col;  // in pivot order
  std::vector<uint32_t> pos(L, 0);             // pivot position of a column
  uint32_t lowest = 1;
  std::vector<uint32_t> row_active;

  auto retire_column = [&](uint32_t c) {
    for (uint32_t q : col_rows.Row(c)) {
      if (used[q]) continue;
      uint32_t d = --degree[q];
      if (d > 0) {
        buckets[d].push_back(q);
        lowest = std::min(lowest, d);
      }
    }
  };

  for (;;) {
    uint32_t r = UINT32_MAX;
    for (uint32_t d = lowest; d <= max_degree && r == UINT32_MAX; ++d) {
      auto& bucket = buckets[d];
      while (!bucket.empty()) {
        uint32_t q = bucket.back();
        bucket.pop_back();
        if (!used[q] && degree[q] == d) {
          r = q;
          lowest = d;
          break;
        }
      }
    }
    if (r == UINT32_MAX) break;
    row_active.clear();
    for (uint32_t c : rows.Row(r)) {
      if (state[c] == kActive) row_active.push_back(c);
    }
    // Keep as pivot the column in most rows: the others go to the dense phase.
    uint32_t pivot = row_active[0];
    for (uint32_t c : row_active) {
      if (col_rows.Row(c).size() > col_rows.Row(pivot).size()) pivot = c;
    }
    used[r] = 1;
    pos[pivot] = static_cast<uint32_t>(pivot_row.size());
    pivot_row.push_back(r);
    pivot_col.push_back(pivot);
    for (uint32_t c : row_active) {
      if (c != pivot) {
        state[c] = kInactive;
        inactive.push_back(c);
      } else {
        state[c] = kPivot;
      }
      retire_column(c);
    }
  }
  for (uint32_t c = 0; c < W; ++c) {
    if (state[c] == kActive) {
      state[c] = kInactive;
      inactive.push_back(c);
    }
  }

  const uint32_t n_piv = static_cast<uint32_t>(pivot_row.size());
  const uint32_t u = static_cast<uint32_t>(inactive.size());
  const uint32_t n_schur = n_bin - n_piv + H;
  if (n_schur < u) return std::nullopt;
  std::vector<uint32_t> inactive_index(L, 0);
  for (uint32_t j = 0; j < u; ++j) inactive_index[inactive[j]] = j;
  const size_t words = (u + 63) / 64;

  const uint32_t running_slot = S + H + n_lt;      // HDPC accumulator
  const uint32_t scratch_base = running_slot + 1;  // one per pivot
  const uint32_t slot_count = scratch_base + n_piv;
  // Typically about 20 operations per intermediate symbol, plus the dense
  // elimination's up to u^2.
  OpRecorder rec(slot_count, S + H, size_t{L} * 24 + size_t{u} * u);
  for (uint32_t s = running_slot; s < slot_count; ++s) rec.MarkZero(s);

  // Forward substitution through the triangular pivot rows. Z[k] holds the
  // inactive-column coefficients pivot row k has after eliminating the
  // earlier pivots; the pivot rows' symbols become Y = A11^-1 * D in place.
  std::vector<uint64_t> z(size_t{n_piv} * words, 0);
  for (uint32_t k = 0; k < n_piv; ++k) {
    uint64_t* zk = &z[size_t{k} * words];
    uint32_t r = pivot_row[k];
    for (uint32_t c : rows.Row(r)) {
      if (state[c] == kInactive) {
        uint32_t j = inactive_index[c];
        zk[j / 64] ^= uint64_t{1} << (j % 64);
      } else if (pos[c] != k) {
        const uint64_t* zj = &z[size_t{pos[c]} * words];
        for (size_t w = 0; w < words; ++w) zk[w] ^= zj[w];
        rec.Xor(slot_of_row(r), slot_of_row(pivot_row[pos[c]]));
      }
    }
  }

  // The dense system on the inactive columns (Schur complement): unused
  // binary rows, then the HDPC rows.
  std::vector<uint8_t> coef(size_t{n_schur} * u, 0);
  std::vector<uint32_t> schur_slot;
  schur_slot.reserve(n_schur);
  std::vector<uint64_t> bits(words);
  for (uint32_t r = 0; r < n_bin; ++r) {
    if (used[r]) continue;
    std::fill(bits.begin(), bits.end(), 0);
    for (uint32_t c : rows.Row(r)) {
      if (state[c] == kInactive) {
        uint32_t j = inactive_index[c];
        bits[j / 64] ^= uint64_t{1} << (j % 64);
      } else {
        const uint64_t* zj = &z[size_t{pos[c]} * words];
        for (size_t w = 0; w < words; ++w) bits[w] ^= zj[w];
        rec.Xor(slot_of_row(r), slot_of_row(pivot_row[pos[c]]));
      }
    }
    uint8_t* out = &coef[schur_slot.size() * u];
    for (uint32_t j = 0; j < u; ++j) out[j] = (bits[j / 64] >> (j % 64)) & 1;
    schur_slot.push_back(slot_of_row(r));
  }

  // HDPC rows (section 5.3.3.3): G_HDPC = MT * GAMMA with GAMMA[i][j] =
  // alpha^(i-j) for i >= j. Run y_i = alpha * y_(i-1) + x_i over the columns
  // and add y_i into the rows MT marks; x_i is the column's coefficient
  // vector (Z of its pivot, or a unit vector if inactive) and, on the
  // symbol side, its Y.
  const uint32_t hdpc_first = static_cast<uint32_t>(schur_slot.size());
  for (uint32_t h = 0; h < H; ++h) schur_slot.push_back(S + h);
  std::vector<uint8_t> y(u, 0);
  const uint32_t ks = p.k_prime + S;
  for (uint32_t c = 0; c < ks; ++c) {
    ScaleInPlace(y.data(), 2, u);
    rec.Scale(running_slot, 2);
    if (state[c] == kInactive) {
      y[inactive_index[c]] ^= 1;
    } else {
      const uint64_t* zk = &z[size_t{pos[c]} * words];
      for (size_t w = 0; w < words; ++w) {
        uint64_t v = zk[w];
        while (v) {
          int b = __builtin_ctzll(v);
          y[w * 64 + b] ^= 1;
          v &= v - 1;
        }
      }
      rec.Xor(running_slot, slot_of_row(pivot_row[pos[c]]));
    }
    if (c + 1 < ks) {
      uint32_t i1 = Rand(c + 1, 6, H);
      uint32_t i2 = (i1 + Rand(c + 1, 7, H - 1) + 1) % H;
      XorInto(&coef[size_t{hdpc_first + i1} * u], y.data(), u);
      XorInto(&coef[size_t{hdpc_first + i2} * u], y.data(), u);
      rec.Xor(S + i1, running_slot);
      rec.Xor(S + i2, running_slot);
    } else {
      for (uint32_t h = 0; h < H; ++h) {
        MulAddInto(&coef[size_t{hdpc_first + h} * u], y.data(), GfExp(h), u);
        rec.MulAdd(S + h, running_slot, GfExp(h));
      }
    }
  }
  for (uint32_t h = 0; h < H; ++h) coef[size_t{hdpc_first + h} * u + inactive_index[ks + h]] ^= 1;

  // Gaussian elimination over GF(256) on the dense system.
  std::vector<uint32_t> perm(n_schur);
  for (uint32_t i = 0; i < n_schur; ++i) perm[i] = i;
  for (uint32_t j = 0; j < u; ++j) {
    uint32_t t = j;
    // Prefer a row whose pivot is 1: it needs no scaling.
    uint32_t any = UINT32_MAX;
    for (; t < n_schur; ++t) {
      uint8_t v = coef[size_t{perm[t]} * u + j];
      if (v == 1) break;
      if (v != 0 && any == UINT32_MAX) any = t;
    }
    if (t == n_schur) {
      if (any == UINT32_MAX) return std::nullopt;
      t = any;
    }
    std::swap(perm[j], perm[t]);
    uint8_t* prow = &coef[size_t{perm[j]} * u];
    uint32_t pslot = schur_slot[perm[j]];
    if (prow[j] != 1) {
      uint8_t inv = GfInv(prow[j]);
      ScaleInPlace(prow + j, inv, u - j);
      rec.Scale(pslot, inv);
    }
    for (uint32_t t2 = j + 1; t2 < n_schur; ++t2) {
      uint8_t* qrow = &coef[size_t{perm[t2]} * u];
      uint8_t f = qrow[j];
      if (f == 0) continue;
      MulAddInto(qrow + j, prow + j, f, u - j);
      rec.MulAdd(schur_slot[perm[t2]], pslot, f);
    }
  }
  for (uint32_t j = u; j-- > 0;) {
    uint32_t pslot = schur_slot[perm[j]];
    for (uint32_t t = 0; t < j; ++t) {
      uint8_t f = coef[size_t{perm[t]} * u + j];
      if (f != 0) rec.MulAdd(schur_slot[perm[t]], pslot, f);
    }
  }

  Plan plan;
  plan.row_slots = S + H + n_lt;
  plan.slot_count = slot_count;
  plan.inactive_count = u;
  plan.column_slot.assign(L, 0);
  plan.column_zero.assign(L, 0);
  for (uint32_t j = 0; j < u; ++j) plan.column_slot[inactive[j]] = schur_slot[perm[j]];

  // Back to the pivot columns: C_k = Y_k + E_k with E the solution of the
  // triangular system whose right side is the inactive columns' part.
  for (uint32_t k = 0; k < n_piv; ++k) {
    uint32_t e = scratch_base + k;
    for (uint32_t c : rows.Row(pivot_row[k])) {
      if (state[c] == kInactive) {
        rec.Xor(e, plan.column_slot[c]);
      } else if (pos[c] != k) {
        rec.Xor(e, scratch_base + pos[c]);
      }
    }
    uint32_t rs = slot_of_row(pivot_row[k]);
    rec.Xor(rs, e);
    plan.column_slot[pivot_col[k]] = rs;
  }
  for (uint32_t c = 0; c < L; ++c) plan.column_zero[c] = rec.IsZero(plan.column_slot[c]);
  plan.ops = rec.Take();
  return plan;
}

void RunPlan(const Plan& plan, std::span<uint8_t* const> slots, size_t symbol_size) {
  for (const SymbolOp& op : plan.ops) {
    uint8_t* d = slots[op.dst];
    const uint8_t* s = slots[op.src];
    switch (op.kind) {
      case SymbolOp::kXor:
        XorInto(d, s, symbol_size);
        break;
      case SymbolOp::kCopy:
        std::memcpy(d, s, symbol_size);
        break;
      case SymbolOp::kMulAdd:
        MulAddInto(d, s, op.coef, symbol_size);
        break;
      case SymbolOp::kMulCopy:
        MulCopy(d, s, op.coef, symbol_size);
        break;
      case SymbolOp::kScale:
        ScaleInPlace(d, op.coef, symbol_size);
        break;
    }
  }
}

}  // namespace lcfs::fec
