#include "fec/plan.h"

#include <algorithm>
#include <cstring>

#include "lcfs/check.h"
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

// Inactivation decoding of A * C = D (section 5.4.2.1), one phase per
// method, called in order by Build. The matrix has S LDPC rows, H HDPC rows
// and one LT row per ISI over L columns; the binary rows (LDPC, LT) are kept
// sparse, the HDPC rows only ever enter the small dense system.
//
// The phases, against the RFC's:
//   Peel              first phase (5.4.2.2): choose rows by fewest active
//                     columns, one pivot each, inactivate the rest.
//   ForwardSubstitute the first phase's row operations, on the pivot rows.
//   ReduceBinaryRows  ... and on the rows the first phase did not choose,
//                     leaving their part on the inactive columns (U_lower).
//   AddHdpcRows       the HDPC rows (5.3.3.3) reduced the same way.
//   Eliminate         second phase (5.4.2.3): Gaussian elimination of U_lower
//                     to an upper triangle with a unit diagonal.
//   BackSubstitute    third to fifth phases (5.4.2.4-5.4.2.6) for the
//                     inactive columns: the triangle becomes the identity.
//   SolvePivots       the pivot columns from their triangular rows.
// Matrix work happens here; symbol work is only recorded (OpRecorder) for
// RunPlan to replay.
class Planner {
 public:
  Planner(const CodeParams& p, std::span<const uint32_t> isis)
      : p_(p),
        n_lt_(static_cast<uint32_t>(isis.size())),
        n_bin_(p.s + n_lt_),
        rows_(BuildBinaryRows(p, isis)),
        col_rows_(Transpose(rows_, p.l)) {}

  std::optional<Plan> Build() {
    if (n_lt_ < p_.k_prime) return std::nullopt;
    Peel();
    if (!StartDenseSystem()) return std::nullopt;
    ForwardSubstitute();
    ReduceBinaryRows();
    AddHdpcRows();
    if (!Eliminate()) return std::nullopt;
    BackSubstitute();
    return SolvePivots();
  }

 private:
  // Binary row r's slot: LDPC rows come first, then the H HDPC slots, then
  // the LT rows in the order given.
  uint32_t SlotOfRow(uint32_t r) const { return r < p_.s ? r : r + p_.h; }
  uint32_t PivotSlot(uint32_t c) const { return SlotOfRow(pivot_row_[pos_[c]]); }
  uint64_t* ZRow(uint32_t k) { return &z_[size_t{k} * words_]; }
  uint8_t* DenseRow(uint32_t i) { return &coef_[size_t{i} * u_]; }

