#include "object_assembler.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "lcfs/fec/oti.h"
#include "lcfs/fec/payload_id.h"
#include "lcfs/index/chunking.h"
#include "lcfs/index/directory.h"

namespace lcfs::sync {
namespace {

// Symbols a decoder keeps per block beyond K (fec/decoder.cc): the pool is
// sized from the same figure.
constexpr uint64_t kExtraPerBlock = 40;

}  // namespace

// One decoder: the symbols of one source announcing one OTI.
struct ObjectAssembler::Candidate {
  net::Ipv6Address source;
  std::array<uint8_t, net::kOtiSize> oti_bytes{};
  fec::Oti oti;
  std::optional<fec::ObjectDecoder> decoder;
  uint64_t symbols = 0;     // given to the current decoder
  uint64_t accepted = 0;    // given to any decoder of this candidate
  uint64_t created_at = 0;  // the assembler's packet count then
  uint32_t failures = 0;    // decodes that did not verify
  uint64_t charged = 0;     // decoder bytes charged to the budget
  uint64_t pool_charged = 0;
  bool keep = false;  // the pool keeps payloads (forgery suspected)
  std::optional<SymbolPool> pool;
};

uint64_t MaxObjectSize(ObjectKind kind) {
  return kind == ObjectKind::kDirectory ? index::kMaxDirectoryObjectSize : index::kMaxChunkSize;
}

ObjectAssembler::ObjectAssembler(const Hash& hash, ObjectKind kind, uint64_t expected_size,
                                 uint64_t max_size, DecoderBudget* budget)
    : hash_(hash),
      kind_(kind),
      expected_size_(expected_size),
      max_size_(max_size),
      budget_(budget) {
  if (expected_size_ != 0) {
    auto oti = fec::OtiForObject(expected_size_);
    if (oti.ok()) {
      has_expected_oti_ = true;
      expected_oti_ = oti->Encode();
    }
  }
}

ObjectAssembler::~ObjectAssembler() {
  for (size_t i = candidates_.size(); i > 0; --i) Drop(i - 1);
}

uint64_t ObjectAssembler::memory() const {
  uint64_t bytes = 0;
  for (const auto& c : candidates_) {
    if (c->decoder) bytes += c->oti.transfer_length;
    bytes += c->pool->memory();
  }
  return bytes;
}

void ObjectAssembler::Drop(size_t index) {
  Candidate& c = *candidates_[index];
  if (budget_ != nullptr) budget_->Release(c.charged + c.pool_charged);
  counters_.discarded += c.symbols;
  candidates_.erase(candidates_.begin() + static_cast<ptrdiff_t>(index));
}

// Frees a decoder slot for a new sender: the candidate that failed most, or
// with the smallest share of the packets since it was created; never one
// still on probation.
bool ObjectAssembler::MakeRoom() {
  size_t victim = SIZE_MAX;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    const Candidate& c = *candidates_[i];
    const uint64_t age = packets_ - c.created_at;
    if (age < kProbationPackets) continue;
    if (victim == SIZE_MAX) {
      victim = i;
      continue;
    }
    const Candidate& v = *candidates_[victim];
    if (c.failures != v.failures) {
      if (c.failures > v.failures) victim = i;
      continue;
    }
    // accepted / age, compared without division.
    const uint64_t v_age = packets_ - v.created_at;
    if (static_cast<unsigned __int128>(c.accepted) * v_age <
        static_cast<unsigned __int128>(v.accepted) * age)
      victim = i;
  }
  if (victim == SIZE_MAX) return false;
  Drop(victim);
  ++counters_.evicted;
  return true;
}

ObjectAssembler::Candidate* ObjectAssembler::FindOrCreate(const net::PacketView& packet,
                                                          const net::Ipv6Address& source) {
  for (auto& c : candidates_) {
    if (c->source == source && c->oti_bytes == packet.header.oti) return c.get();
  }
  auto oti = fec::Oti::Decode(packet.header.oti);
  if (!oti.ok()) return nullptr;
  const uint64_t f = oti->transfer_length;
  if (f > max_size_ || (expected_size_ != 0 && f != expected_size_)) return nullptr;
  if (candidates_.size() >= kMaxCandidates && !MakeRoom()) {
    ++counters_.over_budget;
    return nullptr;
  }
  // The first decoder of an object we know the size of is what the request
  // needs; every other one is charged.
  const uint64_t charge = has_expected_oti_ && candidates_.empty() ? 0 : f;
  if (charge != 0 && budget_ != nullptr && !budget_->TryCharge(charge)) {
    if (candidates_.empty() || !MakeRoom() || !budget_->TryCharge(charge)) {
      ++counters_.over_budget;
      return nullptr;
    }
  }
  auto c = std::make_unique<Candidate>();
  c->source = source;
  c->oti_bytes = packet.header.oti;
  c->oti = *oti;
  c->created_at = packets_;
  c->charged = budget_ != nullptr ? charge : 0;
  const uint64_t t = oti->symbol_size;
  const uint64_t needed = (f + t - 1) / t + kExtraPerBlock * oti->source_blocks;
  c->pool.emplace(oti->source_blocks, static_cast<size_t>(kPoolFactor * needed));
  candidates_.push_back(std::move(c));
  return candidates_.back().get();
}

