// Solving for the intermediate symbols (RFC 6330 section 5.4.2), split into
// planning and execution.
//
// Planning works on the constraint matrix only: it runs inactivation
// decoding (peeling with inactivation on the sparse LDPC and LT rows, then
// Gaussian elimination of the small dense system left over, HDPC rows
// included) and records every operation it would do on symbols. Execution
// replays those operations on symbol buffers. The matrix depends only on K'
// and the set of ISIs received, so an encoder (ISIs 0..K'-1) plans once per
// K' and replays the plan for every block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "fec/code_params.h"

namespace lcfs::fec {

struct SymbolOp {
  enum Kind : uint8_t { kXor, kCopy, kMulAdd, kMulCopy, kScale };
  Kind kind;
  uint8_t coef;
  uint32_t dst;
  uint32_t src;
};

struct Plan {
  // Slots 0..S+H-1 stand for the LDPC and HDPC rows (whose right-hand side
  // is zero: they need no initial contents), slots S+H..row_slots-1 hold the
  // LT rows' symbols in the order given to BuildPlan. The rest are scratch.
  // No slot needs zeroing: a slot is never read before it is written.
  uint32_t row_slots = 0;
  uint32_t slot_count = 0;
  std::vector<SymbolOp> ops;
  // After RunPlan, intermediate symbol c is in slot column_slot[c], unless
  // column_zero[c], when it is the zero symbol.
  std::vector<uint32_t> column_slot;
  std::vector<uint8_t> column_zero;
  // Diagnostics: columns left to the dense phase.
  uint32_t inactive_count = 0;
};

// Plans the solve with one LT row per ISI in `isis` (duplicates not allowed).
// nullopt if the rows do not determine the intermediate symbols.
std::optional<Plan> BuildPlan(const CodeParams& p, std::span<const uint32_t> isis);

// Runs `plan` on `slots` (plan.slot_count pointers to symbol_size bytes).
void RunPlan(const Plan& plan, std::span<uint8_t* const> slots, size_t symbol_size);

}  // namespace lcfs::fec