  // First phase (5.4.2.2). Repeatedly take the unused binary row with the
  // fewest active columns (r in the RFC), keep one of those as its pivot and
  // inactivate the others. The P permanently inactive columns W..L-1 start
  // inactive (5.4.2.1); active columns left when no row has any are
  // inactivated too. Rows are kept in buckets by degree; a row's degree only
  // falls, so stale bucket entries are skipped when popped.
  void Peel() {
    const uint32_t W = p_.w, L = p_.l;
    state_.assign(L, kActive);
    for (uint32_t c = W; c < L; ++c) Inactivate(c);
    std::vector<uint32_t> degree(n_bin_, 0);
    uint32_t max_degree = 0;
    for (uint32_t r = 0; r < n_bin_; ++r) {
      for (uint32_t c : rows_.Row(r)) degree[r] += c < W ? 1 : 0;
      max_degree = std::max(max_degree, degree[r]);
    }
    std::vector<std::vector<uint32_t>> buckets(max_degree + 1);
    for (uint32_t r = n_bin_; r-- > 0;) buckets[degree[r]].push_back(r);
    used_.assign(n_bin_, 0);
    pos_.assign(L, 0);
    uint32_t lowest = 1;
    std::vector<uint32_t> row_active;
    for (;;) {
      uint32_t r = UINT32_MAX;
      for (uint32_t d = lowest; d <= max_degree && r == UINT32_MAX; ++d) {
        auto& bucket = buckets[d];
        while (!bucket.empty()) {
          uint32_t q = bucket.back();
          bucket.pop_back();
          if (!used_[q] && degree[q] == d) {
            r = q;
            lowest = d;
            break;
          }
        }
      }
      if (r == UINT32_MAX) break;
      row_active.clear();
      for (uint32_t c : rows_.Row(r)) {
        if (state_[c] == kActive) row_active.push_back(c);
      }
      LCFS_DCHECK(row_active.size() == degree[r] && !row_active.empty());
      // Keep as pivot the column in most rows: the others go to the dense phase.
      uint32_t pivot = row_active[0];
      for (uint32_t c : row_active) {
        if (col_rows_.Row(c).size() > col_rows_.Row(pivot).size()) pivot = c;
      }
      used_[r] = 1;
      pos_[pivot] = static_cast<uint32_t>(pivot_row_.size());
      pivot_row_.push_back(r);
      pivot_col_.push_back(pivot);
      for (uint32_t c : row_active) {
        if (c != pivot) {
          Inactivate(c);
        } else {
          state_[c] = kPivot;
        }
        // The column leaves every unused row's active set.
        for (uint32_t q : col_rows_.Row(c)) {
          if (used_[q]) continue;
          if (uint32_t d = --degree[q]; d > 0) {
            buckets[d].push_back(q);
            lowest = std::min(lowest, d);
          }
        }
      }
    }
    for (uint32_t c = 0; c < W; ++c) {
      if (state_[c] == kActive) Inactivate(c);
    }
    n_piv_ = static_cast<uint32_t>(pivot_row_.size());
    u_ = static_cast<uint32_t>(inactive_.size());
    if constexpr (kDcheckIsOn) CheckPeeled();
  }

  void Inactivate(uint32_t c) {
    state_[c] = kInactive;
    inactive_.push_back(c);
  }

  // Postcondition of Peel: every column is a pivot or inactive, each pivot
  // column belongs to one row, and the pivot rows restricted to the pivot
  // columns are lower triangular with a unit diagonal, in pivot order (what
  // the forward and back substitutions rely on).
  void CheckPeeled() const {
    LCFS_DCHECK(n_piv_ + u_ == p_.l);
    for (uint32_t c = 0; c < p_.l; ++c) {
      LCFS_DCHECK(state_[c] != kActive);
      LCFS_DCHECK(state_[c] != kPivot || pivot_col_[pos_[c]] == c);
    }
    for (uint32_t k = 0; k < n_piv_; ++k) {
      uint32_t diagonal = 0;
      for (uint32_t c : rows_.Row(pivot_row_[k])) {
        if (state_[c] != kPivot) continue;
        LCFS_DCHECK(pos_[c] <= k);
        diagonal += pos_[c] == k;
      }
      LCFS_DCHECK(diagonal == 1);
    }
  }

  // Sizes the dense system (the unused binary rows plus the H HDPC rows, on
  // the u inactive columns) and the slots; false if it has fewer rows than
  // unknowns, when the received symbols cannot determine the block.
  bool StartDenseSystem() {
    const uint32_t S = p_.s, H = p_.h;
    n_dense_ = n_bin_ - n_piv_ + H;
    if (n_dense_ < u_) return false;
    inactive_index_.assign(p_.l, 0);
    for (uint32_t j = 0; j < u_; ++j) inactive_index_[inactive_[j]] = j;
    words_ = (u_ + 63) / 64;
    running_slot_ = S + H + n_lt_;
    scratch_base_ = running_slot_ + 1;
    slot_count_ = scratch_base_ + n_piv_;
    // Typically about 20 operations per intermediate symbol, plus the dense
    // elimination's up to u^2. Slots 0..S+H-1 (LDPC and HDPC rows: their
    // right-hand side is zero) and the work slots start as zero.
    rec_.emplace(slot_count_, S + H, size_t{p_.l} * 24 + size_t{u_} * u_);
    for (uint32_t s = running_slot_; s < slot_count_; ++s) rec_->MarkZero(s);
    coef_.assign(size_t{n_dense_} * u_, 0);
    dense_slot_.reserve(n_dense_);
    return true;
  }