void ObjectAssembler::Suspect(Candidate& c) { c.keep = true; }

bool ObjectAssembler::Add(const net::PacketView& packet, const net::Ipv6Address& source) {
  if (complete()) return true;
  ++packets_;
  if (has_expected_oti_ && packet.header.oti != expected_oti_) {
    // Not how the exporter sends an object of this size: refused before
    // anything is allocated for it.
    ++counters_.rejected;
    ++counters_.wrong_oti;
    return false;
  }
  auto id = fec::PayloadId::Decode(packet.header.payload_id);
  if (!id.ok()) {
    ++counters_.rejected;
    return false;
  }
  Candidate* c = FindOrCreate(packet, source);
  if (c == nullptr) {
    ++counters_.rejected;
    return false;
  }
  if (!c->decoder) {  // new, or reset after a failed verification
    auto decoder = fec::ObjectDecoder::Create(c->oti);
    if (!decoder.ok()) {
      ++counters_.rejected;
      return false;
    }
    c->decoder.emplace(std::move(decoder).value());
  }
  auto progress = c->decoder->Add(id->sbn, id->esi, packet.symbol);
  if (!progress.ok()) {  // SBN/ESI out of range for this OTI: not a symbol of it
    ++counters_.rejected;
    return false;
  }
  ++counters_.symbols;
  ++c->symbols;
  ++c->accepted;

  uint64_t freed = 0;
  const auto seen = c->pool->Add(id->sbn, id->esi, packet.symbol, c->keep, &freed);
  if (budget_ != nullptr) {
    // Keep the budget equal to what the pool holds; past the budget the
    // pool stops keeping payloads (decoding goes on without retries).
    const uint64_t held = c->pool->payload_bytes();
    if (held < c->pool_charged) {
      budget_->Release(c->pool_charged - held);
      c->pool_charged = held;
    } else if (held > c->pool_charged) {
      if (budget_->TryCharge(held - c->pool_charged)) {
        c->pool_charged = held;
      } else {
        c->pool->DropPayloads();
        budget_->Release(c->pool_charged);
        c->pool_charged = 0;
        c->keep = false;
      }
    }
  }
  (void)freed;
  if (seen == SymbolPool::Seen::kConflict) {
    ++counters_.conflicts;
    Suspect(*c);
  }
  if (*progress != fec::DecodeProgress::kComplete) return false;

  if (Verified(*c, c->decoder->TakeObject())) return true;
  // Garbage (forged symbols mixed in under this address): drop what this
  // decoder had, then try the pool's subsets before collecting afresh.
  ++counters_.verify_failures;
  ++c->failures;
  counters_.discarded += c->symbols;
  c->symbols = 0;
  c->decoder.reset();
  const bool had_pool = c->keep;
  Suspect(*c);
  return had_pool && Retry(*c);
}

bool ObjectAssembler::Retry(Candidate& c) {
  if (c.pool->payloads() == 0) return false;
  for (auto subset : SymbolPool::kAllSubsets) {
    auto decoder = fec::ObjectDecoder::Create(c.oti);
    if (!decoder.ok()) return false;
    if (!c.pool->Feed(subset, *decoder) || !decoder->complete()) continue;
    ++counters_.retries;
    if (Verified(c, decoder->TakeObject())) {
      ++counters_.recovered;
      return true;
    }
    ++counters_.verify_failures;
  }
  return false;
}

bool ObjectAssembler::Verified(Candidate& c, std::vector<uint8_t> bytes) {
  if (ObjectHash(kind_, bytes) != hash_) return false;
  const uint64_t t = c.oti.symbol_size;
  counters_.symbols_needed = (c.oti.transfer_length + t - 1) / t;
  c.symbols = 0;                                                // contributed
  for (size_t i = candidates_.size(); i > 0; --i) Drop(i - 1);  // frees the memory now
  verified_ = std::move(bytes);
  return true;
}

std::vector<uint8_t> ObjectAssembler::TakeObject() {
  std::vector<uint8_t> out = std::move(*verified_);
  verified_.emplace();  // stays complete, now empty
  return out;
}

}  // namespace lcfs::sync
