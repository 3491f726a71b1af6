// Intermediate symbols of one source block and the LT symbols made from them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "fec/code_params.h"
#include "fec/plan.h"

namespace lcfs::fec {

// The plan for encoding (LT rows for ISIs 0..K'-1), built once per K' per
// process and shared. Thread-safe.
std::shared_ptr<const Plan> EncodingPlan(const CodeParams& p);

// The L intermediate symbols, T bytes each: either pointers into a solver
// workspace that outlives this object, or (Own()) a compact copy.
struct IntermediateSymbols {
  const CodeParams* params = nullptr;
  size_t symbol_size = 0;
  std::vector<const uint8_t*> columns;
  std::vector<uint8_t> owned;
  const uint8_t* Column(uint32_t c) const { return columns[c]; }
  // Copies the symbols into `owned` so the workspace can go.
  void Own();
};

// Runs `plan` on the workspace `slots`; the result points into it.
IntermediateSymbols Solve(const CodeParams& p, const Plan& plan, std::span<uint8_t* const> slots,
                          size_t symbol_size);

// A per-thread buffer for solver workspaces, reused to spare the page faults
// of a fresh allocation per block. Returned memory is uninitialised and valid
// until the next call on this thread; large buffers are not kept.
uint8_t* ScratchBuffer(size_t bytes);
void ReleaseScratch();

// The encoding symbol with internal symbol index `isi` (Enc[], 5.3.5.3).
void LtSymbol(const IntermediateSymbols& c, uint32_t isi, uint8_t* out);

}  // namespace lcfs::fec
