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

// The L intermediate symbols, T bytes each, contiguous.
struct IntermediateSymbols {
  const CodeParams* params = nullptr;
  size_t symbol_size = 0;
  std::vector<uint8_t> bytes;
  const uint8_t* Column(uint32_t c) const { return bytes.data() + size_t{c} * symbol_size; }
};

// Runs `plan` on the workspace `slots` and gathers the result.
IntermediateSymbols CollectIntermediate(const CodeParams& p, const Plan& plan,
                                        std::span<uint8_t* const> slots, size_t symbol_size);

// The encoding symbol with internal symbol index `isi` (Enc[], 5.3.5.3).
void LtSymbol(const IntermediateSymbols& c, uint32_t isi, uint8_t* out);

}  // namespace lcfs::fec