  // The first phase's row operations on the pivot rows, in pivot order: Z[k]
  // holds the inactive-column coefficients pivot row k has once the earlier
  // pivots are eliminated from it, and the pivot rows' symbols become
  // Y = A11^-1 * D in place.
  void ForwardSubstitute() {
    z_.assign(size_t{n_piv_} * words_, 0);
    for (uint32_t k = 0; k < n_piv_; ++k) {
      uint64_t* zk = ZRow(k);
      const uint32_t r = pivot_row_[k];
      for (uint32_t c : rows_.Row(r)) {
        if (state_[c] == kInactive) {
          const uint32_t j = inactive_index_[c];
          zk[j / 64] ^= uint64_t{1} << (j % 64);
        } else if (pos_[c] != k) {
          const uint64_t* zj = ZRow(pos_[c]);
          for (size_t w = 0; w < words_; ++w) zk[w] ^= zj[w];
          rec_->Xor(SlotOfRow(r), PivotSlot(c));
        }
      }
    }
  }

  // The rows Peel did not choose, with every pivot column eliminated: their
  // inactive-column part (the Schur complement) becomes a dense row.
  void ReduceBinaryRows() {
    std::vector<uint64_t> bits(words_);
    for (uint32_t r = 0; r < n_bin_; ++r) {
      if (used_[r]) continue;
      std::fill(bits.begin(), bits.end(), 0);
      for (uint32_t c : rows_.Row(r)) {
        if (state_[c] == kInactive) {
          const uint32_t j = inactive_index_[c];
          bits[j / 64] ^= uint64_t{1} << (j % 64);
        } else {
          const uint64_t* zj = ZRow(pos_[c]);
          for (size_t w = 0; w < words_; ++w) bits[w] ^= zj[w];
          rec_->Xor(SlotOfRow(r), PivotSlot(c));
        }
      }
      uint8_t* out = DenseRow(static_cast<uint32_t>(dense_slot_.size()));
      for (uint32_t j = 0; j < u_; ++j) out[j] = (bits[j / 64] >> (j % 64)) & 1;
      dense_slot_.push_back(SlotOfRow(r));
    }
    LCFS_DCHECK(dense_slot_.size() == n_dense_ - p_.h);
  }

  // HDPC rows (section 5.3.3.3): G_HDPC = MT * GAMMA with GAMMA[i][j] =
  // alpha^(i-j) for i >= j, followed by I_H. Run y_i = alpha * y_(i-1) + x_i
  // over the first K'+S columns and add y_i into the rows MT marks; x_i is
  // the column's coefficient vector (Z of its pivot, or a unit vector if
  // inactive) and, on the symbol side, its Y.
  void AddHdpcRows() {
    const uint32_t S = p_.s, H = p_.h;
    const uint32_t hdpc_first = static_cast<uint32_t>(dense_slot_.size());
    for (uint32_t h = 0; h < H; ++h) dense_slot_.push_back(S + h);
    std::vector<uint8_t> y(u_, 0);
    const uint32_t ks = p_.k_prime + S;
    for (uint32_t c = 0; c < ks; ++c) {
      ScaleInPlace(y.data(), 2, u_);
      rec_->Scale(running_slot_, 2);
      if (state_[c] == kInactive) {
        y[inactive_index_[c]] ^= 1;
      } else {
        const uint64_t* zk = ZRow(pos_[c]);
        for (size_t w = 0; w < words_; ++w) {
          for (uint64_t v = zk[w]; v != 0; v &= v - 1) y[w * 64 + __builtin_ctzll(v)] ^= 1;
        }
        rec_->Xor(running_slot_, PivotSlot(c));
      }
      if (c + 1 < ks) {
        const uint32_t i1 = Rand(c + 1, 6, H);
        const uint32_t i2 = (i1 + Rand(c + 1, 7, H - 1) + 1) % H;
        XorInto(DenseRow(hdpc_first + i1), y.data(), u_);
        XorInto(DenseRow(hdpc_first + i2), y.data(), u_);
        rec_->Xor(S + i1, running_slot_);
        rec_->Xor(S + i2, running_slot_);
      } else {
        for (uint32_t h = 0; h < H; ++h) {
          MulAddInto(DenseRow(hdpc_first + h), y.data(), GfExp(h), u_);
          rec_->MulAdd(S + h, running_slot_, GfExp(h));
        }
      }
    }
    // I_H: the HDPC columns K'+S..L-1 are permanently inactive.
    for (uint32_t h = 0; h < H; ++h) {
      LCFS_DCHECK(state_[ks + h] == kInactive);
      DenseRow(hdpc_first + h)[inactive_index_[ks + h]] ^= 1;
    }
    LCFS_DCHECK(dense_slot_.size() == n_dense_);
  }

