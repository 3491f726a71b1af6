#include "fec/intermediate.h"

#include <cstring>
#include <map>
#include <mutex>
#include <numeric>

#include "lcfs/fec/symbol_ops.h"

namespace lcfs::fec {

std::shared_ptr<const Plan> EncodingPlan(const CodeParams& p) {
  static std::mutex mu;
  static std::map<uint32_t, std::shared_ptr<const Plan>> cache;
  {
    std::lock_guard lock(mu);
    auto it = cache.find(p.k_prime);
    if (it != cache.end()) return it->second;
  }
  std::vector<uint32_t> isis(p.k_prime);
  std::iota(isis.begin(), isis.end(), 0u);
  std::optional<Plan> plan = BuildPlan(p, isis);
  // The systematic index J(K') guarantees ISIs 0..K'-1 are solvable.
  if (!plan) return nullptr;
  auto shared = std::make_shared<const Plan>(std::move(*plan));
  std::lock_guard lock(mu);
  return cache.emplace(p.k_prime, std::move(shared)).first->second;
}

IntermediateSymbols CollectIntermediate(const CodeParams& p, const Plan& plan,
                                        std::span<uint8_t* const> slots, size_t symbol_size) {
  RunPlan(plan, slots, symbol_size);
  IntermediateSymbols c;
  c.params = &p;
  c.symbol_size = symbol_size;
  c.bytes.resize(size_t{p.l} * symbol_size);
  for (uint32_t col = 0; col < p.l; ++col) {
    uint8_t* dst = c.bytes.data() + size_t{col} * symbol_size;
    if (plan.column_zero[col]) {
      std::memset(dst, 0, symbol_size);
    } else {
      std::memcpy(dst, slots[plan.column_slot[col]], symbol_size);
    }
  }
  return c;
}

void LtSymbol(const IntermediateSymbols& c, uint32_t isi, uint8_t* out) {
  thread_local std::vector<uint32_t> cols;
  cols.clear();
  AppendLtColumns(*c.params, isi, cols);
  std::memcpy(out, c.Column(cols[0]), c.symbol_size);
  for (size_t i = 1; i < cols.size(); ++i) XorInto(out, c.Column(cols[i]), c.symbol_size);
}

}  // namespace lcfs::fec
