#include "lcfs/fec/encoder.h"

#include <cstring>
#include <mutex>

#include "fec/intermediate.h"
#include "fec/layout.h"
#include "lcfs/fec/payload_id.h"

namespace lcfs::fec {

struct ObjectEncoder::Impl {
  Impl(const Oti& o, std::vector<uint8_t> own, std::span<const uint8_t> obj)
      : oti(o), layout(o), owned(std::move(own)), object(owned.empty() ? obj : owned) {
    solved.resize(layout.block_count());
  }

  Result<std::shared_ptr<const IntermediateSymbols>> Solve(uint32_t sbn) {
    std::lock_guard lock(mu);
    if (solved[sbn]) return solved[sbn];
    const CodeParams& p = layout.Params(sbn);
    std::shared_ptr<const Plan> plan = EncodingPlan(p);
    if (!plan) {
      return Status::Error(EIO, "fec encode: no solution for K'=" + std::to_string(p.k_prime));
    }
    const size_t t = layout.symbol_size();
    const uint32_t k = layout.SourceSymbols(sbn);
    uint8_t* work = ScratchBuffer(size_t{plan->slot_count} * t);
    std::vector<uint8_t*> slots(plan->slot_count);
    for (uint32_t s = 0; s < plan->slot_count; ++s) slots[s] = work + size_t{s} * t;
    const uint32_t first_lt = p.s + p.h;
    for (uint32_t i = 0; i < p.k_prime; ++i) {
      if (i < k) {
        layout.Gather(object.data(), sbn, i, slots[first_lt + i]);
      } else {
        std::memset(slots[first_lt + i], 0, t);  // padding symbols
      }
    }
    IntermediateSymbols c = fec::Solve(p, *plan, slots, t);
    c.Own();
    ReleaseScratch();
    solved[sbn] = std::make_shared<const IntermediateSymbols>(std::move(c));
    return solved[sbn];
  }

  Oti oti;
  ObjectLayout layout;
  std::vector<uint8_t> owned;
  std::span<const uint8_t> object;
  std::mutex mu;
  std::vector<std::shared_ptr<const IntermediateSymbols>> solved;
};

ObjectEncoder::ObjectEncoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ObjectEncoder::ObjectEncoder(ObjectEncoder&&) noexcept = default;
ObjectEncoder& ObjectEncoder::operator=(ObjectEncoder&&) noexcept = default;
ObjectEncoder::~ObjectEncoder() = default;

Result<ObjectEncoder> ObjectEncoder::Create(const Oti& oti, std::span<const uint8_t> object) {
  LCFS_RETURN_IF_ERROR(oti.Validate());
  if (object.size() != oti.transfer_length) {
    return Status::Error(EINVAL, "fec encode: object is " + std::to_string(object.size()) +
                                     " bytes, OTI says " + std::to_string(oti.transfer_length));
  }
  return ObjectEncoder(std::make_unique<Impl>(oti, std::vector<uint8_t>(), object));
}

Result<ObjectEncoder> ObjectEncoder::CreateOwned(const Oti& oti, std::vector<uint8_t> object) {
  LCFS_RETURN_IF_ERROR(oti.Validate());
  if (object.size() != oti.transfer_length) {
    return Status::Error(EINVAL, "fec encode: object is " + std::to_string(object.size()) +
                                     " bytes, OTI says " + std::to_string(oti.transfer_length));
  }
  std::span<const uint8_t> none;
  return ObjectEncoder(std::make_unique<Impl>(oti, std::move(object), none));
}

const Oti& ObjectEncoder::oti() const { return impl_->oti; }
uint32_t ObjectEncoder::block_count() const { return impl_->layout.block_count(); }
uint32_t ObjectEncoder::SourceSymbols(uint8_t sbn) const {
  return sbn < block_count() ? impl_->layout.SourceSymbols(sbn) : 0;
}

Status ObjectEncoder::Symbol(uint8_t sbn, uint32_t esi, std::span<uint8_t> out) {
  if (sbn >= block_count()) {
    return Status::Error(EINVAL, "fec encode: source block " + std::to_string(sbn) + " of " +
                                     std::to_string(block_count()));
  }
  if (esi > kMaxEsi) return Status::Error(EINVAL, "fec encode: ESI beyond 2^24-1");
  if (out.size() != impl_->layout.symbol_size()) {
    return Status::Error(EINVAL, "fec encode: output buffer is not one symbol");
  }
  const uint32_t k = impl_->layout.SourceSymbols(sbn);
  if (esi < k) {
    impl_->layout.Gather(impl_->object.data(), sbn, esi, out.data());
    return Status::Ok();
  }
  auto c = impl_->Solve(sbn);
  if (!c.ok()) return c.status();
  const CodeParams& p = impl_->layout.Params(sbn);
  LtSymbol(**c, esi + (p.k_prime - k), out.data());
  return Status::Ok();
}

Status ObjectEncoder::Prepare(uint8_t sbn) {
  if (sbn >= block_count()) return Status::Error(EINVAL, "fec encode: no such source block");
  return impl_->Solve(sbn).status();
}

void ObjectEncoder::Release(uint8_t sbn) {
  std::lock_guard lock(impl_->mu);
  if (sbn < block_count()) impl_->solved[sbn].reset();
}

}  // namespace lcfs::fec