  // Second phase (5.4.2.3): Gaussian elimination over GF(256) of the dense
  // system, rows permuted through perm_. False if it is singular.
  bool Eliminate() {
    perm_.resize(n_dense_);
    for (uint32_t i = 0; i < n_dense_; ++i) perm_[i] = i;
    for (uint32_t j = 0; j < u_; ++j) {
      uint32_t t = j;
      // Prefer a row whose pivot is 1: it needs no scaling.
      uint32_t any = UINT32_MAX;
      for (; t < n_dense_; ++t) {
        const uint8_t v = DenseRow(perm_[t])[j];
        if (v == 1) break;
        if (v != 0 && any == UINT32_MAX) any = t;
      }
      if (t == n_dense_) {
        if (any == UINT32_MAX) return false;
        t = any;
      }
      std::swap(perm_[j], perm_[t]);
      uint8_t* prow = DenseRow(perm_[j]);
      const uint32_t pslot = dense_slot_[perm_[j]];
      if (prow[j] != 1) {
        const uint8_t inv = GfInv(prow[j]);
        ScaleInPlace(prow + j, inv, u_ - j);
        rec_->Scale(pslot, inv);
      }
      for (uint32_t t2 = j + 1; t2 < n_dense_; ++t2) {
        uint8_t* qrow = DenseRow(perm_[t2]);
        const uint8_t f = qrow[j];
        if (f == 0) continue;
        MulAddInto(qrow + j, prow + j, f, u_ - j);
        rec_->MulAdd(dense_slot_[perm_[t2]], pslot, f);
      }
    }
    if constexpr (kDcheckIsOn) {
      // Upper triangular with a unit diagonal; the rows past u are all zero.
      for (uint32_t i = 0; i < n_dense_; ++i) {
        const uint8_t* row = DenseRow(perm_[i]);
        for (uint32_t j = 0; j < std::min(i, u_); ++j) LCFS_DCHECK(row[j] == 0);
        if (i < u_) LCFS_DCHECK(row[i] == 1);
      }
    }
    return true;
  }

  // Third to fifth phases (5.4.2.4-5.4.2.6) for the inactive columns: clear
  // the upper triangle from the last column back, so that row perm_[j]'s slot
  // holds intermediate symbol inactive_[j]. Only symbols change here: the
  // coefficients above the diagonal are read, not cleared.
  void BackSubstitute() {
    for (uint32_t j = u_; j-- > 0;) {
      const uint32_t pslot = dense_slot_[perm_[j]];
      for (uint32_t t = 0; t < j; ++t) {
        const uint8_t f = DenseRow(perm_[t])[j];
        if (f != 0) rec_->MulAdd(dense_slot_[perm_[t]], pslot, f);
      }
    }
  }

