#include "lcfs/fec/decoder.h"

#include <cstring>
#include <unordered_set>

#include "fec/intermediate.h"
#include "fec/layout.h"
#include "lcfs/fec/payload_id.h"

namespace lcfs::fec {
namespace {

// Objects larger than this are refused: the decoder holds the whole object.
constexpr uint64_t kMaxDecodedObject = uint64_t{1} << 30;
// Symbols kept per block beyond K'. With K'+20 the chance that decoding
// still fails is far below 1e-20 (RFC 6330 section 5.6), so more only costs
// memory.
constexpr uint32_t kExtraSymbols = 40;

struct PendingBlock {
  bool done = false;
  uint32_t source_received = 0;
  std::vector<uint32_t> esis;  // distinct, in arrival order
  // Repair symbols only, in arrival order; source symbols go straight into
  // the object and are read back from there when decoding.
  std::vector<uint8_t> repair;
  std::unordered_set<uint32_t> seen;
};

}  // namespace

struct ObjectDecoder::Impl {
  // Every byte of `object` is written (a source symbol scattered, or a
  // decoded one) before it is read, so a pool's buffer needs no zero-fill.
  Impl(const Oti& o, BufferPool* pool)
      : oti(o),
        layout(o),
        buffers(pool),
        object(pool != nullptr ? pool->Take(o.transfer_length)
                               : std::vector<uint8_t>(o.transfer_length, 0)) {
    blocks.resize(layout.block_count());
  }
  ~Impl() {
    if (buffers != nullptr && !object.empty()) buffers->Give(std::move(object));
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // Tries to recover block `sbn` from what it holds; true on success.
  bool TryDecode(uint32_t sbn) {
    PendingBlock& b = blocks[sbn];
    const CodeParams& p = layout.Params(sbn);
    const uint32_t k = layout.SourceSymbols(sbn);
    const size_t t = layout.symbol_size();
    const uint32_t padding = p.k_prime - k;
    std::vector<uint32_t> isis;
    isis.reserve(b.esis.size() + padding);
    for (uint32_t esi : b.esis) isis.push_back(esi < k ? esi : esi + padding);
    for (uint32_t i = k; i < p.k_prime; ++i) isis.push_back(i);
    std::optional<Plan> plan = BuildPlan(p, isis);
    if (!plan) return false;

    // Received repair symbols are their LT rows' slots (modified in place);
    // source symbols are copied out of the object; padding rows are zero.
    const uint32_t n_recv = static_cast<uint32_t>(b.esis.size());
    const uint32_t n_repair = static_cast<uint32_t>(b.repair.size() / t);
    const uint32_t first_lt = p.s + p.h;
    std::vector<uint8_t*> slots(plan->slot_count);
    uint8_t* scratch = ScratchBuffer(size_t{plan->slot_count - n_repair} * t);
    size_t next = 0, next_repair = 0;
    for (uint32_t s = 0; s < plan->slot_count; ++s) {
      if (s >= first_lt && s < first_lt + n_recv && b.esis[s - first_lt] >= k) {
        slots[s] = b.repair.data() + (next_repair++) * t;
      } else {
        slots[s] = scratch + (next++) * t;
        if (s >= first_lt && s < first_lt + n_recv) {
          layout.Gather(object.data(), sbn, b.esis[s - first_lt], slots[s]);
        }
      }
    }
    for (uint32_t i = 0; i < padding; ++i) std::memset(slots[first_lt + n_recv + i], 0, t);
    IntermediateSymbols c = fec::Solve(p, *plan, slots, t);

    std::vector<uint8_t> have(k, 0);
    for (uint32_t esi : b.esis) {
      if (esi < k) have[esi] = 1;
    }
    std::vector<uint8_t> symbol(t);
    for (uint32_t i = 0; i < k; ++i) {
      if (have[i]) continue;
      LtSymbol(c, i, symbol.data());
      layout.Scatter(object.data(), sbn, i, symbol.data());
    }
    ReleaseScratch();
    Finish(sbn);
    return true;
  }

  void Finish(uint32_t sbn) {
    PendingBlock& b = blocks[sbn];
    b = PendingBlock();
    b.done = true;
    ++done_count;
  }

  Oti oti;
  ObjectLayout layout;
  BufferPool* buffers;  // where `object` came from and goes back, or null
  std::vector<uint8_t> object;
  std::vector<PendingBlock> blocks;
  uint32_t done_count = 0;
};

ObjectDecoder::ObjectDecoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ObjectDecoder::ObjectDecoder(ObjectDecoder&&) noexcept = default;
ObjectDecoder& ObjectDecoder::operator=(ObjectDecoder&&) noexcept = default;
ObjectDecoder::~ObjectDecoder() = default;

Result<ObjectDecoder> ObjectDecoder::Create(const Oti& oti, BufferPool* buffers) {
  LCFS_RETURN_IF_ERROR(oti.Validate());
  if (oti.transfer_length > kMaxDecodedObject) {
    return Status::Error(EFBIG, "fec decode: object of " + std::to_string(oti.transfer_length) +
                                    " bytes is larger than the decoder accepts");
  }
  return ObjectDecoder(std::make_unique<Impl>(oti, buffers));
}

const Oti& ObjectDecoder::oti() const { return impl_->oti; }

Result<DecodeProgress> ObjectDecoder::Add(uint8_t sbn, uint32_t esi,
                                          std::span<const uint8_t> symbol) {
  Impl& d = *impl_;
  if (sbn >= d.layout.block_count()) {
    return Status::Error(EINVAL, "fec decode: source block " + std::to_string(sbn) + " of " +
                                     std::to_string(d.layout.block_count()));
  }
  if (esi > kMaxEsi) return Status::Error(EINVAL, "fec decode: ESI beyond 2^24-1");
  const size_t t = d.layout.symbol_size();
  if (symbol.size() != t) {
    return Status::Error(EINVAL, "fec decode: symbol of " + std::to_string(symbol.size()) +
                                     " bytes, want " + std::to_string(t));
  }
  auto progress = [&] {
    return d.done_count == d.layout.block_count() ? DecodeProgress::kComplete
                                                  : DecodeProgress::kNeedMore;
  };
  PendingBlock& b = d.blocks[sbn];
  const CodeParams& p = d.layout.Params(sbn);
  const uint32_t k = d.layout.SourceSymbols(sbn);
  if (b.done || b.esis.size() >= p.k_prime + kExtraSymbols || !b.seen.insert(esi).second) {
    return progress();
  }
  if (esi < k) {
    d.layout.Scatter(d.object.data(), sbn, esi, symbol.data());
    if (++b.source_received == k) {
      d.Finish(sbn);
      return progress();
    }
  }
  b.esis.push_back(esi);
  if (esi >= k && b.repair.empty()) b.repair.reserve(size_t{k} * t);
  if (esi >= k) b.repair.insert(b.repair.end(), symbol.begin(), symbol.end());
  if (b.esis.size() >= k) d.TryDecode(sbn);
  return progress();
}

bool ObjectDecoder::complete() const { return impl_->done_count == impl_->layout.block_count(); }

bool ObjectDecoder::BlockComplete(uint8_t sbn) const {
  return sbn < impl_->blocks.size() && impl_->blocks[sbn].done;
}

uint32_t ObjectDecoder::PendingSymbols(uint8_t sbn) const {
  return sbn < impl_->blocks.size() ? static_cast<uint32_t>(impl_->blocks[sbn].esis.size()) : 0;
}

std::span<const uint8_t> ObjectDecoder::object() const { return impl_->object; }

std::vector<uint8_t> ObjectDecoder::TakeObject() { return std::move(impl_->object); }

}  // namespace lcfs::fec
