#include "fec/intermediate.h"

#include <cstring>
#include <deque>
#include <mutex>
#include <numeric>

#include "lcfs/fec/symbol_ops.h"

namespace lcfs::fec {

std::shared_ptr<const Plan> EncodingPlan(const CodeParams& p) {
  // A few plans suffice: an export's full chunks share one K', and a plan
  // for a large K' is megabytes. Oldest out first.
  constexpr size_t kCachedPlans = 8;
  static std::mutex mu;
  static std::deque<std::pair<uint32_t, std::shared_ptr<const Plan>>> cache;
  {
    std::lock_guard lock(mu);
    for (const auto& [k_prime, plan] : cache) {
      if (k_prime == p.k_prime) return plan;
    }
  }
  std::vector<uint32_t> isis(p.k_prime);
  std::iota(isis.begin(), isis.end(), 0u);
  std::optional<Plan> plan = BuildPlan(p, isis);
  // The systematic index J(K') guarantees ISIs 0..K'-1 are solvable.
  if (!plan) return nullptr;
  auto shared = std::make_shared<const Plan>(std::move(*plan));
  std::lock_guard lock(mu);
  cache.emplace_back(p.k_prime, shared);
  if (cache.size() > kCachedPlans) cache.pop_front();
  return shared;
}

namespace {

// Symbol sizes are at most 65535 bytes.
const uint8_t* ZeroSymbol() {
  static const std::vector<uint8_t> zero(65536, 0);
  return zero.data();
}

constexpr size_t kKeepScratch = 16u << 20;
thread_local std::vector<uint8_t> scratch;

}  // namespace

uint8_t* ScratchBuffer(size_t bytes) {
  if (scratch.size() < bytes) {
    scratch = std::vector<uint8_t>();
    scratch.resize(bytes);
  }
  return scratch.data();
}

void ReleaseScratch() {
  if (scratch.size() > kKeepScratch) scratch = std::vector<uint8_t>();
}

IntermediateSymbols Solve(const CodeParams& p, const Plan& plan, std::span<uint8_t* const> slots,
                          size_t symbol_size) {
  RunPlan(plan, slots, symbol_size);
  IntermediateSymbols c;
  c.params = &p;
  c.symbol_size = symbol_size;
  c.columns.resize(p.l);
  for (uint32_t col = 0; col < p.l; ++col) {
    c.columns[col] = plan.column_zero[col] ? ZeroSymbol() : slots[plan.column_slot[col]];
  }
  return c;
}

void IntermediateSymbols::Own() {
  owned.resize(columns.size() * symbol_size);
  for (size_t col = 0; col < columns.size(); ++col) {
    uint8_t* dst = owned.data() + col * symbol_size;
    std::memcpy(dst, columns[col], symbol_size);
    columns[col] = dst;
  }
}

void LtSymbol(const IntermediateSymbols& c, uint32_t isi, uint8_t* out) {
  thread_local std::vector<uint32_t> cols;
  cols.clear();
  AppendLtColumns(*c.params, isi, cols);
  std::memcpy(out, c.Column(cols[0]), c.symbol_size);
  for (size_t i = 1; i < cols.size(); ++i) XorInto(out, c.Column(cols[i]), c.symbol_size);
}

}  // namespace lcfs::fec