  // The pivot columns: C_k = Y_k + E_k, E the solution of the triangular
  // system (Peel's postcondition) whose right side is the inactive columns'
  // part of pivot row k, solved in pivot order into the scratch slots.
  Plan SolvePivots() {
    const uint32_t L = p_.l;
    Plan plan;
    plan.row_slots = p_.s + p_.h + n_lt_;
    plan.slot_count = slot_count_;
    plan.inactive_count = u_;
    plan.column_slot.assign(L, 0);
    plan.column_zero.assign(L, 0);
    for (uint32_t j = 0; j < u_; ++j) plan.column_slot[inactive_[j]] = dense_slot_[perm_[j]];
    for (uint32_t k = 0; k < n_piv_; ++k) {
      const uint32_t e = scratch_base_ + k;
      for (uint32_t c : rows_.Row(pivot_row_[k])) {
        if (state_[c] == kInactive) {
          rec_->Xor(e, plan.column_slot[c]);
        } else if (pos_[c] != k) {
          LCFS_DCHECK(pos_[c] < k);  // solved already
          rec_->Xor(e, scratch_base_ + pos_[c]);
        }
      }
      const uint32_t rs = SlotOfRow(pivot_row_[k]);
      rec_->Xor(rs, e);
      plan.column_slot[pivot_col_[k]] = rs;
    }
    for (uint32_t c = 0; c < L; ++c) plan.column_zero[c] = rec_->IsZero(plan.column_slot[c]);
    plan.ops = rec_->Take();
    if constexpr (kDcheckIsOn) CheckReadsFollowWrites(plan);
    return plan;
  }

  // Postcondition of the whole plan, which lets RunPlan skip zeroing slots:
  // no operation reads a slot before it is written (only the LT rows' slots
  // hold data at the start), and every nonzero result slot was written.
  void CheckReadsFollowWrites(const Plan& plan) const {
    std::vector<uint8_t> written(plan.slot_count, 0);
    for (uint32_t s = p_.s + p_.h; s < plan.row_slots; ++s) written[s] = 1;
    for (const SymbolOp& op : plan.ops) {
      LCFS_DCHECK(op.dst < plan.slot_count && op.src < plan.slot_count);
      LCFS_DCHECK(written[op.src]);
      const bool reads_dst = op.kind != SymbolOp::kCopy && op.kind != SymbolOp::kMulCopy;
      LCFS_DCHECK(!reads_dst || written[op.dst]);
      written[op.dst] = 1;
    }
    for (uint32_t c = 0; c < plan.column_slot.size(); ++c)
      LCFS_DCHECK(plan.column_zero[c] || written[plan.column_slot[c]]);
  }

  const CodeParams& p_;
  const uint32_t n_lt_;   // LT rows (received symbols)
  const uint32_t n_bin_;  // binary rows: S LDPC + n_lt_ LT
  const Csr rows_;        // binary rows -> columns
  const Csr col_rows_;    // columns -> binary rows

  // Peel's result.
  std::vector<uint8_t> state_;            // ColumnState per column
  std::vector<uint32_t> inactive_;        // inactive columns, in order inactivated
  std::vector<uint8_t> used_;             // binary row chosen as a pivot row
  std::vector<uint32_t> pivot_row_;       // in pivot order
  std::vector<uint32_t> pivot_col_;       // in pivot order
  std::vector<uint32_t> pos_;             // pivot position of a pivot column
  uint32_t n_piv_ = 0, u_ = 0;            // pivots, inactive columns
  std::vector<uint32_t> inactive_index_;  // column -> index in inactive_

  // The dense system and the slots.
  uint32_t n_dense_ = 0;
  size_t words_ = 0;                  // 64-bit words per Z row
  std::vector<uint64_t> z_;           // n_piv_ rows of u_ bits
  std::vector<uint8_t> coef_;         // n_dense_ rows of u_ GF(256) coefficients
  std::vector<uint32_t> dense_slot_;  // the slot of each dense row
  std::vector<uint32_t> perm_;        // elimination order of the dense rows
  uint32_t running_slot_ = 0;         // the HDPC accumulator
  uint32_t scratch_base_ = 0;         // one scratch slot per pivot
  uint32_t slot_count_ = 0;
  std::optional<OpRecorder> rec_;
};

}  // namespace

std::optional<Plan> BuildPlan(const CodeParams& p, std::span<const uint32_t> isis) {
  return Planner(p, isis).Build();
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
